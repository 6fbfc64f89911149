/**
 * The state of one load-test run, shared by its parts: the orchestration (run.ts), the executors'
 * drivers (drivers.ts), the per-second records (seconds.ts) and the summary (summary.ts). One
 * object passed explicitly, so that each part is a module-level function of what it reads.
 */
import type {ExecutorConfig, Shard} from './executors.js'
import type {HttpClient} from './http.js'
import {RunMetrics} from './metrics.js'
import type {LoadSummary, ScalingFacts, ScalingSample, SecondRecord, ThresholdResult} from './records.js'
import {runIteration, type ScenarioTiming} from './scenario.js'
import type {Threshold} from './thresholds.js'

export interface LoadTestOptions {
  /** The profile's name ("custom", a file's name). */
  profile: string
  /** The whole run's executor; with `shard`, this process runs its slice. */
  executor: ExecutorConfig
  target: LoadSummary['target']
  shard?: Shard
  /** Task size: the typed route `POST /api/tasks {iterations}`; undefined: the original route. */
  taskIterations?: number
  thresholds: readonly Threshold[]
  abortOnFail?: boolean
  /** Scales the scenario's 2 s sleep and 1 s polls along with the profile (`--time-scale`). */
  timeScale?: number
  /**
   * After the load, keep sampling (and emitting records) this long, or until `settled()` says the
   * system is back at rest: scale-down is part of what the lab is for.
   */
  watchAfterMs?: number
  /** After Ctrl-C, how long iterations in flight get to finish (default 3 s). */
  stopGraceMs?: number
  /** keda-lab's version, for the summary. */
  version: string
}

export interface LoadTestDeps {
  /** The HTTP client (default: http.ts, one pool of keep-alive connections to the target). */
  http?: HttpClient
  /** Each second of the run, in order. */
  onRecord?: (record: SecondRecord) => void
  /** Called once a second; its answer goes in the record's `scaling`. */
  sample?: () => Promise<ScalingSample | undefined>
  /** The summary's scaling facts, asked once at the end (after the last record). */
  scalingFacts?: () => ScalingFacts
  /** During `watchAfterMs`: true once there is nothing more to watch (queue empty, workers back). */
  settled?: () => boolean
  /** Aborted on Ctrl-C: stop starting, wait briefly, summarise. */
  signal?: AbortSignal
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number
  date?: () => Date
}

/** The run's counters, stop signals and clock; `iterate` runs one iteration of the scenario. */
export class RunState {
  readonly metrics = new RunMetrics()
  /** No new iteration starts once this aborts. */
  readonly stopStarting = new AbortController()
  /** Iterations in flight are interrupted once this aborts. */
  readonly hardStop = new AbortController()
  inFlight = 0
  activeVUs = 0
  interrupted = false
  abortedBy: ThresholdResult | undefined
  /** When the clock started (`startClock`): the run's time 0. */
  t0 = 0
  /** Set once the load is over: records after it carry no stage and no target rate. */
  loadEndedAt: number | undefined
  private ctrlCTimer: NodeJS.Timeout | undefined

  constructor(
    readonly http: HttpClient,
    readonly now: () => number,
    private readonly timing: ScenarioTiming,
    private readonly taskIterations: number | undefined,
  ) {}

  startClock(): void {
    this.t0 = this.now()
  }

  /**
   * One iteration, interrupted when `signal` aborts: the run's hard stop itself, shared by every
   * iteration (no controller or listener per iteration), or for a ramping VU its own controller
   * that the hard stop also aborts.
   */
  async iterate(scheduledAt: number, signal: AbortSignal = this.hardStop.signal): Promise<void> {
    this.inFlight++
    try {
      const outcome = await runIteration({
        http: this.http,
        metrics: this.metrics,
        signal,
        scheduledAt,
        now: this.now,
        timing: this.timing,
        taskIterations: this.taskIterations,
      })
      this.metrics.iterationEnded(outcome)
    } finally {
      this.inFlight--
    }
  }

  /** Ctrl-C: nothing starts any more, and whatever grace the executor gives, the iterations in flight get only `graceMs`. */
  stopByUser(graceMs: number): void {
    this.interrupted = true
    this.stopStarting.abort(new Error('stopped (Ctrl-C)'))
    this.ctrlCTimer = setTimeout(() => this.hardStop.abort(new Error('stopped (Ctrl-C)')), graceMs)
  }

  /** Once the load is over, Ctrl-C's grace timer has nothing left to interrupt. */
  clearCtrlCTimer(): void {
    clearTimeout(this.ctrlCTimer)
  }

  /** --abort-on-fail: a threshold failed during the run; everything stops at once. */
  abortOn(failure: ThresholdResult): void {
    this.abortedBy = failure
    this.interrupted = true
    this.stopStarting.abort(new Error(`threshold ${failure.expression} failed`))
    this.hardStop.abort(new Error(`threshold ${failure.expression} failed`))
  }
}
