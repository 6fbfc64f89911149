/**
 * `keda-lab loadtest --profile backlog` against the real autoscaler (issue 14, §5): the real API
 * (`keda-lab serve api`) and a local worker (`keda-lab serve worker`) on one real redis-server do
 * the work; the real KEDA operator and metrics adapter and the controller-manager's real HPA
 * controller scale the worker Deployment the app chart renders (its pods run on kwok, so they do
 * no work: the local worker does). The load test is the CLI as a user runs it, with `--target` the
 * API's URL and `--watch cluster` so that its watcher samples the cluster's worker Deployment, KEDA's
 * HPA and the ScaledObject; the test reads the scaling facts and the time series it wrote.
 *
 * The setup is keda-operator.test.ts's, through the same helpers (keda.ts, crds.ts, harness.ts):
 * install's own values with a small maximum and scale to zero (so the way back is KEDA's
 * cooldownPeriod, shortened through the chart's value, not the HPA's 300 s scale-down window).
 * A control plane of the file's own: the APIService v1beta1.external.metrics.k8s.io is cluster-wide.
 *
 * Timings are printed, never asserted.
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {APP_RELEASE} from '../../src/config/release.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import type {LoadSummary, SecondRecord} from '../../src/lab/loadtest/records.js'
import {resolveSecrets} from '../../src/lab/install/secrets.js'
import {renderAppValues} from '../../src/lab/values/render.js'
import {runCli} from '../helpers/cli.js'
import {CHART_DIR, runHelm} from '../helpers/helm.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {freePort, notYet, stopProcess, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {type ServeProcess, startServe} from '../helpers/serve.js'
import {adminRequest, kubeTools} from './control-plane.js'
import {applyCrds, kedaCrds} from './crds.js'
import {useCluster} from './harness.js'
import {
  apiServiceAvailable,
  freePortOn,
  type KedaOperator,
  type KedaProcess,
  makeKedaCerts,
  registerExternalMetricsApi,
  startKedaAdapter,
  startKedaOperator,
  unregisterExternalMetricsApi,
} from './keda.js'
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
 * shared 2-core machine under load (a first run with 10 M took 3.5 s each there). One local worker at
 * concurrency 1 then finishes fewer tasks a second than the up to 4 a second that arrive, so a
 * backlog builds, and the backlog's 64 tasks are done within the watch.
 */
const TASK_ITERATIONS = '3000000'
const ADAPTER_CLUSTER_IP = '127.100.200.11'
const ADAPTER_SERVICE = 'keda-metrics-apiserver'

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
let operator: KedaOperator | undefined
let adapter: KedaProcess | undefined
let apiRegistered = false
let api: ServeProcess | undefined
let worker: ServeProcess | undefined
let apiUrl: string

const ns = () => cluster.namespace
const kedaOutput = () =>
  `\n--- KEDA operator:\n${operator?.output(30) ?? '(not started)'}\n--- KEDA metrics adapter:\n${adapter?.output(30) ?? '(not started)'}`
const deploymentReplicas = async () =>
  (await getJson<{spec: {replicas?: number}}>(cluster.kubeconfig, `/apis/apps/v1/namespaces/${ns()}/deployments/${APP_RELEASE}-worker`))?.spec.replicas

beforeAll(async () => {
  timings.push(['dedicated control plane started, namespace created', Date.now() - fileStart])
  const tools = kubeTools(['keda'])
  workDir = mkdtempSync(join(tmpdir(), 'keda-lab-loadtest-backlog-'))
  redisPassword = randomBytes(18).toString('base64url')
  redis = await startRedis({password: redisPassword})

  await timed('KEDA CRDs applied', async () => applyCrds(cluster.kubeconfig, await kedaCrds()))
  const certs = makeKedaCerts(join(workDir, 'certs'), {
    ips: ['127.0.0.1', ADAPTER_CLUSTER_IP],
    dns: [`keda-operator.${ns()}.svc`, `${ADAPTER_SERVICE}.${ns()}.svc`, `${ADAPTER_SERVICE}.${ns()}.svc.cluster.local`],
  })
  operator = await timed('KEDA operator started', () =>
    startKedaOperator({binary: tools.kedaOperator, kubeconfig: cluster.kubeconfig, namespace: ns(), certs, workDir}),
  )

  // The app as install puts it: its Secret, then the chart with install's values; the test's values
  // only point Redis at the test's server and shorten the cooldown.
  const [secret] = resolveSecrets({appNamespace: ns(), monitoringNamespace: 'keda-monitoring', monitoring: false, redisPassword, existing: {}})
  const created = await adminRequest(cluster.kubeconfig, 'POST', `/api/v1/namespaces/${ns()}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {name: secret!.name, labels: {'app.kubernetes.io/part-of': 'keda-lab'}},
    data: Object.fromEntries(Object.entries(secret!.data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  })
  expect(created.status).toBe(201)
  writeFileSync(
    join(workDir, 'keda-lab.yaml'),
    renderAppValues({
      answers,
      appNamespace: ns(),
      monitoringNamespace: 'keda-monitoring',
      image: {repository: 'keda-lab', tag: 'test', pullPolicy: 'IfNotPresent'},
    }),
  )
  writeFileSync(
    join(workDir, 'test-redis.yaml'),
    stringify({redis: {mode: 'standalone', standalone: {host: '127.0.0.1', port: redis.port}}, worker: {autoscaling: {cooldownPeriod: COOLDOWN_SECONDS}}}),
  )
  const helm = await timed('helm upgrade --install of the app chart', () =>
    runHelm(
      3,
      ['upgrade', '--install', APP_RELEASE, CHART_DIR, '--namespace', ns(), '--kubeconfig', cluster.kubeconfig].concat([
        '-f',
        join(workDir, 'keda-lab.yaml'),
        '-f',
        join(workDir, 'test-redis.yaml'),
      ]),
      120_000,
    ),
  )
  expect(helm.exitCode, helm.stderr).toBe(0)

  // The metrics adapter behind the APIService, so that the HPA controller can read KEDA's metric.
  const adapterPort = await freePortOn(ADAPTER_CLUSTER_IP)
  await registerExternalMetricsApi(cluster.kubeconfig, {
    namespace: ns(),
    serviceName: ADAPTER_SERVICE,
    clusterIP: ADAPTER_CLUSTER_IP,
    port: adapterPort,
    caBundle: certs.ca,
  })
  apiRegistered = true
  adapter = await timed('KEDA metrics adapter started', () =>
    startKedaAdapter({
      binary: tools.kedaAdapter,
      kubeconfig: cluster.kubeconfig,
      namespace: ns(),
      certs,
      host: ADAPTER_CLUSTER_IP,
      port: adapterPort,
      frontProxyCa: join(cluster.state.dir, 'pki', 'front-proxy-ca.crt'),
      operatorGrpcAddress: operator!.grpcAddress,
      workDir,
    }),
  )
  await timed('APIService v1beta1.external.metrics.k8s.io Available', () =>
    waitFor(
      async () => {
        const c = await apiServiceAvailable(cluster.kubeconfig)
        return c?.status === 'True' || notYet(`Available=${c?.status} ${c?.reason}: ${c?.message}`)
      },
      {timeoutMs: 120_000, intervalMs: 500, what: 'the APIService to become Available'},
    ).catch((error: Error) => {
      throw new Error(error.message + kedaOutput())
    }),
  )

  // The real services on the host, on the same Redis and queue as the ScaledObject's triggers.
  const redisEnv = {REDIS_URL: redis.url, REDIS_PASSWORD: redisPassword, QUEUE_NAME: QUEUE, LOG_LEVEL: 'warn'}
  const [port, apiMetrics] = [await freePort(), await freePort()]
  apiUrl = `http://127.0.0.1:${port}`
  api = await timed('keda-lab serve api ready', () =>
    startServe(
      'api',
      {...redisEnv, HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(apiMetrics), TASK_ITERATIONS},
      {ready: {http: `${apiUrl}/readyz`}, timeoutMs: 60_000},
    ),
  )
  worker = await timed('keda-lab serve worker ready', () =>
    startServe(
      'worker',
      {...redisEnv, LOG_LEVEL: 'info', METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', WORKER_NAME: 'local-1', WORKER_CONCURRENCY: '1'},
      {ready: {log: 'worker ready: waiting for tasks'}, timeoutMs: 90_000},
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
    async () => apiRegistered && unregisterExternalMetricsApi(cluster.kubeconfig),
    async () => adapter?.stop(),
    async () => operator?.stop(),
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
    const run = await timed(`keda-lab loadtest --profile backlog --time-scale ${TIME_SCALE} (load and watch)`, () =>
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
