/**
 * A StorageClass whose provisioner never binds (issue 15, defect 6), on the real control plane with
 * the real Helm 3 and 4: the default StorageClass names a provisioner nothing runs, so Redis's
 * claims stay Pending and its pods never start. Without the claim watch, the Redis step sat out
 * helm's whole 10-minute wait; now it fails once a claim has had no provisioner act on it for
 * CLAIM_GRACE_MS, with the volume controller's own event and the fix.
 *
 * A control plane of this file's own: a default StorageClass is cluster-wide.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {runCli} from '../helpers/cli.js'
import {type HelmMajor, helmBinary, runHelm} from '../helpers/helm.js'
import {adminRequest} from './control-plane.js'
import {useCluster} from './harness.js'

const cluster = useCluster(import.meta.url, {dedicated: true, namespace: false})
const PROVISIONER = 'example.com/nobody-runs-this'

let repo: ChartRepo
let home: string
beforeAll(async () => {
  repo = await startChartRepo({charts: ['keda', 'redisHa'], kedaMetricsApiService: false})
  home = mkdtempSync(join(tmpdir(), 'keda-lab-claims-'))
  const sc = await adminRequest(cluster.kubeconfig, 'POST', '/apis/storage.k8s.io/v1/storageclasses', {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: {name: 'lab-nobody', annotations: {'storageclass.kubernetes.io/is-default-class': 'true'}},
    provisioner: PROVISIONER,
    volumeBindingMode: 'Immediate',
  })
  if (sc.status !== 201) throw new Error(`creating the StorageClass failed: ${sc.status} ${sc.body.slice(0, 300)}`)
}, 300_000)
afterAll(async () => {
  await repo?.close()
  if (home) rmSync(home, {recursive: true, force: true})
})

describe.each([3, 4] as HelmMajor[])('Redis persistence on a StorageClass nothing provisions, with Helm %i', (major) => {
  const ns = `claims-h${major}`
  it('the Redis step fails early with the claim, the volume controller’s reason and the fix', async () => {
    const env: NodeJS.ProcessEnv = {
      KUBECONFIG: cluster.kubeconfig,
      PATH: `${join(helmBinary(major), '..')}:${process.env.PATH}`,
      HELM_CONFIG_HOME: join(home, `h${major}`, 'config'),
      HELM_CACHE_HOME: join(home, `h${major}`, 'cache'),
      HELM_DATA_HOME: join(home, `h${major}`, 'data'),
      KEDA_LAB_CHART_REPO: repo.chartRepoEnv(),
    }
    const args = ['install', '--yes', '-n', ns, '--no-monitoring', '--no-webhook', '--image', 'ghcr.io/keda-lab/keda-lab:test']
    // Well inside helm's own 10-minute wait for Redis: only the claim watch can end the step in time.
    const r = await runCli([...args, '--output', join(home, `h${major}`, 'out')], {env, timeoutMs: 420_000})
    const out = `${r.stdout}\n${r.stderr}`
    expect(r.code, out).toBe(1)
    expect(r.stderr).toContain('Error: step "Redis with Sentinels')
    expect(r.stderr).toMatch(
      new RegExp(
        `PersistentVolumeClaim ${ns}/data-redis-ha-server-0 \\(StorageClass lab-nobody\\) is still Pending after \\d+ s and no provisioner has acted on it \\(ExternalProvisioning: [^)]*${PROVISIONER.replaceAll('.', '\\.')}`,
      ),
    )
    expect(r.stderr).toContain('Fix: install with --no-redis-persistence')
    // Helm cancelled its wait: the release is not left pending (a rerun can proceed).
    const list = await runHelm(major, [
      'list',
      '-n',
      ns,
      '--deployed',
      '--failed',
      '--pending',
      '--uninstalling',
      '--output',
      'json',
      '--kubeconfig',
      cluster.kubeconfig,
    ])
    expect(list.exitCode, list.stderr).toBe(0)
    const redis = (JSON.parse(list.stdout) as {name: string; status: string}[]).find((x) => x.name === 'redis-ha')
    expect(redis?.status ?? 'gone', list.stdout).not.toMatch(/^pending/)
  }, 480_000)
})
