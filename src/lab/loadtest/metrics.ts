/**
 * What a run measures, in bounded memory: HDR histograms for the whole run (per step, from the
 * scheduled and from the actual send, task end to end, scheduler lag) and one set for the current
 * second, reset each time the second is handed out as a record; counters for the run and for the
 * second; checks by name.
 */
import {createHistogram, type LatencyHistogram} from './histograms.js'
import {type LatencyStats, type SecondRecord, STEPS, type Step} from './records.js'
import type {ThresholdView} from './thresholds.js'

/** The per-second part of a `SecondRecord` (the engine adds time, VUs, rate, stage and scaling). */
export type SecondCounts = Pick<
  SecondRecord,
  | 'iterationsStarted'
  | 'iterationsCompleted'
  | 'droppedIterations'
  | 'requests'
  | 'errors'
  | 'checks'
  | 'latency'
  | 'tasksCompleted'
  | 'taskLatency'
  | 'schedulerLagP99'
  | 'histograms'
>

const zeroSteps = (): Record<Step, number> => ({add: 0, status: 0})

/** The run's measurements. */
export class RunMetrics {
  readonly latency: Record<Step, LatencyHistogram> = {add: createHistogram(), status: createHistogram()}
  readonly latencyFromSend: Record<Step, LatencyHistogram> = {add: createHistogram(), status: createHistogram()}
  /** Queued (the add answered) → the first poll that saw Completed. */
  readonly task = createHistogram()
  /** The API's own `timeElapsed` of completed tasks (processing time). */
  readonly taskElapsed = createHistogram()
  readonly lag = createHistogram()
  readonly checks = new Map<string, {passes: number; fails: number}>()
  readonly requests = zeroSteps()
  errors = 0
  readonly iterations = {started: 0, completed: 0, failed: 0, dropped: 0, interrupted: 0}
  readonly tasks = {queued: 0, completed: 0, failed: 0}
  checksPassed = 0
  checksFailed = 0

  private readonly second = {
    latency: {add: createHistogram(), status: createHistogram()} as Record<Step, LatencyHistogram>,
    lag: createHistogram(),
    task: createHistogram(),
    requests: zeroSteps(),
    errors: 0,
    started: 0,
    completed: 0,
    dropped: 0,
    passed: 0,
    failed: 0,
    tasksCompleted: 0,
  }

  /** One response (or transport failure) of `step`: latency from the scheduled time and from the send. */
  request(step: Step, fromScheduledMs: number, fromSendMs: number, error: boolean): void {
    this.latency[step].record(fromScheduledMs)
    this.latencyFromSend[step].record(fromSendMs)
    this.second.latency[step].record(fromScheduledMs)
    this.requests[step]++
    this.second.requests[step]++
    if (error) {
      this.errors++
      this.second.errors++
    }
  }

  check(name: string, ok: boolean): boolean {
    let entry = this.checks.get(name)
    if (!entry) {
      entry = {passes: 0, fails: 0}
      this.checks.set(name, entry)
    }
    if (ok) {
      entry.passes++
      this.checksPassed++
      this.second.passed++
    } else {
      entry.fails++
      this.checksFailed++
      this.second.failed++
    }
    return ok
  }

  iterationStarted(lagMs?: number): void {
    this.iterations.started++
    this.second.started++
    if (lagMs !== undefined) {
      this.lag.record(lagMs)
      this.second.lag.record(lagMs)
    }
  }

  iterationEnded(outcome: 'completed' | 'failed' | 'interrupted'): void {
    this.iterations[outcome]++
    if (outcome === 'completed') this.second.completed++
  }

  dropped(): void {
    this.iterations.dropped++
    this.second.dropped++
  }

  taskQueued(): void {
    this.tasks.queued++
  }

  taskCompleted(endToEndMs: number, elapsedMs: number | undefined): void {
    this.tasks.completed++
    this.second.tasksCompleted++
    this.task.record(endToEndMs)
    this.second.task.record(endToEndMs)
    if (elapsedMs !== undefined) this.taskElapsed.record(elapsedMs)
  }

  taskFailed(): void {
    this.tasks.failed++
  }

  /**
   * The current second's figures; the per-second histograms and counters start again from zero.
   * With `encodeHistograms` (a shard of a cluster run), the second's non-empty histograms are
   * encoded too, so the coordinator can merge the shards' seconds exactly (merge.ts).
   */
  takeSecond(openModel: boolean, encodeHistograms = false): SecondCounts {
    const s = this.second
    const latency: Partial<Record<Step, LatencyStats>> = {}
    const encoded: Record<string, string> = {}
    for (const step of STEPS) {
      if (s.latency[step].count > 0) {
        latency[step] = s.latency[step].stats()
        if (encodeHistograms) encoded[step] = s.latency[step].encode()
      }
      s.latency[step].reset()
    }
    if (encodeHistograms) {
      if (s.task.count > 0) encoded.task = s.task.encode()
      if (openModel && s.lag.count > 0) encoded.lag = s.lag.encode()
    }
    const counts: SecondCounts = {
      iterationsStarted: s.started,
      iterationsCompleted: s.completed,
      droppedIterations: s.dropped,
      requests: {...s.requests},
      errors: s.errors,
      checks: {passed: s.passed, failed: s.failed},
      latency,
      tasksCompleted: s.tasksCompleted,
      ...(s.task.count > 0 ? {taskLatency: s.task.stats()} : {}),
      ...(openModel ? {schedulerLagP99: s.lag.count > 0 ? s.lag.stats().p99 : 0} : {}),
      ...(Object.keys(encoded).length > 0 ? {histograms: encoded} : {}),
    }
    s.lag.reset()
    s.task.reset()
    s.requests = zeroSteps()
    s.errors = 0
    s.started = 0
    s.completed = 0
    s.dropped = 0
    s.passed = 0
    s.failed = 0
    s.tasksCompleted = 0
    return counts
  }

  /** What thresholds read (the rate and scaling facts are added by the engine). */
  view(): ThresholdView {
    return {
      histograms: {add: this.latency.add, status: this.latency.status, task: this.task, lag: this.lag},
      checks: {passes: this.checksPassed, fails: this.checksFailed},
      requests: this.requests.add + this.requests.status,
      errors: this.errors,
      iterations: {started: this.iterations.started, completed: this.iterations.completed, failed: this.iterations.failed, dropped: this.iterations.dropped},
      tasks: {completed: this.tasks.completed, failed: this.tasks.failed},
    }
  }
}
