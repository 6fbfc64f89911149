/**
 * The one stream a load test produces, and the summary it ends with. The engine writes
 * `SecondRecord`s (one per second of the run) and a `LoadSummary`; everything that shows a run
 * reads only these: the live view, the plain progress lines, `summary.json`, the time series
 * (NDJSON/CSV), `report.html` and the merge of a cluster run's shards. A renderer never reaches
 * into the engine (CONVENTIONS.md, "A load engine").
 *
 * Times are milliseconds unless the name says otherwise. `summary.json` carries
 * `schemaVersion`; a field is only ever added, never renamed or re-typed, within a version.
 */

/** The steps of one iteration of the lab's scenario. */
export const STEPS = ['add', 'status'] as const
export type Step = (typeof STEPS)[number]

/** Percentiles of one HDR histogram, in milliseconds (what the screens and reports show). */
export interface LatencyStats {
  count: number
  min: number
  mean: number
  p50: number
  p90: number
  p95: number
  p99: number
  max: number
}

/**
 * What the scaling watcher saw at one sample: the cluster's view (worker Deployment, KEDA's
 * ScaledObject and HPA, the API's HPA) or a dev stack's (its local autoscaler's workers), and the
 * queue as the API's `GET /api/queue` reports it. A field is absent when that source could not
 * say; `error` says why the whole sample is missing.
 */
export interface ScalingSample {
  source: 'cluster' | 'dev' | 'queue-only'
  queueWaiting?: number
  queueActive?: number
  /** Worker replicas now (cluster: the Deployment's ready replicas; dev: worker processes). */
  workers?: number
  /** What the autoscaler wants (cluster: KEDA's HPA desiredReplicas; dev: its last decision). */
  workersDesired?: number
  /** The autoscaler's configured minimum (cluster: the ScaledObject's minReplicaCount; dev: --min-workers). */
  workersMinReplicas?: number
  scaledObjectReady?: boolean
  scaledObjectActive?: boolean
  apiReplicas?: number
  apiReplicasDesired?: number
  /** The API HPA's current CPU utilisation in percent of requests. */
  apiCpuPercent?: number
  error?: string
}

/** One second of the run. `t` counts whole seconds from the start of the load. */
export interface SecondRecord {
  t: number
  /** ISO time at the end of this second. */
  at: string
  /** The profile's stage at this second (e.g. "ramp 2/3: 10 → 20 VUs"), when it has stages. */
  stage?: string
  /** VUs running now (closed model), or iterations in flight (open model). */
  vus: number
  /** Open model: the iteration start rate asked for at this second, per second. */
  targetRate?: number
  iterationsStarted: number
  iterationsCompleted: number
  /** Open model: iterations that could not start (no free VU under --max-vus). */
  droppedIterations: number
  requests: Record<Step, number>
  /** Requests that failed at the transport level or answered 5xx. */
  errors: number
  checks: {passed: number; failed: number}
  /** Latency measured from the scheduled start (coordinated-omission-safe), per step. */
  latency: Partial<Record<Step, LatencyStats>>
  /** Tasks seen `Completed` for the first time in this second. */
  tasksCompleted: number
  /** End-to-end latency (queued → first `Completed` poll) of the tasks completed in this second. */
  taskLatency?: LatencyStats
  /** Open model: scheduler lag (actual start minus scheduled start) p99 in this second. */
  schedulerLagP99?: number
  /**
   * What the watcher saw as this second began (record 0: before the first request, the baseline),
   * when a sampler runs.
   */
  scaling?: ScalingSample
  /**
   * The second's HDR histograms, base64-encoded as `LoadSummary.histograms` (keys `add`, `status`,
   * `task`, `lag`; microseconds), when the engine gives them: a cluster run merges its shards'
   * seconds from these exactly (merge.ts). A merged second carries none.
   */
  histograms?: Record<string, string>
}

/** A threshold as given (`add.p95<200ms`) and how it came out. */
export interface ThresholdResult {
  expression: string
  ok: boolean
  /** The measured value, in the threshold's unit, as shown to the user. */
  actual: string
}

/** The scaling facts no load-test tool gives: what the autoscaler did in answer to the load. */
export interface ScalingFacts {
  source: ScalingSample['source'] | 'none'
  /** `t` of the first and the last second with an `add` request (the report marks them). */
  firstAddT?: number
  lastAddT?: number
  /** Workers when the load started, and the most seen. */
  workersAtStart?: number
  workersMax?: number
  workersMin?: number
  /** The autoscaler's configured minimum, when the samples said it (what "back to the minimum" means). */
  workersMinReplicas?: number
  /** Seconds from the first queued task to the first scale-up; absent if none happened. */
  firstScaleUpS?: number
  /** Seconds from the first queued task until `workersMax` was first reached. */
  toMaxS?: number
  /** Peak of waiting + active tasks. */
  backlogPeak?: number
  /** Seconds from the last add to an empty queue; absent when it did not drain while watched. */
  drainS?: number
  /**
   * Seconds from the last add until workers were back at the minimum: `workersMinReplicas` when
   * known, else `workersMin` (not the first sample: it may already be above it, a second into the load).
   */
  backToMinS?: number
  /** Said when back-to-min did not happen while watched: "not yet, after 95 s". */
  backToMinNote?: string
  apiReplicasMax?: number
  /** Every change of worker (or API) replicas seen, for the report's markers. */
  events: {t: number; what: 'workers' | 'api'; from: number; to: number}[]
}

/** How one run ended. */
export interface LoadSummary {
  schemaVersion: 1
  tool: {name: 'keda-lab'; version: string}
  profile: string
  /** The executor and its resolved configuration (VUs, iterations, stages, rates, durations). */
  executor: {type: string; [key: string]: unknown}
  /** `cluster-service`: a cluster run's pods sent the load to the API's Service address inside the cluster. */
  target: {url: string; source: 'flag' | 'dev' | 'cluster-lb' | 'port-forward' | 'cluster-service'; reason: string}
  /** Present for one shard of a cluster run (`--shard i/N`). */
  shard?: {index: number; count: number}
  /**
   * A cluster run's merge (`--runner cluster`): the pods of its Job, and how many of them reported
   * a summary (fewer than `count` only when the run was stopped, which `interrupted` says).
   */
  shards?: {count: number; reported: number}
  startedAt: string
  endedAt: string
  durationS: number
  /** Seconds from the start to the end of the load (without the watching after it). */
  loadDurationS?: number
  /** true when Ctrl-C (or --abort-on-fail) stopped the run early. */
  interrupted: boolean
  /** The threshold that stopped the run under --abort-on-fail. */
  abortedBy?: string
  /**
   * `interrupted`: iterations cut short (the graceful stop or ramp-down was over, or Ctrl-C);
   * `failed`: the add gave no task id, or the task ended Failed/Cancelled or vanished.
   */
  iterations: {started: number; completed: number; dropped: number; failed: number; interrupted?: number}
  /** Open model: the start rate asked for and achieved, per second, over the whole run. */
  rate?: {asked: number; achieved: number}
  requests: Record<Step, number>
  errors: number
  latency: Partial<Record<Step | 'task', LatencyStats>>
  /** Latency from the actual send, beside the coordinated-omission-safe one above. */
  latencyFromSend: Partial<Record<Step, LatencyStats>>
  /** The API's own `timeElapsed` of the completed tasks (their processing time), in ms. */
  taskTimeElapsed?: LatencyStats
  schedulerLag?: LatencyStats
  checks: Record<string, {passes: number; fails: number}>
  thresholds: ThresholdResult[]
  tasks: {queued: number; completed: number; failed: number}
  scaling: ScalingFacts
  /**
   * The HDR histograms behind the figures, base64-encoded (hdr-histogram-js `encode`), so that
   * shards merge exactly. Keys: `add`, `status`, `task`, `task.elapsed`, `add.fromSend`,
   * `status.fromSend`, `lag`. Values are recorded in microseconds.
   */
  histograms: Record<string, string>
  /** 0 ok, 99 a threshold failed (the load-test convention), other codes for errors. */
  exitCode: number
}
