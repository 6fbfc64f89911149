/**
 * Where the lab's PersistentVolumeClaims go, on the real control plane with the real Helm 3 and 4
 * (issue 15: defect 6 and `install --storage-class`). The cluster's default StorageClass names a
 * provisioner nothing runs; a second class has static PersistentVolumes that the real volume
 * controller (kube-controller-manager) binds.
 * - `--storage-class` naming a class that does not exist: pre-flight stops, naming the classes there are.
 * - `--storage-class` naming the class that binds: Redis's and Loki's claims are made in it and bound.
 * - the default class: the Redis step fails early (the claim watch) with the volume controller's own
 *   event and the fix (`--storage-class NAME`), instead of sitting out helm's 10-minute wait.
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
import {freePort, notYet, waitFor} from '../helpers/processes.js'
import {adminRequest} from './control-plane.js'
import {useCluster} from './harness.js'
import {getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {dedicated: true, namespace: false})
const PROVISIONER = 'example.com/nobody-runs-this'
/** The class with static volumes: `kubernetes.io/no-provisioner`, bound by the volume controller. */
const STATIC = 'lab-static'

const post = async (path: string, body: unknown) => {
  const res = await adminRequest(cluster.kubeconfig, 'POST', path, body)
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${res.body.slice(0, 300)}`)
}

/**
 * A static volume of the class that binds (hostPath: nothing ever mounts it on kwok), reserved for
 * one claim (claimRef) so that each Helm major's claims get their own.
 */
const volume = (name: string, size: string, claim: {namespace: string; name: string}) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: {name},
  spec: {
    claimRef: claim,
    capacity: {storage: size},
    accessModes: ['ReadWriteOnce'],
    persistentVolumeReclaimPolicy: 'Retain',
    storageClassName: STATIC,
    hostPath: {path: `/tmp/keda-lab-test-volumes/${name}`},
  },
})

let repo: ChartRepo
let home: string
const closedRegistry = `http://127.0.0.1:${await freePort()}`
beforeAll(async () => {
  repo = await startChartRepo({kedaMetricsApiService: false})
  home = mkdtempSync(join(tmpdir(), 'keda-lab-claims-'))
  await post('/apis/storage.k8s.io/v1/storageclasses', {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: {name: 'lab-nobody', annotations: {'storageclass.kubernetes.io/is-default-class': 'true'}},
    provisioner: PROVISIONER,
    volumeBindingMode: 'Immediate',
  })
  await post('/apis/storage.k8s.io/v1/storageclasses', {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: {name: STATIC},
    provisioner: 'kubernetes.io/no-provisioner',
    volumeBindingMode: 'Immediate',
  })
  // Per Helm major: three Redis volumes (1Gi each, templates/values/redis-ha.yaml) and Loki's (5Gi).
  for (const major of [3, 4]) {
    for (const i of [0, 1, 2])
      await post('/api/v1/persistentvolumes', volume(`redis-h${major}-${i}`, '1Gi', {namespace: `bound-h${major}`, name: `data-redis-ha-server-${i}`}))
    await post('/api/v1/persistentvolumes', volume(`loki-h${major}`, '5Gi', {namespace: `bound-mon-h${major}`, name: 'storage-loki-0'}))
  }
}, 300_000)
afterAll(async () => {
  await repo?.close()
  if (home) rmSync(home, {recursive: true, force: true})
})

interface Claim {
  metadata: {name: string}
  spec: {storageClassName?: string; volumeName?: string}
  status: {phase: string}
}

describe.each([3, 4] as HelmMajor[])('the PersistentVolumeClaims of the lab, with Helm %i', (major) => {
  const env = (): NodeJS.ProcessEnv => ({
    KUBECONFIG: cluster.kubeconfig,
    PATH: `${join(helmBinary(major), '..')}:${process.env.PATH}`,
    HELM_CONFIG_HOME: join(home, `h${major}`, 'config'),
    HELM_CACHE_HOME: join(home, `h${major}`, 'cache'),
    HELM_DATA_HOME: join(home, `h${major}`, 'data'),
    KEDA_LAB_CHART_REPO: repo.chartRepoEnv(),
    // The image check asks a closed loopback port (a warning), never the real registry of --image.
    KEDA_LAB_REGISTRY_MIRROR: closedRegistry,
  })
  const args = (ns: string, mon: string) => [
    'install',
    '--yes',
    '-n',
    ns,
    '--monitoring-namespace',
    mon,
    '--no-webhook',
    '--image',
    'ghcr.io/keda-lab/keda-lab:test',
    '--output',
    join(home, `h${major}`, ns),
  ]

  it('--storage-class naming a class that does not exist: pre-flight stops, naming the classes there are, before anything changes', async () => {
    const ns = `missing-h${major}`
    const r = await runCli([...args(ns, `${ns}-mon`), '--no-monitoring', '--storage-class', 'lab-gold'], {env: env(), timeoutMs: 180_000})
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1)
    expect(r.stdout).toContain(
      `× StorageClass (Redis and Loki persistence): StorageClass lab-gold does not exist; the cluster has lab-nobody (${PROVISIONER}, default), ${STATIC} (kubernetes.io/no-provisioner)`,
    )
    expect(r.stderr).toContain('Fix: pass one of those with --storage-class NAME')
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns}`)).toBeUndefined()
  }, 240_000)

  it('--storage-class naming a class that binds: Redis’s and Loki’s claims are made in it, bound, and the plan said so', async () => {
    const ns = `bound-h${major}`
    const mon = `bound-mon-h${major}`
    const r = await runCli([...args(ns, mon), '--storage-class', STATIC], {env: env(), timeoutMs: 900_000})
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    expect(r.stdout).toContain(`√ StorageClass (Redis and Loki persistence): ${STATIC} (kubernetes.io/no-provisioner), asked with --storage-class`)
    expect(r.stdout).toContain(`persistence on: AOF on a PersistentVolume per replica, StorageClass ${STATIC} (--storage-class)`)
    expect(r.stdout).toContain(`Loki's chunks on a PersistentVolume, StorageClass ${STATIC} (--storage-class)`)
    const claims = async (namespace: string) =>
      ((await getJson<{items: Claim[]}>(cluster.kubeconfig, `/api/v1/namespaces/${namespace}/persistentvolumeclaims`))?.items ?? []).sort((a, b) =>
        a.metadata.name.localeCompare(b.metadata.name),
      )
    // The volume controller binds them (helm waited for the pods, which needed them bound).
    await waitFor(
      async () => {
        const all = [...(await claims(ns)), ...(await claims(mon))]
        return all.length === 4 && all.every((c) => c.status.phase === 'Bound')
          ? true
          : notYet(all.map((c) => `${c.metadata.name}:${c.status.phase}`).join(' '))
      },
      {timeoutMs: 60_000, what: 'the four claims to be Bound'},
    )
    const redis = await claims(ns)
    expect(redis.map((c) => [c.metadata.name, c.spec.storageClassName])).toEqual([0, 1, 2].map((i) => [`data-redis-ha-server-${i}`, STATIC]))
    expect(redis.map((c) => c.spec.volumeName).sort()).toEqual([0, 1, 2].map((i) => `redis-h${major}-${i}`))
    const loki = await claims(mon)
    expect(loki.map((c) => [c.metadata.name, c.spec.storageClassName, c.spec.volumeName])).toEqual([['storage-loki-0', STATIC, `loki-h${major}`]])
  }, 960_000)

  it('the default class nobody provisions: the Redis step fails early with the claim, the volume controller’s reason and the fix', async () => {
    const ns = `claims-h${major}`
    // Well inside helm's own 10-minute wait for Redis: only the claim watch can end the step in time.
    const r = await runCli([...args(ns, `${ns}-mon`), '--no-monitoring'], {env: env(), timeoutMs: 420_000})
    const out = `${r.stdout}\n${r.stderr}`
    expect(r.code, out).toBe(1)
    expect(r.stderr).toContain('Error: step "Redis with Sentinels')
    expect(r.stderr).toMatch(
      new RegExp(
        `PersistentVolumeClaim ${ns}/data-redis-ha-server-0 \\(StorageClass lab-nobody\\) is still Pending after \\d+ s and no provisioner has acted on it \\(ExternalProvisioning: [^)]*${PROVISIONER.replaceAll('.', '\\.')}`,
      ),
    )
    expect(r.stderr).toContain('Fix: install with --storage-class NAME, naming a StorageClass whose provisioner runs in this cluster')
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
