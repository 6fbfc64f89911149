/**
 * CRDs installed before keda-lab recorded on each CRD the release that brought it (issue 15 §1.1):
 * a lab installed then carries CRDs with neither keda-lab's record nor Helm's annotations. Here such
 * a lab is made as it was — KEDA's release installed by plain `helm install` (the real Helm 3, then
 * the real Helm 4) of the KEDA stand-in, whose crds/ folder holds KEDA's real CRDs — and
 * `keda-lab uninstall`, `doctor` and `uninstall --purge` must still find those CRDs, from Helm's own
 * release record, while leaving alone a CRD of the chart that existed before the release (someone
 * else's: Helm skipped it).
 *
 * A control plane of this file's own: CRDs are cluster-wide, and --purge deletes them.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CHARTS} from '../../src/lab/charts.js'
import {CRD_RELEASE_ANNOTATION} from '../../src/lab/crd-records.js'
import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {runCli} from '../helpers/cli.js'
import {type HelmMajor, helmBinary, runHelm} from '../helpers/helm.js'
import {applyCrds, type CrdObject, deleteCrds, kedaCrds} from './crds.js'
import {useCluster} from './harness.js'
import {getJson, listNames} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {dedicated: true, namespace: false})

let repo: ChartRepo
let home: string
let crds: CrdObject[]
beforeAll(async () => {
  repo = await startChartRepo({charts: ['keda'], kedaMetricsApiService: false})
  home = mkdtempSync(join(tmpdir(), 'keda-lab-crds-before-'))
  crds = await kedaCrds()
}, 180_000)
afterAll(async () => {
  await repo?.close()
  if (home) rmSync(home, {recursive: true, force: true})
})

const kedaCrdNames = async () =>
  (await listNames(cluster.kubeconfig, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions')).filter((n) => n.endsWith('keda.sh'))

interface CrdState {
  metadata: {deletionTimestamp?: string; finalizers?: string[]}
  status?: {conditions?: {type: string; status: string; reason?: string; message?: string}[]}
}

/** One CRD's deletion as the API server reports it: when it was asked, what holds it, the finalizer's word. */
const crdDeletionState = async (name: string): Promise<string> => {
  const crd = await getJson<CrdState>(cluster.kubeconfig, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`)
  if (!crd) return `${name} (gone)`
  const terminating = crd.status?.conditions?.find((c) => c.type === 'Terminating')
  const said = terminating ? `Terminating=${terminating.status} ${terminating.reason}: ${terminating.message}` : 'no Terminating condition'
  return `${name} (deletionTimestamp ${crd.metadata.deletionTimestamp ?? 'none'}, finalizers [${(crd.metadata.finalizers ?? []).join(', ')}], ${said})`
}

interface Check {
  id: string
  status: string
  detail?: string
}

describe.each([3, 4] as HelmMajor[])('CRDs of a lab installed before the records, with Helm %i', (major) => {
  const ns = `old-h${major}`
  const mon = `old-mon-h${major}`
  const env = (): NodeJS.ProcessEnv => ({
    KUBECONFIG: cluster.kubeconfig,
    PATH: `${join(helmBinary(major), '..')}:${process.env.PATH}`,
    HELM_CONFIG_HOME: join(home, `h${major}`, 'config'),
    HELM_CACHE_HOME: join(home, `h${major}`, 'cache'),
    HELM_DATA_HOME: join(home, `h${major}`, 'data'),
  })
  const doctorLeftovers = async () => {
    const r = await runCli(['doctor', '-n', ns, '--monitoring-namespace', mon, '--json'], {env: env(), timeoutMs: 180_000})
    return (JSON.parse(r.stdout) as {checks: Check[]}).checks.find((c) => c.id === 'leftovers')
  }
  // Someone else's: it was there before the release, so Helm skipped it.
  const foreign = () => crds[0]!.metadata.name
  const ours = () =>
    crds
      .map((c) => c.metadata.name)
      .filter((n) => n !== foreign())
      .sort()

  it('the lab as an older keda-lab left it: KEDA’s CRDs without any record', async () => {
    await applyCrds(cluster.kubeconfig, [crds[0]!])
    const helm = await runHelm(
      major,
      [
        'install',
        'keda',
        'keda',
        '--repo',
        repo.repoUrl('kedacore'),
        '--version',
        CHARTS.keda.version,
        '-n',
        ns,
        '--create-namespace',
        '--kubeconfig',
        cluster.kubeconfig,
      ],
      180_000,
    )
    expect(helm.exitCode, helm.stderr).toBe(0)
    expect(await kedaCrdNames()).toEqual([foreign(), ...ours()].sort())
    for (const name of await kedaCrdNames()) {
      const crd = await getJson<{metadata: {annotations?: Record<string, string>}}>(
        cluster.kubeconfig,
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
      )
      expect(crd?.metadata.annotations?.[CRD_RELEASE_ANNOTATION], name).toBeUndefined()
    }
  }, 240_000)

  if (major === 3) {
    it('a default uninstall records them from Helm’s release record and reports them; doctor names them afterwards', async () => {
      const r = await runCli(['uninstall', '--yes', '-n', ns, '--monitoring-namespace', mon], {env: env(), timeoutMs: 600_000})
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
      expect(r.stdout).toContain('Recording which release brought')
      expect(r.stdout).toContain('‼ Cluster-scoped leftovers of the removed releases')
      for (const name of ours()) expect(r.stdout).toContain(`CustomResourceDefinition ${name} (from keda)`)
      expect(r.stdout).not.toContain(`CustomResourceDefinition ${foreign()} `)
      // The release and its Helm record are gone: doctor knows them from keda-lab's record now.
      expect(await runHelm(major, ['status', 'keda', '-n', ns, '--kubeconfig', cluster.kubeconfig]).then((h) => h.exitCode)).not.toBe(0)
      const leftovers = await doctorLeftovers()
      expect(leftovers).toMatchObject({status: 'fail'})
      for (const name of ours()) expect(leftovers?.detail).toContain(`CustomResourceDefinition ${name} (from keda)`)
      expect(leftovers?.detail).not.toContain(`CustomResourceDefinition ${foreign()} `)
    }, 900_000)
  }

  it('uninstall --purge deletes the CRDs the release brought, and only those', async () => {
    const r = await runCli(['uninstall', '--yes', '--purge', '-n', ns, '--monitoring-namespace', mon], {env: env(), timeoutMs: 600_000})
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    for (const name of ours()) expect(r.stdout).toContain(`CustomResourceDefinition ${name}`)
    expect(r.stdout).not.toContain(`CustomResourceDefinition ${foreign()}`)
    // uninstall --purge waits until the CRDs it deleted are gone (their objects go first).
    const left = await kedaCrdNames()
    expect(left.length === 1 ? left : await Promise.all(left.map(crdDeletionState))).toEqual([foreign()])
    expect(await doctorLeftovers()).toMatchObject({status: 'pass', detail: 'none (no keda-lab release is installed)'})
    // The next Helm major starts from a cluster without KEDA's CRDs.
    await deleteCrds(cluster.kubeconfig, [foreign()])
    expect(await kedaCrdNames()).toEqual([])
  }, 900_000)
})
