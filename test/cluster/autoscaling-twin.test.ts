/**
 * Both autoscalers reacting to one `keda-lab loadtest` run, for real.
 *
 * The lab is installed on the test control plane (a control plane of the file's own) by real Helm
 * with the values install renders from its answers; its pods run on kwok, so the services really
 * run here, as twins of those Deployments (test/cluster/twin.ts):
 * - API: one real `keda-lab serve api` on this machine serves the load. The API Service's
 *   LoadBalancer address is 127.0.0.1 and its port the local API's, so `keda-lab loadtest` finds
 *   "the installed lab" the way a user's run does (target cluster-lb) and its scaling watcher reads
 *   the cluster. Every 3 s the local API's process CPU (from /proc) is written as the simulated
 *   usage of the API pods, divided by their count; metrics-server serves it, and the real HPA
 *   controller scales the API Deployment on it.
 * - Worker: the real KEDA operator and metrics adapter scale the worker Deployment on the real
 *   queue (BullMQ's lists in a real redis-server), and local `keda-lab serve worker` processes follow
 *   the Deployment's replicas, so the queue drains faster as KEDA adds workers.
 *
 * Timings and the scaling facts are printed, never asserted: what is asserted is that each
 * autoscaler reacted to the load (scaled up from its minimum while the load ran).
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {LoadSummary} from '../../src/lab/loadtest/records.js'
import type {ClusterStatusReport} from '../../src/status/model.js'
import {parseScalingRules} from '../../src/lab/install/behavior.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import {APP_RELEASE} from '../../src/config/release.js'
import {runCli} from '../helpers/cli.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {freePort, notYet, stopProcess, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {type ServeProcess, startServe} from '../helpers/serve.js'
import {adminRequest} from './control-plane.js'
import {setSimulatedUsage, useCluster} from './harness.js'
import {type KedaLab, startKedaLab} from './keda.js'
import {getJson} from './kube-test-helpers.js'
import {type CpuMirror, groupCpuSeconds, type ReplicaMirror, startCpuMirror, startReplicaMirror} from './twin.js'

const cluster = useCluster(import.meta.url, {dedicated: true})
const ns = () => cluster.namespace

/**
 * Install's answers: API 1..6 at 60 % of its 100m request, worker 1..4 at 2 tasks per worker, both
 * HPAs with a 20 s scale-down window (install's --api-scale-down / --worker-scale-down).
 */
const answers: InstallAnswers = {
  ...sampleAnswers,
  webhook: false,
  monitoring: false,
  apiMinReplicas: 1,
  apiMaxReplicas: 6,
  apiCpuTarget: 60,
  apiScaleDown: parseScalingRules('window=20s'),
  workerMinReplicas: 1,
  workerMaxReplicas: 4,
  tasksPerReplica: 2,
  workerScaleDown: parseScalingRules('window=20s'),
}
const QUEUE = 'tasks' // the chart's queue.name
const ADAPTER_CLUSTER_IP = '127.100.200.11'
/** The load: 25 tasks a second for 60 s, each a small CPU task for a worker. */
const LOAD = ['--rate', '25/s', '--duration', '60s', '--max-vus', '400', '--task-iterations', '3000000', '--watch-after', '90s']
const MIRROR_INTERVAL_MS = 3000

let redis: RedisServer
let redisPassword: string
let workDir: string
let lab: KedaLab | undefined
let api: ServeProcess | undefined
let cpuMirror: CpuMirror | undefined
let workerMirror: ReplicaMirror<ServeProcess> | undefined
const timings: string[] = []
const t0 = Date.now()
const note = (what: string) => timings.push(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${what}`)

const deployment = async (name: string) =>
  getJson<{spec: {replicas?: number}; status?: {readyReplicas?: number}}>(cluster.kubeconfig, `/apis/apps/v1/namespaces/${ns()}/deployments/${name}`)

/** Resident memory (bytes) of a process group, summed from /proc/<pid>/status VmRSS. */
function groupRssBytes(pid: number): number {
  let kib = 0
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) if (line.startsWith('VmRSS:')) kib += Number.parseInt(line.slice(6), 10)
  return kib * 1024
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'keda-lab-twin-'))
  redisPassword = randomBytes(18).toString('base64url')
  redis = await startRedis({password: redisPassword})
  // The test's own values only point Redis at the test's server and give the API Service the local
  // API's port (its LoadBalancer address is set to 127.0.0.1 below).
  const apiPort = await freePort()
  lab = await startKedaLab({
    kubeconfig: cluster.kubeconfig,
    namespace: ns(),
    clusterDir: cluster.state.dir,
    workDir,
    answers,
    redis: {port: redis.port, password: redisPassword},
    testValues: {api: {service: {port: apiPort}}},
    helm: 4,
    adapterClusterIP: ADAPTER_CLUSTER_IP,
    step: async (what, run) => {
      const result = await run()
      note(what)
      return result
    },
  })
  // The metrics adapter behind the external metrics API: KEDA's HPA reads the queue through it.
  await lab.serveExternalMetrics()

  // The cloud's part: the API Service's LoadBalancer address, where the local API listens.
  const lb = await adminRequest(
    cluster.kubeconfig,
    'PATCH',
    `/api/v1/namespaces/${ns()}/services/${APP_RELEASE}-api/status`,
    {status: {loadBalancer: {ingress: [{ip: '127.0.0.1'}]}}},
    'application/merge-patch+json',
  )
  expect(lb.status, lb.body).toBe(200)

  const redisEnv = {REDIS_URL: redis.url, REDIS_PASSWORD: redisPassword, QUEUE_NAME: QUEUE}
  api = await startServe(
    'api',
    {...redisEnv, HOST: '127.0.0.1', PORT: String(apiPort), METRICS_PORT: String(await freePort()), LOG_LEVEL: 'warn'},
    {ready: {http: `http://127.0.0.1:${apiPort}/readyz`}, timeoutMs: 60_000},
  )
  const apiPid = api.child.pid!
  const apiReady = async () => Math.max(1, (await deployment(`${APP_RELEASE}-api`))?.status?.readyReplicas ?? 1)
  cpuMirror = startCpuMirror({
    pid: apiPid,
    intervalMs: MIRROR_INTERVAL_MS,
    replicas: apiReady,
    write: async (perPodMillis) =>
      setSimulatedUsage(cluster.kubeconfig, {
        namespace: ns(),
        deployment: `${APP_RELEASE}-api`,
        cpu: `${perPodMillis}m`,
        memory: String(Math.round(groupRssBytes(apiPid) / (await apiReady()))),
      }),
  })
  workerMirror = startReplicaMirror<ServeProcess>({
    intervalMs: 1000,
    max: answers.workerMaxReplicas,
    replicas: async () => (await deployment(`${APP_RELEASE}-worker`))?.spec.replicas ?? 0,
    start: () =>
      startServe(
        'worker',
        // LOG_LEVEL info: the readiness line "worker ready: waiting for tasks" is logged at info.
        {...redisEnv, METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', WORKER_NAME: `twin-${randomBytes(3).toString('hex')}`, LOG_LEVEL: 'info'},
        {ready: {log: 'worker ready: waiting for tasks'}, timeoutMs: 90_000},
      ),
    stopOne: (w) => stopProcess(w.child, 'SIGTERM', 30_000),
  })
  // The idle API at its minimum, read through the real metrics API before the load.
  await waitFor(
    async () => {
      const hpa = await getJson<{status?: {currentMetrics?: unknown[]}}>(
        cluster.kubeconfig,
        `/apis/autoscaling/v2/namespaces/${ns()}/horizontalpodautoscalers/${APP_RELEASE}-api`,
      )
      return (hpa?.status?.currentMetrics ?? []).length > 0 || notYet('the API HPA has no CPU reading yet')
    },
    {timeoutMs: 120_000, intervalMs: 1000, what: "the API HPA's first CPU reading (metrics-server on the mirrored usage)"},
  )
  note('API HPA reads the mirrored CPU')
}, 600_000)

afterAll(async () => {
  // What was observed is printed before anything is stopped, so a slow cleanup cannot lose it.
  console.info(`autoscaling-twin.test.ts — observed (not asserted):\n${timings.map((t) => `  ${t}`).join('\n')}`)
  const cleanup: string[] = []
  const steps: [string, () => Promise<unknown>][] = [
    ['CPU mirror', async () => cpuMirror?.stop()],
    // The test is over: a worker gets 10 s to finish its task, and a worker still starting 30 s.
    ['local workers', async () => workerMirror?.stop({boundMs: 30_000, stopAll: (w) => stopProcess(w.child, 'SIGTERM', 10_000)})],
    ['local API', async () => api && stopProcess(api.child)],
    ['KEDA', async () => lab && cleanup.push(...(await lab.stop()))],
    ['redis', async () => redis?.stop()],
    ['work folder', async () => workDir && rmSync(workDir, {recursive: true, force: true})],
  ]
  for (const [what, step] of steps) {
    const started = Date.now()
    const outcome = await step().then(
      () => 'stopped',
      (error: unknown) => `failed: ${(error as Error).message}`,
    )
    cleanup.push(`${what} ${outcome} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  console.info(`autoscaling-twin.test.ts — cleanup: ${cleanup.join('; ')}`)
  // Each step is bounded (the mirrors' rounds 15-30 s, each process's grace 5-10 s, then SIGKILL).
}, 300_000)

describe('one keda-lab loadtest run, both autoscalers (real HPA controller, real metrics API, real KEDA)', () => {
  it('the API HPA and KEDA both scale up under the load; the run records both in its scaling facts', async () => {
    const stateDir = mkdtempSync(join(workDir, 'state-'))
    const cpuBefore = groupCpuSeconds(api!.child.pid!)
    note('loadtest starts')
    const outDir = join(workDir, 'report')
    const run = await runCli(['loadtest', '-n', ns(), ...LOAD, '--json', '--out', outDir], {
      // No keda-lab dev of this machine may be taken for the target: an empty state folder.
      env: {KUBECONFIG: cluster.kubeconfig, KEDA_LAB_STATE_DIR: stateDir},
      timeoutMs: 600_000,
    })
    note(`loadtest ended (exit ${run.code})`)
    expect(run.code, run.stderr.slice(-2000)).toBe(0)
    const summary = JSON.parse(run.stdout) as LoadSummary

    const facts = summary.scaling
    const apiCpuSeconds = groupCpuSeconds(api!.child.pid!) - cpuBefore
    const samples = cpuMirror!.samples
    timings.push(
      `facts: workers ${facts.workersAtStart} → max ${facts.workersMax} (first scale-up after ${facts.firstScaleUpS ?? '-'} s, max after ${facts.toMaxS ?? '-'} s), backlog peak ${facts.backlogPeak}, drained ${facts.drainS ?? '-'} s after the last add, back to min ${facts.backToMinS ?? facts.backToMinNote ?? '-'}`,
      `facts: API replicas max ${facts.apiReplicasMax ?? '-'}; events ${facts.events.map((e) => `t=${e.t} ${e.what} ${e.from}→${e.to}`).join(', ')}`,
      `local API: ${apiCpuSeconds.toFixed(1)} CPU-seconds during the run; mirrored peak ${Math.max(...samples.map((s) => s.totalMillis))}m over ${Math.max(...samples.map((s) => s.pods))} pod(s)`,
      `local workers: ${workerMirror!.changes.map((c) => `${(c.t / 1000).toFixed(0)}s→${c.count}`).join(', ') || 'none started'}`,
      `tasks: ${summary.tasks.queued} queued, ${summary.tasks.completed} completed, ${summary.tasks.failed} failed; iterations dropped ${summary.iterations.dropped}`,
    )
    // The user's path: the installed lab's LoadBalancer address, and the watcher read the cluster.
    expect(summary.target.source).toBe('cluster-lb')
    expect(summary.scaling.source).toBe('cluster')
    // Both autoscalers reacted to this one load (up from their minimum of 1).
    expect(facts.workersMax ?? 0).toBeGreaterThan(1)
    expect(facts.apiReplicasMax ?? 0).toBeGreaterThan(1)
    expect(facts.events.some((e) => e.what === 'workers' && e.to > e.from)).toBe(true)
    expect(facts.events.some((e) => e.what === 'api' && e.to > e.from)).toBe(true)
    // The API's CPU the HPA saw is the local API's own: the mirror wrote a non-trivial share per pod.
    expect(Math.max(...samples.map((s) => s.totalMillis))).toBeGreaterThan(0)
    // The worker twin did the work: local workers followed KEDA's scale-up and completed tasks.
    expect(Math.max(0, ...workerMirror!.changes.map((c) => c.count))).toBeGreaterThan(1)
    expect(summary.tasks.completed).toBeGreaterThan(0)
    // The report: the per-second series carries the API's replicas and CPU beside the workers, and
    // report.html draws the API's chart.
    const series = readFileSync(join(outDir, 'timeseries.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as {scaling?: {workers?: number; apiReplicas?: number; apiCpuPercent?: number}})
    expect(series.some((r) => (r.scaling?.apiReplicas ?? 0) > 1)).toBe(true)
    expect(series.some((r) => (r.scaling?.apiCpuPercent ?? 0) > 0)).toBe(true)
    expect(series.some((r) => (r.scaling?.workers ?? 0) > 1)).toBe(true)
    expect(readFileSync(join(outDir, 'report.html'), 'utf8')).toContain('<div class="chart" id="chart-api"></div>')

    // `keda-lab status` after the run (issue 18 §3): both HPAs with their replicas and the last
    // scaling event the real HPA controller recorded, the API pods' CPU and memory from the real
    // metrics API against the HPA's target; --json carries the same.
    const env = {KUBECONFIG: cluster.kubeconfig, KEDA_LAB_STATE_DIR: stateDir}
    const json = await runCli(['status', '-n', ns(), '--json'], {env, timeoutMs: 90_000})
    const report = JSON.parse(json.stdout) as ClusterStatusReport
    const rescaled = /^New size: \d+; reason: /
    expect(report.worker, json.stdout.slice(0, 3000)).toMatchObject({hpaName: `keda-hpa-${APP_RELEASE}-worker`, maxReplicas: answers.workerMaxReplicas})
    expect(report.worker?.lastScale?.message).toMatch(rescaled)
    expect(report.worker?.currentReplicas).toBeGreaterThanOrEqual(1)
    expect(report.worker?.desiredReplicas).toBeGreaterThanOrEqual(1)
    expect(report.apiHpa).toMatchObject({name: `${APP_RELEASE}-api`, cpuTargetPercent: answers.apiCpuTarget, maxReplicas: answers.apiMaxReplicas})
    expect(report.apiHpa?.lastScale?.message).toMatch(rescaled)
    expect(report.apiUsage?.available, JSON.stringify(report.apiUsage)).toBe(true)
    expect(report.apiUsage?.pods.length).toBeGreaterThan(0)
    for (const pod of report.apiUsage?.pods ?? []) {
      expect(pod.memoryBytes).toBeGreaterThan(0)
      expect(pod.cpuRequestMillis).toBeGreaterThan(0)
    }
    const screen = await runCli(['status', '-n', ns()], {env, timeoutMs: 90_000})
    expect(screen.stdout).toContain(`API (HPA ${APP_RELEASE}-api): CPU `)
    expect(screen.stdout).toMatch(/ {2}last scaling: New size: \d+; reason: /)
    expect(screen.stdout).toContain('API pods: average CPU')
    timings.push(
      `status: worker ${report.worker?.currentReplicas} now / ${report.worker?.desiredReplicas} desired, last "${report.worker?.lastScale?.message}"; API ${report.apiHpa?.currentReplicas} / ${report.apiHpa?.desiredReplicas}, CPU ${report.apiHpa?.cpuPercent ?? '?'}% of ${report.apiHpa?.cpuTargetPercent}% target, last "${report.apiHpa?.lastScale?.message}"; pods ${report.apiUsage?.pods.map((p) => `${p.cpuMillis}m/${Math.round(p.memoryBytes / 2 ** 20)}Mi`).join(', ')}`,
    )
  }, 900_000)
})
