/**
 * `keda-lab uninstall` of an installed lab whose ScaledObject carries the finalizer the REAL KEDA
 * operator put on it, on the real control plane (issue 15 §2: the KEDA finalizer case and the
 * `--purge --json` case of test/e2e/uninstall-cli.test.ts, moved off the fake API).
 *
 * - The app release `keda-lab` is installed by real Helm with install's own values and Secret
 *   (keda.ts's startKedaLab); the KEDA operator (built from KEDA's Go module) runs on the host,
 *   watching the namespace, against a real redis-server, and adds `finalizer.keda.sh` itself.
 * - A `keda` release stands for KEDA's Helm release, so that uninstall knows KEDA is still to go
 *   (the operator itself is a host process, not this release's pod: a small chart written here).
 * - `helm uninstall keda-lab` deletes the ScaledObject; the real operator finalizes it. Uninstall must
 *   wait for that before it removes the `keda` release. The operator would usually win that race even
 *   if uninstall did not wait, so it is paused (SIGSTOP) for the uninstall: the ScaledObject stays
 *   Terminating with KEDA's finalizer, and for HOLD_MS after `helm uninstall keda-lab` is done the
 *   `keda` release must still be there; then the operator is resumed. The API server's own
 *   resourceVersions (one etcd revision sequence) show the ScaledObject finalized only after the
 *   resume, and before the `keda` release record was deleted.
 * - Redis's PVC (kept, then deleted with --purge) and the cluster-scoped leftovers (a CRD with the
 *   record install writes, a hook-made ClusterRoleBinding) are real objects on the real API server;
 *   another team's ClusterRole is never touched.
 *
 * A control plane of this file's own: KEDA's CRDs and the leftovers are cluster-wide.
 */
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {InstallAnswers} from '../../src/lab/install/options.js'
import {type CliResult, runCli} from '../helpers/cli.js'
import {type HelmMajor, helmBinary, runHelm} from '../helpers/helm.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {notYet, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {adminRequest} from './control-plane.js'
import {createNamespace, useCluster} from './harness.js'
import {installApp, type KedaLab, startKedaLab} from './keda.js'
import {getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {dedicated: true})
const answers: InstallAnswers = {...sampleAnswers, webhook: false, monitoring: false}
const SO = 'keda-lab-worker'
const PVC = 'data-redis-ha-server-0'
const ns = () => cluster.namespace
const mon = () => `${cluster.namespace}-mon`

let redis: RedisServer
let redisPassword: string
let workDir: string
let lab: KedaLab | undefined

const must = async (method: string, path: string, body?: unknown) => {
  const res = await adminRequest(cluster.kubeconfig, method, path, body)
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`)
  return res
}
const kedaOutput = () => lab?.output() ?? '\n(KEDA not started)'

/** KEDA's Helm release, as far as uninstall sees it: a release named keda in the app namespace. */
function writeKedaReleaseChart(dir: string): string {
  const chart = join(dir, 'keda-release')
  mkdirSync(join(chart, 'templates'), {recursive: true})
  writeFileSync(
    join(chart, 'Chart.yaml'),
    "apiVersion: v2\nname: keda\nversion: 2.20.2\ndescription: Test stand-in for the record of KEDA's Helm release; the real KEDA operator runs on the host\n",
  )
  writeFileSync(join(chart, 'templates', 'serviceaccount.yaml'), 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: keda-operator\n')
  return chart
}

const env = (helm: HelmMajor): NodeJS.ProcessEnv => ({
  KUBECONFIG: cluster.kubeconfig,
  PATH: `${helmBinary(helm).replace(/\/helm$/, '')}:${process.env.PATH}`,
  HELM_CACHE_HOME: join(workDir, 'helm-cache'),
  HELM_CONFIG_HOME: join(workDir, 'helm-config'),
  HELM_DATA_HOME: join(workDir, 'helm-data'),
})

/** The app and KEDA's release installed by `helm` (major), the monitoring namespace, Redis's PVC; waits for KEDA's finalizer. */
async function installLab(helm: HelmMajor): Promise<void> {
  await installApp({
    kubeconfig: cluster.kubeconfig,
    namespace: ns(),
    workDir,
    answers,
    redis: {port: redis.port, password: redisPassword},
    helm,
  })
  const keda = await runHelm(helm, ['upgrade', '--install', 'keda', writeKedaReleaseChart(workDir), '-n', ns(), '--kubeconfig', cluster.kubeconfig], 120_000)
  if (keda.exitCode !== 0) throw new Error(`helm ${helm} install keda: ${keda.stderr.slice(-1000)}`)
  await createNamespace(cluster.kubeconfig, mon())
  if (!(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns()}/persistentvolumeclaims/${PVC}`))) {
    await must('POST', `/api/v1/namespaces/${ns()}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {name: PVC, labels: {app: 'redis-ha'}},
      spec: {accessModes: ['ReadWriteOnce'], resources: {requests: {storage: '1Gi'}}},
    })
  }
  await waitFor(
    async () => {
      const so = await getJson<{metadata: {finalizers?: string[]}}>(cluster.kubeconfig, `/apis/keda.sh/v1alpha1/namespaces/${ns()}/scaledobjects/${SO}`)
      return so?.metadata.finalizers?.includes('finalizer.keda.sh') || notYet(`finalizers ${JSON.stringify(so?.metadata.finalizers)}`)
    },
    {timeoutMs: 120_000, intervalMs: 250, what: 'the KEDA operator to put its finalizer on the ScaledObject'},
  ).catch((error: Error) => {
    throw new Error(error.message + kedaOutput())
  })
}

/** What Helm leaves behind (a CRD of a crds/ folder with install's record, hook-made RBAC), and another team's object. */
async function seedLeftovers(): Promise<void> {
  await must('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: 'prometheuses.monitoring.coreos.com',
      annotations: {'keda-lab.dev/release-name': 'kube-prometheus-stack', 'keda-lab.dev/release-namespace': mon()},
    },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: {plural: 'prometheuses', kind: 'Prometheus'},
      versions: [{name: 'v1', served: true, storage: true, schema: {openAPIV3Schema: {type: 'object', 'x-kubernetes-preserve-unknown-fields': true}}}],
    },
  })
  await must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: {name: 'kube-prometheus-stack-admission', labels: {release: 'kube-prometheus-stack', app: 'kube-prometheus-stack-admission'}},
    roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view'},
    subjects: [{kind: 'ServiceAccount', name: 'kube-prometheus-stack-admission', namespace: mon()}],
  })
  await must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: {name: 'other-team-keda', annotations: {'meta.helm.sh/release-name': 'keda', 'meta.helm.sh/release-namespace': 'platform'}},
    rules: [],
  })
}

/** The API server's current resourceVersion (an etcd revision): watches from here replay what follows. */
async function currentRevision(): Promise<string> {
  const res = await must('GET', `/api/v1/namespaces/${ns()}/secrets?limit=1`)
  return (JSON.parse(res.body) as {metadata: {resourceVersion: string}}).metadata.resourceVersion
}

/** The resourceVersion of the DELETED event of `path`'s objects (named `name`) since `revision`. */
async function deletedAt(path: string, name: string, revision: string): Promise<number | undefined> {
  const selector = encodeURIComponent(`metadata.name=${name}`)
  const res = await must('GET', `${path}?watch=1&resourceVersion=${revision}&timeoutSeconds=2&fieldSelector=${selector}`)
  const events = res.body
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as {type: string; object: {metadata: {resourceVersion: string}}})
  const deleted = events.find((e) => e.type === 'DELETED')
  return deleted ? Number(deleted.object.metadata.resourceVersion) : undefined
}

/** Helm's release records (Secrets labelled owner=helm) of `release` in the app namespace; none once it is uninstalled. */
async function releaseRecords(release: string): Promise<string[]> {
  const selector = encodeURIComponent(`owner=helm,name=${release}`)
  const res = await must('GET', `/api/v1/namespaces/${ns()}/secrets?labelSelector=${selector}`)
  return (JSON.parse(res.body) as {items: {metadata: {name: string}}[]}).items.map((s) => s.metadata.name)
}

/**
 * How long, once `helm uninstall keda-lab` is done (its release record gone) and the ScaledObject is
 * Terminating, uninstall must keep KEDA's release while the operator is paused. An uninstall that did
 * not wait for the finalizer runs `helm uninstall keda` at once, well within this time.
 */
const HOLD_MS = 8000

/**
 * With the operator paused: waits until `helm uninstall keda-lab` is done and the ScaledObject is
 * Terminating with KEDA's finalizer, then checks for HOLD_MS that KEDA's release is still installed.
 * Throws, saying what uninstall did, as soon as KEDA's release record is gone (or the uninstall ended
 * before that point was reached).
 */
async function holdWhileOperatorPaused(ended: () => CliResult | undefined): Promise<void> {
  const expectKedaInstalled = async (when: string) => {
    if ((await releaseRecords('keda')).length > 0) return
    throw new Error(
      `uninstall removed KEDA's Helm release (its release record is gone) ${when}, while the ScaledObject ${SO} still held ` +
        'finalizer.keda.sh and the KEDA operator was paused: it did not wait for KEDA to release the ScaledObject',
    )
  }
  const terminating = async () => {
    const so = await getJson<{metadata: {deletionTimestamp?: string; finalizers?: string[]}}>(
      cluster.kubeconfig,
      `/apis/keda.sh/v1alpha1/namespaces/${ns()}/scaledobjects/${SO}`,
    )
    // Nothing but the paused operator may remove the finalizer; otherwise this test would see no wait at all.
    if (!so) throw new Error(`the ScaledObject ${SO} is gone while the KEDA operator was paused: something else released finalizer.keda.sh`)
    const held = so.metadata.finalizers?.includes('finalizer.keda.sh')
    if (!held)
      throw new Error(`the ScaledObject ${SO} lost finalizer.keda.sh while the KEDA operator was paused (finalizers ${JSON.stringify(so.metadata.finalizers)})`)
    return so.metadata.deletionTimestamp !== undefined
  }
  await waitFor(
    async () => {
      const deleting = await terminating()
      await expectKedaInstalled(
        deleting ? 'with the ScaledObject Terminating, before this test saw `helm uninstall keda-lab` finish' : 'before the ScaledObject was even deleted',
      )
      const done = ended()
      if (done) throw new Error(`keda-lab uninstall ended (exit ${done.code}) before this test saw the ScaledObject Terminating and keda-lab's release gone`)
      if (!deleting) return notYet(`${SO} not Terminating yet`)
      const app = await releaseRecords('keda-lab')
      return app.length === 0 || notYet(`keda-lab's release records still there: ${app.join(', ')}`)
    },
    {timeoutMs: 180_000, intervalMs: 250, what: '`helm uninstall keda-lab` to finish and the ScaledObject to be Terminating'},
  )
  const start = Date.now()
  await waitFor(
    async () => {
      await terminating()
      await expectKedaInstalled(`${((Date.now() - start) / 1000).toFixed(1)} s after \`helm uninstall keda-lab\` was done, with the ScaledObject Terminating`)
      return Date.now() - start >= HOLD_MS || notYet('holding')
    },
    {timeoutMs: HOLD_MS + 60_000, intervalMs: 250, what: `uninstall to keep KEDA's release for ${HOLD_MS} ms`},
  )
}

/**
 * Runs `keda-lab uninstall ARGS` with the KEDA operator paused until {@link holdWhileOperatorPaused}
 * has seen uninstall keep KEDA's release; the operator is resumed whatever happens. Returns the run
 * and the API server's revision read just before the resume.
 */
async function uninstallWithOperatorPaused(args: string[], helm: HelmMajor): Promise<{r: CliResult; resumedAt: number}> {
  const operator = lab?.operator
  if (!operator) throw new Error('the KEDA operator is not running')
  operator.pause()
  const run = runCli(['uninstall', ...args], {env: env(helm), timeoutMs: 240_000})
  let ended: CliResult | undefined
  void run.then((r) => (ended = r))
  let failure: Error | undefined
  let resumedAt = 0
  try {
    await holdWhileOperatorPaused(() => ended)
    resumedAt = Number(await currentRevision())
  } catch (error) {
    failure = error as Error
  } finally {
    operator.resume()
  }
  const r = await run
  if (failure) throw new Error(`${failure.message}\n--- keda-lab uninstall (exit ${r.code}):\n${r.stdout}\n${r.stderr}${kedaOutput()}`)
  return {r, resumedAt}
}

/**
 * Asserts the order through the API server's revisions: the paused operator finalized the ScaledObject
 * only once resumed, and KEDA's release record was deleted after that (so it outlived the pause).
 */
async function expectKedaReleasedFirst(revision: string, resumedAt: number): Promise<void> {
  const soGone = await deletedAt(`/apis/keda.sh/v1alpha1/namespaces/${ns()}/scaledobjects`, SO, revision)
  const kedaGone = await deletedAt(`/api/v1/namespaces/${ns()}/secrets`, 'sh.helm.release.v1.keda.v1', revision)
  expect(soGone, 'the ScaledObject was deleted').toBeDefined()
  expect(kedaGone, "KEDA's release record was deleted").toBeDefined()
  expect(soGone, 'the ScaledObject was finalized only after the operator was resumed (revision of the resume)').toBeGreaterThan(resumedAt)
  expect(kedaGone, "KEDA's release record outlived the operator's pause (revision of the resume)").toBeGreaterThan(resumedAt)
  expect(soGone, "the ScaledObject was gone before KEDA's release record (revisions)").toBeLessThan(kedaGone as number)
  expect(lab?.operator.output(400)).toContain('Successfully finalized ScaledObject')
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'keda-lab-uninstall-keda-'))
  redisPassword = randomBytes(18).toString('base64url')
  redis = await startRedis({password: redisPassword})
  lab = await startKedaLab({
    kubeconfig: cluster.kubeconfig,
    namespace: ns(),
    clusterDir: cluster.state.dir,
    workDir,
    answers,
    redis: {port: redis.port, password: redisPassword},
    helm: 3,
    // Never served: this file registers no APIService.
    adapterClusterIP: '127.100.200.11',
  })
  await seedLeftovers()
}, 300_000)

afterAll(async () => {
  const steps: (() => Promise<unknown>)[] = [
    async () => lab?.stop(),
    async () => redis?.stop(),
    async () => workDir && rmSync(workDir, {recursive: true, force: true}),
  ]
  for (const step of steps) await step().catch(() => undefined)
}, 120_000)

describe('keda-lab uninstall with the real KEDA operator releasing its finalizer', () => {
  it('--yes (Helm 3): the app first, KEDA after its operator released the ScaledObject; PVC kept with its namespace; leftovers reported', async () => {
    await installLab(3)
    const revision = await currentRevision()
    const {r, resumedAt} = await uninstallWithOperatorPaused(['--yes', '-n', ns(), '--monitoring-namespace', mon(), '--timeout', '60'], 3)
    expect(r.code, `${r.stdout}\n${r.stderr}${kedaOutput()}`).toBe(0)
    expect(r.stdout).toContain(`√ Removed Helm releases: keda-lab (${ns()}), keda (${ns()})`)
    await expectKedaReleasedFirst(revision, resumedAt)
    expect(await getJson(cluster.kubeconfig, `/apis/keda.sh/v1alpha1/namespaces/${ns()}/scaledobjects/${SO}`)).toBeUndefined()
    expect(r.stdout).toContain(
      `‼ Namespace ${ns()} kept: it holds PersistentVolumeClaims (${PVC}); \`keda-lab uninstall --purge\` deletes them and the namespace`,
    )
    expect(r.stdout).toContain(`√ Namespace ${mon()} removed`)
    expect(r.stdout).toContain(
      [
        '‼ Cluster-scoped leftovers of the removed releases (`keda-lab uninstall --purge` deletes them):',
        '    ClusterRoleBinding kube-prometheus-stack-admission (from kube-prometheus-stack)',
        '    CustomResourceDefinition prometheuses.monitoring.coreos.com (from kube-prometheus-stack)',
      ].join('\n'),
    )
    expect(r.stdout).not.toMatch(/other-team-keda/)
    expect((await getJson<{status: {phase: string}}>(cluster.kubeconfig, `/api/v1/namespaces/${ns()}`))?.status.phase).toBe('Active')
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns()}/persistentvolumeclaims/${PVC}`)).toBeDefined()
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${mon()}`)).toBeUndefined()
    expect(await getJson(cluster.kubeconfig, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/prometheuses.monitoring.coreos.com')).toBeDefined()
  }, 480_000)

  it('--purge --json (Helm 4): the same order, then the PVC, both namespaces and the leftovers deleted; the report as JSON', async () => {
    await installLab(4)
    const revision = await currentRevision()
    const {r, resumedAt} = await uninstallWithOperatorPaused(['--yes', '--purge', '--json', '-n', ns(), '--monitoring-namespace', mon(), '--timeout', '90'], 4)
    expect(r.code, `${r.stdout}\n${r.stderr}${kedaOutput()}`).toBe(0)
    const leftovers = [
      {kind: 'ClusterRoleBinding', name: 'kube-prometheus-stack-admission', release: 'kube-prometheus-stack'},
      {kind: 'CustomResourceDefinition', name: 'prometheuses.monitoring.coreos.com', release: 'kube-prometheus-stack'},
    ]
    expect(JSON.parse(r.stdout)).toEqual({
      releases: [
        {name: 'keda-lab', namespace: ns()},
        {name: 'keda', namespace: ns()},
      ],
      namespaces: [
        {name: ns(), status: 'removed'},
        {name: mon(), status: 'removed'},
      ],
      pvcs: {kept: [], deleted: [`${ns()}/${PVC}`]},
      leftovers: {found: leftovers, removed: leftovers, terminating: []},
      ok: true,
    })
    await expectKedaReleasedFirst(revision, resumedAt)
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns()}`)).toBeUndefined()
    expect(await getJson(cluster.kubeconfig, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/prometheuses.monitoring.coreos.com')).toBeUndefined()
    expect(await getJson(cluster.kubeconfig, '/apis/rbac.authorization.k8s.io/v1/clusterroles/other-team-keda')).toBeDefined()
  }, 480_000)
})
