/**
 * Record streams for the tests of what reads them (scaling facts, live view, report) before and
 * beside a real run: a small simulation of a ramp against an autoscaled queue, driven by a seeded
 * pseudo-random generator so a failure can be replayed from the seed the test prints.
 */
import type {LatencyStats, LoadSummary, ScalingSample, SecondRecord} from '../../src/lab/loadtest/records.js'

/** mulberry32: small, fast, good enough for test inputs; the same seed gives the same stream. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Latency figures around a median, in order (p50 ≤ p90 ≤ … ≤ max). */
export function latency(rand: () => number, median: number, count: number): LatencyStats {
  const p50 = median * (0.8 + rand() * 0.4)
  const p90 = p50 * (1.3 + rand() * 0.5)
  const p95 = p90 * (1.05 + rand() * 0.2)
  const p99 = p95 * (1.1 + rand() * 0.6)
  const round = (n: number) => Math.round(n * 100) / 100
  return {count, min: round(p50 * 0.4), mean: round(p50 * 1.1), p50: round(p50), p90: round(p90), p95: round(p95), p99: round(p99), max: round(p99 * 1.4)}
}

export interface SimOptions {
  seed: number
  /** VUs per second of load: the ramp's shape (e.g. 0→10→20→0). */
  vus: number[]
  /** Seconds of watching after the load ends. */
  tailS: number
  minWorkers: number
  maxWorkers: number
  tasksPerWorker: number
  /** Tasks one worker finishes per second. */
  workerRate: number
  /** Seconds a scale-up takes to show. */
  scaleDelayS: number
  /** Seconds the queue must be below target before a scale-down (stabilisation). */
  scaleDownAfterS: number
  source?: ScalingSample['source']
  /** Seconds (t) whose sample failed (an `error` sample). */
  failedSamples?: number[]
  /** Draw the API's replicas and CPU too (cluster runs). */
  api?: boolean
}

/**
 * A ramp against an autoscaled queue: each VU queues a task every ~4 s, workers drain the queue,
 * the autoscaler follows `ceil(backlog / tasksPerWorker)` with a delay up and a stabilisation down.
 */
export function simulateRun(o: SimOptions): SecondRecord[] {
  const rand = prng(o.seed)
  const records: SecondRecord[] = []
  let waiting = 0
  let active = 0
  let workers = o.minWorkers
  let desired = o.minWorkers
  let pendingUpAt: number | undefined
  let belowSince: number | undefined
  let apiReplicas = 1
  const start = Date.parse('2026-12-07T01:00:00.000Z')
  const total = o.vus.length + o.tailS
  for (let t = 0; t < total; t++) {
    const vus = o.vus[t] ?? 0
    const adds = Array.from({length: vus}, () => (rand() < 0.25 ? 1 : 0)).reduce<number>((a, b) => a + b, 0)
    const statuses = Math.round(vus * (0.6 + rand() * 0.2))
    waiting += adds
    const capacity = Math.floor(workers * o.workerRate + rand())
    const done = Math.min(active, capacity)
    active -= done
    const start2 = Math.min(waiting, workers * o.tasksPerWorker - active)
    waiting -= start2
    active += start2
    const backlog = waiting + active
    const want = Math.min(o.maxWorkers, Math.max(o.minWorkers, Math.ceil(backlog / o.tasksPerWorker)))
    if (want > workers) {
      belowSince = undefined
      if (pendingUpAt === undefined) pendingUpAt = t + o.scaleDelayS
      desired = want
      if (t >= pendingUpAt) {
        workers = want
        pendingUpAt = undefined
      }
    } else if (want < workers) {
      belowSince ??= t
      // Down one replica at a time (an HPA scale-down policy), every other second once stable.
      if (t - belowSince >= o.scaleDownAfterS) {
        workers -= 1
        desired = workers
        belowSince = t - o.scaleDownAfterS + 2
      }
    } else {
      belowSince = undefined
    }
    if (o.api) apiReplicas = vus >= 15 ? 3 : vus >= 8 ? 2 : t > o.vus.length + 10 ? 1 : apiReplicas
    const failed = o.failedSamples?.includes(t)
    const scaling: ScalingSample = failed
      ? {source: o.source ?? 'dev', error: 'cannot read the queue (connection refused)'}
      : {
          source: o.source ?? 'dev',
          queueWaiting: waiting,
          queueActive: active,
          workers,
          workersDesired: desired,
          ...(o.api
            ? {
                apiReplicas,
                apiReplicasDesired: apiReplicas,
                apiCpuPercent: Math.round(vus * 4 + rand() * 10),
                scaledObjectReady: true,
                scaledObjectActive: backlog > 0,
              }
            : {}),
        }
    const checksFailed = rand() < 0.03 ? 1 : 0
    records.push({
      t,
      at: new Date(start + (t + 1) * 1000).toISOString(),
      ...(t < o.vus.length ? {stage: `ramp ${Math.min(3, 1 + Math.floor((t * 3) / o.vus.length))}/3`} : {}),
      vus,
      iterationsStarted: adds,
      iterationsCompleted: Math.max(0, done - (rand() < 0.5 ? 1 : 0)),
      droppedIterations: 0,
      requests: {add: adds, status: statuses},
      errors: checksFailed,
      checks: {passed: (adds + statuses) * 4 - checksFailed, failed: checksFailed},
      latency: {
        ...(adds > 0 ? {add: latency(rand, 4 + vus * 0.3, adds)} : {}),
        ...(statuses > 0 ? {status: latency(rand, 2 + vus * 0.1, statuses)} : {}),
      },
      tasksCompleted: done,
      ...(done > 0 ? {taskLatency: latency(rand, 3000 + backlog * 200, done)} : {}),
      scaling,
    })
  }
  return records
}

/** The ramp profile's shape, one VU count per second: 1 → 10 in a, → 20 in b, → 0 in c seconds. */
export function rampShape(a: number, b: number, c: number): number[] {
  const out: number[] = []
  for (let i = 0; i < a; i++) out.push(Math.round(1 + (9 * (i + 1)) / a))
  for (let i = 0; i < b; i++) out.push(Math.round(10 + (10 * (i + 1)) / b))
  for (let i = 0; i < c; i++) out.push(Math.round(20 - (20 * (i + 1)) / c))
  return out
}

/** A summary for those records, as the engine would end (only what the report reads needs to be right). */
export function summaryFor(records: readonly SecondRecord[], scaling: LoadSummary['scaling']): LoadSummary {
  const sum = (f: (r: SecondRecord) => number) => records.reduce((n, r) => n + f(r), 0)
  const rand = prng(7)
  const adds = sum((r) => r.requests.add)
  const statuses = sum((r) => r.requests.status)
  const completed = sum((r) => r.tasksCompleted)
  const first = records[0]
  const last = records.at(-1)
  return {
    schemaVersion: 1,
    tool: {name: 'keda-lab', version: '0.1.0'},
    profile: 'ramp',
    executor: {type: 'ramping-vus', startVUs: 1, stages: [{duration: '30s', target: 10}]},
    target: {url: 'http://127.0.0.1:8000', source: 'dev', reason: 'a running keda-lab dev (pid 1234)'},
    startedAt: first ? new Date(Date.parse(first.at) - 1000).toISOString() : '',
    endedAt: last?.at ?? '',
    durationS: records.length,
    interrupted: false,
    iterations: {started: adds, completed, dropped: 0, failed: 0},
    requests: {add: adds, status: statuses},
    errors: sum((r) => r.errors),
    latency: {add: latency(rand, 8, adds), status: latency(rand, 3, statuses), task: latency(rand, 6000, completed)},
    latencyFromSend: {add: latency(rand, 7, adds), status: latency(rand, 3, statuses)},
    checks: {
      'add: status 200': {passes: adds, fails: 0},
      'add: content-type application/json': {passes: adds - 1, fails: 1},
      'status: status 200': {passes: statuses, fails: 0},
    },
    thresholds: [{expression: 'checks>99%', ok: true, actual: '99.9%'}],
    tasks: {queued: adds, completed, failed: 0},
    scaling,
    histograms: {},
    exitCode: 0,
  }
}
