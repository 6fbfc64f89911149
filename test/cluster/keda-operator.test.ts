/**
 * KEDA for real: the KEDA operator and metrics adapter (built from KEDA's Go module) run on the host
 * against a real control plane and a real redis-server, with the ScaledObject and
 * TriggerAuthentication that `keda-lab install` renders: the app chart installed by real Helm with
 * install's own values (src/lab/values/render.ts) and the Secret install creates, the Redis address
 * pointed at the test's Redis (standalone 127.0.0.1:<port>).
 *
 * Jobs are added with BullMQ's Queue and taken with BullMQ's Worker, so `bull:tasks:wait` and
 * `bull:tasks:active` are the lists BullMQ really writes. Then the adapter is served on a loopback
 * ClusterIP behind the APIService v1beta1.external.metrics.k8s.io, and the controller-manager's real
 * HPA controller scales the worker Deployment (pods run on kwok).
 *
 * A control plane of the file's own: the APIService is cluster-wide, and while it is being set up
 * (or after the adapter stops) it is unavailable, which breaks discovery for Helm in other files.
 *
 * Install's answers choose scale to zero (a real answer, `--scale-to-zero`) and a 10 s scale-down
 * window for KEDA's HPA (`--worker-scale-down window=10s`, which the chart passes on as the
 * ScaledObject's advanced.horizontalPodAutoscalerConfig.behavior): the way back from the maximum to
 * one worker is the HPA controller's, in seconds instead of its default 300 s window, and from one
 * to zero KEDA's cooldownPeriod, shortened through the chart's value.
 *
 * The set-up (CRDs, PKI, operator, install's Secret and values, the adapter behind the APIService)
 * is keda.ts's startKedaLab, shared with loadtest-backlog.test.ts and autoscaling-twin.test.ts.
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {Queue, Worker} from 'bullmq'
import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseScalingRules} from '../../src/lab/install/behavior.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {notYet, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {adminRequest} from './control-plane.js'
import {useCluster} from './harness.js'
import {type KedaLab, startKedaLab} from './keda.js'
import {getJson} from './kube-test-helpers.js'

const fileStart = Date.now()
const cluster = useCluster(import.meta.url, {dedicated: true})

/** Install's answers: the defaults, a small maximum, scale to zero, a 10 s scale-down window; no webhook or monitoring stack. */
const answers: InstallAnswers = {
  ...sampleAnswers,
  webhook: false,
  monitoring: false,
  workerMaxReplicas: 3,
  tasksPerReplica: 2,
  scaleToZero: true,
  workerScaleDown: parseScalingRules('window=10s'),
}
const QUEUE = 'tasks' // the chart's queue.name, which install does not change
const SO = 'keda-lab-worker'
const HPA = `keda-hpa-${SO}`
const COOLDOWN_SECONDS = 10
/** Where the metrics adapter is served: a ClusterIP of the control plane's loopback service range. */
const ADAPTER_CLUSTER_IP = '127.100.200.10'

/** Observed (not asserted) durations of each phase, printed at the end. */
const timings: [string, number][] = []
async function timed<T>(what: string, run: () => Promise<T>): Promise<T> {
  const t0 = Date.now()
  const result = await run()
  timings.push([what, Date.now() - t0])
  return result
}

interface Condition {
  type: string
  status: string
  reason?: string
  message?: string
}
interface ScaledObject {
  spec: Record<string, unknown> & {triggers: unknown[]; advanced: {scalingModifiers: Record<string, unknown>}}
  status?: {conditions?: Condition[]; lastActiveTime?: string; externalMetricNames?: string[]; compositeScalerName?: string; hpaName?: string}
}
interface Deployment {
  spec: {replicas?: number}
  status?: {replicas?: number; readyReplicas?: number}
}
interface Hpa {
  spec: {minReplicas?: number; maxReplicas: number; scaleTargetRef: Record<string, string>; metrics: unknown[]; behavior?: {scaleDown?: unknown}}
  status?: {desiredReplicas?: number; currentReplicas?: number; conditions?: Condition[]; currentMetrics?: {external?: {current?: {averageValue?: string}}}[]}
}

let redis: RedisServer
let redisPassword: string
let workDir: string
let lab: KedaLab | undefined
let queue: Queue
let lists: Redis
const workers: Worker[] = []

const ns = () => cluster.namespace
const connection = () => ({host: '127.0.0.1', port: redis.port, password: redisPassword, maxRetriesPerRequest: null})
const scaledObject = async () => (await getJson<ScaledObject>(cluster.kubeconfig, `/apis/keda.sh/v1alpha1/namespaces/${ns()}/scaledobjects/${SO}`))!
const deployment = async () => (await getJson<Deployment>(cluster.kubeconfig, `/apis/apps/v1/namespaces/${ns()}/deployments/keda-lab-worker`))!
const condition = (conditions: Condition[] | undefined, type: string) => conditions?.find((c) => c.type === type)
/** LLEN of BullMQ's wait and active lists — what the two triggers count. */
const queued = async () => ({wait: await lists.llen(`bull:${QUEUE}:wait`), active: await lists.llen(`bull:${QUEUE}:active`)})
/** Output of the KEDA processes, added to a failure to say what KEDA itself saw. */
const kedaOutput = () => lab?.output() ?? '\n(KEDA not started)'

/** The composite metric through the API server (aggregator → adapter → operator gRPC). */
async function externalMetric(): Promise<number> {
  const selector = encodeURIComponent(`scaledobject.keda.sh/name=${SO}`)
  const res = await adminRequest(
    cluster.kubeconfig,
    'GET',
    `/apis/external.metrics.k8s.io/v1beta1/namespaces/${ns()}/composite-metric?labelSelector=${selector}`,
  )
  if (res.status !== 200) throw new Error(`external metrics API answered ${res.status}: ${res.body.slice(0, 300)}`)
  const items = (JSON.parse(res.body) as {items: {metricName: string; value: string}[]}).items
  expect(items.map((i) => i.metricName)).toEqual(['composite-metric'])
  return quantity(items[0]!.value)
}

/** A Kubernetes quantity as KEDA writes metric values ("3", "2500m"). */
function quantity(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(text)
  if (!m) throw new Error(`unexpected quantity ${text}`)
  return Number(m[1]) / (m[2] ? 1000 : 1)
}

/** Waits until the Deployment's scale is `want`; a value outside [0, max] is wrong at once. */
async function replicasBecome(want: number, what: string, timeoutMs = 120_000): Promise<Deployment> {
  return waitFor(
    async () => {
      const d = await deployment()
      const replicas = d.spec.replicas ?? 1
      if (replicas < 0 || replicas > answers.workerMaxReplicas)
        throw new Error(`worker Deployment at ${replicas} replicas, outside 0..${answers.workerMaxReplicas}`)
      return replicas === want ? d : notYet(`spec.replicas ${replicas}, ready ${d.status?.readyReplicas ?? 0}`)
    },
    {timeoutMs, intervalMs: 250, what},
  ).catch((error: Error) => {
    throw new Error(error.message + kedaOutput())
  })
}

/** Waits until the ScaledObject's Active condition is `want`; Ready turning False is wrong at once. */
async function activeBecomes(want: 'True' | 'False', what: string): Promise<ScaledObject> {
  return waitFor(
    async () => {
      const so = await scaledObject()
      const ready = condition(so.status?.conditions, 'Ready')
      if (ready?.status === 'False') throw new Error(`ScaledObject not Ready: ${ready.reason}: ${ready.message}`)
      const active = condition(so.status?.conditions, 'Active')
      return active?.status === want ? so : notYet(`Active=${active?.status} (${active?.reason}); lists ${JSON.stringify(await queued())}`)
    },
    {timeoutMs: 90_000, intervalMs: 250, what},
  ).catch((error: Error) => {
    throw new Error(error.message + kedaOutput())
  })
}

/** A BullMQ Worker on the test's Redis; its jobs finish when `gate` resolves. Closed by the test (or afterAll). */
function startWorker(concurrency: number, gate: Promise<void>): Worker {
  const worker = new Worker(QUEUE, async () => gate, {connection: connection(), concurrency})
  workers.push(worker)
  return worker
}

async function closeWorker(worker: Worker): Promise<void> {
  await worker.close()
  workers.splice(workers.indexOf(worker), 1)
}

beforeAll(async () => {
  // useCluster's beforeAll ran first: the file's own control plane and its namespace.
  timings.push(['dedicated control plane started, namespace created', Date.now() - fileStart])
  workDir = mkdtempSync(join(tmpdir(), 'keda-lab-keda-'))
  redisPassword = randomBytes(18).toString('base64url')
  redis = await startRedis({password: redisPassword})
  lists = new Redis(connection())
  queue = new Queue(QUEUE, {connection: connection()})
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
}, 300_000)

afterAll(async () => {
  // Each step on its own: one failing must not leave the others' processes behind.
  const steps: (() => Promise<unknown>)[] = [
    async () => Promise.all(workers.map((w) => w.close(true))),
    async () => queue?.close(),
    async () => lists?.quit(),
    async () => lab?.stop(),
    async () => redis?.stop(),
    async () => workDir && rmSync(workDir, {recursive: true, force: true}),
  ]
  for (const step of steps) await step().catch(() => undefined)
  console.info(
    `keda-operator.test.ts — observed phase durations (not asserted):\n${timings.map(([w, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${w}`).join('\n')}`,
  )
}, 120_000)

describe('KEDA for real: the operator against a real API server and a real Redis', () => {
  it("the ScaledObject and TriggerAuthentication install renders (Redis at the test's server) are applied as rendered, and the ScaledObject becomes Ready", async () => {
    const so = await scaledObject()
    expect(so.spec).toMatchObject({
      scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name: 'keda-lab-worker'},
      minReplicaCount: 0,
      maxReplicaCount: answers.workerMaxReplicas,
      pollingInterval: 5,
      cooldownPeriod: COOLDOWN_SECONDS,
    })
    expect(so.spec.advanced.scalingModifiers).toEqual({
      formula: 'wait + active',
      target: String(answers.tasksPerReplica),
      activationTarget: '0',
      metricType: 'AverageValue',
    })
    const trigger = (list: string) => ({
      name: list,
      type: 'redis',
      metadata: {address: `127.0.0.1:${redis.port}`, listName: `bull:${QUEUE}:${list}`, listLength: String(answers.tasksPerReplica)},
      authenticationRef: {name: 'keda-lab-worker-redis'},
    })
    expect(so.spec.triggers).toEqual([trigger('wait'), trigger('active')])
    const auth = await getJson<{spec: unknown}>(cluster.kubeconfig, `/apis/keda.sh/v1alpha1/namespaces/${ns()}/triggerauthentications/keda-lab-worker-redis`)
    expect(auth?.spec).toEqual({secretTargetRef: [{parameter: 'password', name: 'keda-lab-secrets', key: 'redis-password'}]})

    const ready = await timed('ScaledObject Ready (from the helm install)', () =>
      waitFor(
        async () => {
          const current = await scaledObject()
          const c = condition(current.status?.conditions, 'Ready')
          if (c?.status === 'False') throw new Error(`ScaledObject Ready=False: ${c.reason}: ${c.message}${kedaOutput()}`)
          return c?.status === 'True' ? current : notYet(`Ready=${c?.status ?? 'none'} (${c?.reason ?? ''})`)
        },
        {timeoutMs: 120_000, intervalMs: 250, what: 'the ScaledObject to become Ready'},
      ),
    )
    // One external metric per trigger, both read through the TriggerAuthentication's Secret.
    expect(ready.status?.externalMetricNames).toHaveLength(2)
    // Empty lists: not Active, and (scale to zero) KEDA takes the worker Deployment to 0.
    await activeBecomes('False', 'Active=False with empty lists')
    await timed('KEDA scales the idle worker Deployment to 0', () => replicasBecome(0, 'KEDA to scale the idle worker Deployment to zero'))
  }, 300_000)

  it('KEDA creates the HPA keda-hpa-keda-lab-worker: the composite metric of scalingModifiers, the rendered target, min and max', async () => {
    const hpa = await waitFor(() => getJson<Hpa>(cluster.kubeconfig, `/apis/autoscaling/v2/namespaces/${ns()}/horizontalpodautoscalers/${HPA}`), {
      timeoutMs: 60_000,
      what: `the HPA ${HPA}`,
    })
    expect(hpa.spec.scaleTargetRef).toEqual({apiVersion: 'apps/v1', kind: 'Deployment', name: 'keda-lab-worker'})
    // Scale to zero: KEDA itself goes 0 <-> 1, its HPA works from 1 to the maximum.
    expect(hpa.spec.minReplicas).toBe(1)
    expect(hpa.spec.maxReplicas).toBe(answers.workerMaxReplicas)
    // The two triggers are replaced by ONE external metric: KEDA's value of the formula wait + active,
    // aimed at tasksPerReplica per worker.
    expect(hpa.spec.metrics).toEqual([
      {
        type: 'External',
        external: {
          metric: {name: 'composite-metric', selector: {matchLabels: {'scaledobject.keda.sh/name': SO}}},
          target: {type: 'AverageValue', averageValue: String(answers.tasksPerReplica)},
        },
      },
    ])
    // Install's --worker-scale-down window=10s reached KEDA's HPA (the API server's defaults for the rest).
    expect(hpa.spec.behavior?.scaleDown).toEqual({
      stabilizationWindowSeconds: 10,
      selectPolicy: 'Max',
      policies: [{type: 'Percent', value: 100, periodSeconds: 15}],
    })
    const so = await scaledObject()
    expect(so.status?.hpaName).toBe(HPA)
    expect(so.status?.compositeScalerName).toBe('composite-metric')
  }, 120_000)

  it('is Active exactly when bull:tasks:wait + bull:tasks:active hold tasks (waiting ones, then only running ones), and not once they are drained', async () => {
    expect(await queued()).toEqual({wait: 0, active: 0})
    // KEDA resets its conditions to Unknown when it reconciles the object again; its next poll decides.
    await activeBecomes('False', 'Active=False with empty lists')

    await queue.addBulk([1, 2, 3].map((i) => ({name: 'task', data: {i}})))
    expect(await queued()).toEqual({wait: 3, active: 0})
    await timed('Active=True after 3 jobs are added (wait=3)', () => activeBecomes('True', 'Active=True with 3 waiting jobs'))
    // KEDA's own activation: 0 -> 1 (the HPA has no metrics API yet).
    await timed('KEDA activates the worker Deployment 0 -> 1', () => replicasBecome(1, 'KEDA to activate the worker Deployment'))

    // A BullMQ Worker takes all three and holds them: wait is empty, active holds 3.
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const worker = startWorker(3, gate)
    await waitFor(
      async () => {
        const q = await queued()
        return (q.wait === 0 && q.active === 3) || notYet(JSON.stringify(q))
      },
      {what: 'the BullMQ worker to take the three jobs'},
    )
    // KEDA must still count them: a poll stamped after this moment finds the ScaledObject Active.
    const since = Math.ceil(Date.now() / 1000) * 1000
    await timed('a KEDA poll with only active jobs keeps it Active', () =>
      waitFor(
        async () => {
          const so = await scaledObject()
          const active = condition(so.status?.conditions, 'Active')
          if (active?.status === 'False') throw new Error(`Active=False (${active.reason}) while bull:${QUEUE}:active holds 3 jobs${kedaOutput()}`)
          if (active?.status !== 'True') return notYet(`Active=${active?.status}`)
          const last = Date.parse(so.status?.lastActiveTime ?? '')
          return last >= since || notYet(`lastActiveTime ${so.status?.lastActiveTime}`)
        },
        {timeoutMs: 60_000, intervalMs: 250, what: 'a KEDA poll after the jobs became active'},
      ),
    )

    // Drain: the worker finishes them; both lists are empty and KEDA deactivates.
    release()
    await waitFor(
      async () => {
        const q = await queued()
        return (q.wait === 0 && q.active === 0) || notYet(JSON.stringify(q))
      },
      {what: 'the jobs to complete'},
    )
    await closeWorker(worker)
    await timed('Active=False after the jobs completed', () => activeBecomes('False', 'Active=False once the lists are empty'))
  }, 300_000)

  it('the metrics adapter on a loopback ClusterIP serves the composite metric through the API server: exactly wait + active', async () => {
    // keda.ts: the APIService on the adapter's loopback ClusterIP, the adapter, then Available.
    await lab!.serveExternalMetrics()

    // Right after Available the aggregator may still answer 5xx for a moment (its proxy to the new
    // backend settling; the adapter's first gRPC call to the operator): that is "not yet", a wrong
    // value is not.
    await waitFor(async () => (await externalMetric()) === 0 || notYet('composite metric not 0'), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the composite metric to read 0 on an empty queue',
      ignore: (error) => /external metrics API answered 5\d\d/.test(String(error)),
    })
    await queue.addBulk([1, 2, 3, 4, 5].map((i) => ({name: 'task', data: {i}})))
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const worker = startWorker(2, gate)
    const counted = await waitFor(
      async () => {
        const q = await queued()
        return (q.wait === 3 && q.active === 2 && q) || notYet(JSON.stringify(q))
      },
      {what: 'two of the five jobs to be active'},
    )
    // The value the HPA will get: the formula over both lists (3 waiting + 2 running), not either list.
    await waitFor(
      async () => {
        const value = await externalMetric()
        if (value > counted.wait + counted.active) throw new Error(`composite metric ${value} exceeds wait + active = ${counted.wait + counted.active}`)
        return value === counted.wait + counted.active || notYet(`composite metric ${value}`)
      },
      {timeoutMs: 60_000, intervalMs: 500, what: 'the composite metric to equal wait + active'},
    )

    // Drain: the running ones finish and the waiting ones are removed; the metric returns to 0.
    await queue.drain()
    release()
    await waitFor(
      async () => {
        const q = await queued()
        return (q.wait === 0 && q.active === 0) || notYet(JSON.stringify(q))
      },
      {what: 'the queue to drain'},
    )
    await closeWorker(worker)
    await waitFor(async () => (await externalMetric()) === 0 || notYet('metric not 0 yet'), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the composite metric back at 0',
    })
  }, 300_000)

  it("the real HPA controller scales the worker Deployment to the maximum while the queue holds tasks, and back to one within install's scale-down window; KEDA takes it to zero when it drains", async () => {
    await timed('idle again: KEDA back at 0 replicas', () => replicasBecome(0, 'the idle worker Deployment at zero', 120_000))
    // 8 tasks at 2 per worker want 4 workers: more than the maximum of 3.
    await queue.addBulk(Array.from({length: 8}, (_, i) => ({name: 'task', data: {i}})))
    await timed('scale-up 0 -> 3 (KEDA activation, then the HPA controller)', () =>
      replicasBecome(answers.workerMaxReplicas, 'the worker Deployment at the maximum'),
    )
    const hpa = await waitFor(
      async () => {
        const h = await getJson<Hpa>(cluster.kubeconfig, `/apis/autoscaling/v2/namespaces/${ns()}/horizontalpodautoscalers/${HPA}`)
        return (h?.status?.desiredReplicas === answers.workerMaxReplicas && h) || notYet(`desiredReplicas ${h?.status?.desiredReplicas}`)
      },
      {timeoutMs: 60_000, what: 'the HPA status to show the maximum'},
    )
    // The HPA controller itself read the metric through the aggregated API and was capped at the maximum.
    expect(condition(hpa.status?.conditions, 'ScalingActive')).toMatchObject({status: 'True', reason: 'ValidMetricFound'})
    expect(condition(hpa.status?.conditions, 'ScalingLimited')).toMatchObject({status: 'True', reason: 'TooManyReplicas'})
    await waitFor(async () => (await deployment()).status?.readyReplicas === answers.workerMaxReplicas || notYet('pods not all ready'), {
      timeoutMs: 60_000,
      what: 'kwok to run the three worker pods',
    })

    // Two tasks keep running (a gated BullMQ worker holds them) and the six waiting ones are removed:
    // wait + active = 2 wants one worker, and the queue is still Active, so KEDA leaves the scale to
    // its HPA, which comes down once install's 10 s window has passed (its default: 300 s).
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const holder = startWorker(2, gate)
    await waitFor(
      async () => {
        const q = await queued()
        return q.active === 2 || notYet(JSON.stringify(q))
      },
      {timeoutMs: 30_000, what: 'two tasks running'},
    )
    await queue.drain()
    expect(await queued()).toEqual({wait: 0, active: 2})
    await timed("scale-down 3 -> 1 by the HPA controller (install's --worker-scale-down window=10s; 2 tasks running)", () =>
      replicasBecome(1, 'the HPA to scale the worker Deployment down to one', 120_000),
    )
    // Still Active (two tasks running): the way down was the HPA's, not KEDA's deactivation.
    await activeBecomes('True', 'Active=True while two tasks run')

    // Drain: the two finish; KEDA deactivates and after its cooldown scales to 0.
    release()
    await waitFor(
      async () => {
        const q = await queued()
        return (q.wait === 0 && q.active === 0) || notYet(JSON.stringify(q))
      },
      {timeoutMs: 30_000, what: 'the two running tasks to complete'},
    )
    await closeWorker(holder)
    await timed(`scale-down 1 -> 0 after draining (KEDA, cooldownPeriod ${COOLDOWN_SECONDS} s)`, () =>
      replicasBecome(0, 'the worker Deployment back at zero', 120_000),
    )
  }, 300_000)

  it('the Redis password KEDA read from the Secret appears in neither KEDA log', () => {
    for (const log of ['keda-operator.log', 'keda-adapter.log']) {
      const text = readFileSync(join(workDir, log), 'utf8')
      expect(text.length, log).toBeGreaterThan(0)
      expect(text.includes(redisPassword), `${log} contains the Redis password`).toBe(false)
    }
  })
})
