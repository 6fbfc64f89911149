/**
 * The run's per-second records: a ticker on the run's clock emits one `SecondRecord` a second
 * (counts, VUs, stage, target rate, the scaling sample taken as the second began), checks the
 * thresholds live under --abort-on-fail, and after the load keeps emitting while the system settles.
 */
import {type ExecutorConfig, isOpenModel, rateAt, type Shard, stageLabel} from './executors.js'
import type {ScalingSample, SecondRecord} from './records.js'
import type {LoadTestDeps, RunState} from './run-state.js'
import {firstLiveFailure, type Threshold} from './thresholds.js'
import {pause, withTimeout} from './waits.js'

/** What the records read of the run besides its state. */
export interface RecordsRun {
  /** This process's slice of the executor. */
  config: ExecutorConfig
  shard: Shard
  date: () => Date
  /** A shard's seconds carry their histograms: the coordinator merges them exactly. */
  sharded: boolean
  thresholds: readonly Threshold[]
  abortOnFail: boolean
}

/** Emits the run's records, in order, to `deps.onRecord`. */
export class SecondRecords {
  private second = 0
  private emitting: Promise<void> = Promise.resolve()
  private nextSample: Promise<ScalingSample | undefined>
  private readonly tickerStop = new AbortController()
  private ticker: Promise<void> = Promise.resolve()

  /** Takes the baseline sample at once: record 0 carries the state before the first request. */
  constructor(
    private readonly state: RunState,
    private readonly run: RecordsRun,
    private readonly deps: Pick<LoadTestDeps, 'onRecord' | 'sample' | 'settled' | 'signal'>,
  ) {
    // A record's scaling sample is the one taken as its second began: record 0 carries the state
    // before the first request (the baseline the scaling facts start from), and each later sample
    // is still one second apart.
    this.nextSample = this.takeSample()
  }

  /** The baseline sample, to be read before the clock starts. */
  async baseline(): Promise<void> {
    await this.nextSample
  }

  private takeSample(): Promise<ScalingSample | undefined> {
    return this.deps.sample ? withTimeout(this.deps.sample(), 2000) : Promise.resolve(undefined)
  }

  /** Emits the next second's record (its scaling sample once it is in), then checks --abort-on-fail. */
  emit(): void {
    const {state, run} = this
    const {config} = run
    const open = isOpenModel(config)
    const t = this.second++
    const counts = state.metrics.takeSecond(open, run.sharded)
    const tMs = (t + 0.5) * 1000
    const record: SecondRecord = {
      t,
      at: run.date().toISOString(),
      ...(state.loadEndedAt === undefined && stageLabel(config, tMs) ? {stage: stageLabel(config, tMs)} : {}),
      vus: open ? state.inFlight : state.activeVUs,
      ...(open ? {targetRate: state.loadEndedAt === undefined ? rateAt(config, tMs) / run.shard.count : 0} : {}),
      ...counts,
    }
    const sampled = this.nextSample
    this.nextSample = this.takeSample()
    this.emitting = this.emitting.then(async () => {
      const scaling = await sampled
      if (scaling) record.scaling = scaling
      this.deps.onRecord?.(record)
    })
    if (run.abortOnFail && !state.abortedBy) {
      const failure = firstLiveFailure(run.thresholds, state.metrics.view())
      if (failure) state.abortOn(failure)
    }
  }

  /** Emits a record at the end of every second of the run's clock, until `stopTicker`. */
  startTicker(): void {
    const stop = this.tickerStop.signal
    this.ticker = (async () => {
      while (!stop.aborted) {
        const next = this.state.t0 + (this.second + 1) * 1000
        await pause(next - this.state.now(), stop)
        if (stop.aborted) break
        this.emit()
      }
    })()
  }

  async stopTicker(): Promise<void> {
    this.tickerStop.abort()
    await this.ticker
  }

  /**
   * After the load, keeps emitting a record a second for `watchMs` (with a sampler only, and not
   * after Ctrl-C), or until `settled()` says there is nothing more to watch.
   */
  async watchSettling(watchMs: number): Promise<void> {
    const {deps, state} = this
    if (!(watchMs > 0 && deps.sample && !deps.signal?.aborted)) return
    const watchStop = new AbortController()
    const onStop = () => watchStop.abort()
    deps.signal?.addEventListener('abort', onStop, {once: true})
    const until = state.now() + watchMs
    while (state.now() < until && !watchStop.signal.aborted && !deps.settled?.()) {
      await pause(Math.min(1000, until - state.now()), watchStop.signal)
      if (watchStop.signal.aborted) break
      this.emit()
      await this.emitting
    }
    deps.signal?.removeEventListener('abort', onStop)
  }

  /** Resolves once every record emitted so far went to `onRecord`. */
  async flushed(): Promise<void> {
    await this.emitting
  }
}
