/**
 * `keda-lab loadtest --profile backlog` against the real autoscaler (issue 14, §5): the real API
 * (`keda-lab serve api`) and a local worker (`keda-lab serve worker`) on one real redis-server do
 * the work; the real KEDA operator and metrics adapter and the controller-manager's real HPA
 * controller scale the worker Deployment the app chart renders (its pods run on kwok, so they do
 * no work: the local worker does). The load test is the CLI as a user runs it, with `--target` the
 * API's URL and `--watch cluster` so that its watcher samples the cluster's worker Deployment, KEDA's
 * HPA and the ScaledObject; the test reads the scaling facts and the time series it wrote.
 *
 * The set-up is keda-operator.test.ts's, through the same helper (keda.ts's startKedaLab):
 * install's own values with a small maximum and scale to zero (so the way back is KEDA's
 * cooldownPeriod, shortened through the chart's value). A control plane of the file's own: the
 * APIService v1beta1.external.metrics.k8s.io is cluster-wide.
 *
 * The local worker starts only once KEDA's HPA has taken the worker Deployment to its maximum:
 * until then nothing takes a task, so the backlog cannot drain before the maximum however fast
 * this machine runs a task (idle or loaded); from then on it does the work and the queue drains.
 *
 * Timings are printed, never asserted.
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {APP_RELEASE} from '../../src/config/release.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import type {LoadSummary, SecondRecord} from '../../src/lab/loadtest/records.js'
import {runCli} from '../helpers/cli.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {freePort, notYet, stopProcess, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {type ServeProcess, startServe} from '../helpers/serve.js'
import {useCluster} from './harness.js'
import {type KedaLab, startKedaLab} from './keda.js'
import {getJson} from './kube-test-helpers.js'

const fileStart = Date.now()
const cluster = useCluster(import.meta.url, {dedicated: true})

/** A small maximum, 2 tasks per worker, scale to zero; no webhook or monitoring stack. */
const answers: InstallAnswers = {...sampleAnswers, webhook: false, monitoring: false, workerMaxReplicas: 2, tasksPerReplica: 2, scaleToZero: true}
const QUEUE = 'tasks' // the chart's queue.name, which the ScaledObject's triggers count
const COOLDOWN_SECONDS = 10
/** backlog is 100 s of load (30 s ramp to 4 tasks/s, 1 min hold, 10 s down): 0.2 makes it 20 s. */
const TIME_SCALE = '0.2'
/**
 * Tasks of 3 M iterations: about 0.15 s of an idle core (50.6 ns each, tasks.ts), about 1 s on the
 * shared 2-core machine under load, so the backlog's 64 tasks are done within the watch. The size
 * no longer decides whether a backlog builds: the worker starts only at the maximum.
 */
const TASK_ITERATIONS = '3000000'
const ADAPTER_CLUSTER_IP = '127.100.200.11'

/** Observed (not asserted) durations, printed at the end. */
const timings: [string, number][] = []
async function timed<T>(what: string, run: () => Promise<T>): Promise<T> {
  const t0 = Date.now()
  const result = await run()
  timings.push([what, Date.now() - t0])
  return result
}

let redis: RedisServer
let redisPassword: string
let workDir: string
let lab: KedaLab | undefined
let api: ServeProcess | undefined
let worker: ServeProcess | undefined
let apiUrl: string

const ns = () => cluster.namespace
const kedaOutput = () => lab?.output() ?? '\n(KEDA not started)'
const redisEnv = () => ({REDIS_URL: redis.url, REDIS_PASSWORD: redisPassword, QUEUE_NAME: QUEUE, LOG_LEVEL: 'warn'})
const deploymentReplicas = async () =>
  (await getJson<{spec: {replicas?: number}}>(cluster.kubeconfig, `/apis/apps/v1/namespaces/${ns()}/deployments/${APP_RELEASE}-worker`))?.spec.replicas

beforeAll(async () => {
  timings.push(['dedicated control plane started, namespace created', Date.now() - fileStart])
  workDir = mkdtempSync(join(tmpdir(), 'keda-lab-loadtest-backlog-'))
  redisPassword = randomBytes(18).toString('base64url')
  redis = await startRedis({password: redisPassword})
  // The test's values only point Redis at the test's server and shorten the cooldown.
  lab = await startKedaLab({
    kubeconfig: cluster.kubeconfig,
    namespace: ns(),
    clusterDir: cluster.state.dir,
    workDir,
    answers,
    redis: {port: redis.port, password: redisPassword},
    testValues: {worker: {autoscaling: {cooldownPeriod: COOLDOWN_SECONDS}}},
    helm: 3,
    adapterClusterIP: ADAPTER_CLUSTER_IP,
    step: timed,
  })
  // The metrics adapter behind the APIService, so that the HPA controller can read KEDA's metric.
  await lab.serveExternalMetrics()

  // The real API on the host, on the same Redis and queue as the ScaledObject's triggers.
  const [port, apiMetrics] = [await freePort(), await freePort()]
  apiUrl = `http://127.0.0.1:${port}`
  api = await timed('keda-lab serve api ready', () =>
    startServe(
      'api',
      {...redisEnv(), HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(apiMetrics), TASK_ITERATIONS},
      {ready: {http: `${apiUrl}/readyz`}, timeoutMs: 60_000},
    ),
  )
  // At rest before the load: KEDA has taken the idle worker Deployment to zero.
  await timed('KEDA scales the idle worker Deployment to 0', () =>
    waitFor(async () => (await deploymentReplicas()) === 0 || notYet(`spec.replicas ${await deploymentReplicas()}`), {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: 'the idle worker Deployment at zero',
    }).catch((error: Error) => {
      throw new Error(error.message + kedaOutput())
    }),
  )
}, 420_000)

afterAll(async () => {
  const steps: (() => Promise<unknown>)[] = [
    async () => worker && stopProcess(worker.child),
    async () => api && stopProcess(api.child),
    async () => lab?.stop(),
    async () => redis?.stop(),
    async () => workDir && rmSync(workDir, {recursive: true, force: true}),
  ]
  for (const step of steps) await step().catch(() => undefined)
  console.info(
    `loadtest-backlog.test.ts — observed durations (not asserted):\n${timings.map(([w, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${w}`).join('\n')}`,
  )
}, 120_000)

describe('loadtest --profile backlog against the real KEDA operator and HPA controller', () => {
  it('records the worker Deployment going up to the maximum and back to zero, with the scaling facts in summary.json', async () => {
    const out = join(workDir, 'report')
    const loadStart = Date.now()
    const running = timed(`keda-lab loadtest --profile backlog --time-scale ${TIME_SCALE} (load and watch)`, () =>
      runCli(
        ['loadtest', '--profile', 'backlog', '--time-scale', TIME_SCALE, '--target', apiUrl, '--watch', 'cluster', '--namespace', ns()].concat([
          '--watch-after',
          '150s',
          '--out',
          out,
        ]),
        {env: {KUBECONFIG: cluster.kubeconfig}, timeoutMs: 300_000},
      ),
    )
    // Nothing takes a task until KEDA's HPA has the worker Deployment at its maximum; then the local
    // worker (concurrency 1, LOG_LEVEL info for its readiness line) drains the backlog.
    let loadEnded = false
    void running.finally(() => (loadEnded = true))
    await waitFor(
      async () => {
        if (loadEnded) throw new Error(`the load test ended before the worker Deployment reached its maximum${kedaOutput()}`)
        const replicas = await deploymentReplicas()
        return replicas === answers.workerMaxReplicas || notYet(`spec.replicas ${replicas}`)
      },
      {timeoutMs: 180_000, intervalMs: 500, what: `the worker Deployment at its maximum (${answers.workerMaxReplicas}) while nothing drains the queue`},
    )
    timings.push([`worker Deployment at its maximum, local worker starting (since the load started)`, Date.now() - loadStart])
    worker = await timed('keda-lab serve worker ready', () =>
      startServe(
        'worker',
        {...redisEnv(), LOG_LEVEL: 'info', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', WORKER_NAME: 'local-1', WORKER_CONCURRENCY: '1'},
        {ready: {log: 'worker ready: waiting for tasks'}, timeoutMs: 90_000},
      ),
    )
    const run = await running
    expect(run.code, `${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}${kedaOutput()}`).toBe(0)
    expect(run.stdout).toContain(`Target: ${apiUrl} — given with --target; scaling watched in namespace ${ns()}`)

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as LoadSummary
    const records = readFileSync(join(out, 'timeseries.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as SecondRecord)
    const f = summary.scaling
    const workersSeries = records.map((r) => r.scaling?.workers ?? '-').join(' ')
    const context = `facts ${JSON.stringify(f)}\nworkers per second: ${workersSeries}\n${run.stdout.slice(-2000)}`
    expect(f.source, context).toBe('cluster')
    expect(f.workersAtStart, context).toBe(0)
    // The maximum the ScaledObject allows, reached (KEDA's activation, then the HPA controller) and never passed.
    expect(f.workersMax, context).toBe(answers.workerMaxReplicas)
    expect(f.workersMin, context).toBe(0)
    expect(f.backToMinS, context).toBeDefined()
    expect(f.backlogPeak, context).toBeGreaterThan(2 * (answers.workerMaxReplicas - 1))
    expect(f.drainS, context).toBeDefined()
    // The time series has the same story: a sample at the maximum, and the last sample back at zero.
    expect(records.some((r) => r.scaling?.workers === answers.workerMaxReplicas)).toBe(true)
    expect(records.filter((r) => r.scaling?.workers !== undefined).at(-1)?.scaling?.workers, context).toBe(0)
    // Every task the load queued was done by the local worker, none failed.
    expect(Object.keys(summary.checks).length).toBeGreaterThan(0)
    for (const [name, c] of Object.entries(summary.checks)) expect(c.fails, `check ${name} failed ${c.fails} time(s)\n${context}`).toBe(0)

    timings.push(
      ...(
        [
          ['first scale-up after the first add (from summary.json)', f.firstScaleUpS],
          [`maximum (${answers.workerMaxReplicas}) reached after the first add`, f.toMaxS],
          ['queue drained after the last add', f.drainS],
          [`back to 0 workers after the last add (cooldownPeriod ${COOLDOWN_SECONDS} s)`, f.backToMinS],
        ] as [string, number | undefined][]
      ).map(([w, s]): [string, number] => [w, (s ?? Number.NaN) * 1000]),
    )
    console.info(`loadtest-backlog: backlog peak ${f.backlogPeak} task(s); workers per second: ${workersSeries}`)
  }, 360_000)
})
