/**
 * One summary from the shards of a cluster run (`--runner cluster --parallel N`), merged exactly:
 * counts are added, and every latency figure is recomputed from the shards' HDR histograms
 * (decoded from `LoadSummary.histograms` and added bucket by bucket), never averaged from their
 * percentiles. Thresholds are then evaluated on the merged summary by the caller, as for a local run.
 */
import {KedaLabError} from '../../errors.js'
import {type ExecutorConfig, stageLabel} from './executors.js'
import {decodeHistogram, type LatencyHistogram} from './histograms.js'
import type {LatencyStats, LoadSummary, ScalingSample, SecondRecord, Step} from './records.js'
import {STEPS} from './records.js'
import {recordSecond} from './shard-log.js'
import {evaluateThreshold, type Threshold, type ThresholdView} from './thresholds.js'

/** Decodes and adds the encoded histograms (the engine's, histograms.ts) into one. */
export function mergeEncodedHistograms(encoded: readonly string[]): LatencyHistogram | undefined {
  let merged: LatencyHistogram | undefined
  for (const text of encoded) {
    const h = decodeHistogram(text)
    if (!merged) merged = h
    else {
      merged.add(h)
      h.raw.destroy()
    }
  }
  return merged
}

/** What the merge needs besides the shards. */
export interface MergeOptions {
  /** The whole run's executor (the shards each report their slice's). */
  executor: LoadSummary['executor']
  /** The coordinator's view of the scaling (the shards do not watch it). */
  scaling: LoadSummary['scaling']
  /** When no shard reported (a run stopped before any could): what the empty summary says. */
  none?: Pick<LoadSummary, 'profile' | 'target' | 'tool' | 'startedAt' | 'endedAt'>
}

/**
 * The shards' summaries, each once, index 0..N-1, all of the same run; or one error naming what is
 * wrong. `partial`: a stopped run, where some shards may not have reported (none missing is then fine).
 */
export function checkShards(shards: readonly LoadSummary[], count: number, partial = false): void {
  const seen = new Map<number, LoadSummary>()
  for (const s of shards) {
    if (!s.shard)
      throw new KedaLabError('a pod printed a summary without its shard', {
        hint: 'the image runs an older keda-lab: install the lab with an image of this version',
      })
    if (s.shard.count !== count) throw new KedaLabError(`shard ${s.shard.index} ran as one of ${s.shard.count}, expected one of ${count}`)
    if (seen.has(s.shard.index)) throw new KedaLabError(`shard ${s.shard.index} reported twice`)
    seen.set(s.shard.index, s)
  }
  const missing = [...Array(count).keys()].filter((i) => !seen.has(i))
  if (missing.length > 0 && !partial) throw new KedaLabError(`no summary from shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count}`)
  const profiles = new Set(shards.map((s) => s.profile))
  if (profiles.size > 1) throw new KedaLabError(`the shards ran different profiles: ${[...profiles].join(', ')}`)
}

/** The figures a shard reported itself for a histogram key (`add`, `task`, `add.fromSend`, `lag`). */
function statsOf(s: LoadSummary, key: string): LatencyStats | undefined {
  if (key === 'lag') return s.schedulerLag
  if (key === 'task.elapsed') return s.taskTimeElapsed
  const [step, variant] = key.split('.')
  if (variant === 'fromSend') return s.latencyFromSend[step as Step]
  return variant === undefined ? s.latency[step as Step | 'task'] : undefined
}

/**
 * An encoded histogram keeps each value's bucket, not the value: a decoded maximum is the top of
 * its bucket. The shards' own min and max are exact, so the merge takes those.
 */
function withExactEnds(merged: LatencyStats, shards: readonly (LatencyStats | undefined)[]): LatencyStats {
  const reported = shards.filter((s): s is LatencyStats => s !== undefined && s.count > 0)
  if (merged.count === 0 || reported.length === 0) return merged
  return {...merged, min: Math.min(...reported.map((s) => s.min)), max: Math.max(...reported.map((s) => s.max))}
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0)

/** Adds up each histogram key's encoded histograms across the shards, with the exact ends of each (see withExactEnds). */
function mergeHistograms(sorted: readonly LoadSummary[]) {
  const keys = [...new Set(sorted.flatMap((s) => Object.keys(s.histograms)))].sort()
  const histograms: Record<string, string> = {}
  const stats: Record<string, LatencyStats> = {}
  for (const key of keys) {
    const h = mergeEncodedHistograms(sorted.flatMap((s) => (s.histograms[key] ? [s.histograms[key]] : [])))
    if (!h) continue
    histograms[key] = h.encode()
    stats[key] = withExactEnds(
      h.stats(),
      sorted.map((s) => statsOf(s, key)),
    )
    h.raw.destroy()
  }
  return {histograms, stats}
}

/** Adds up each named check's passes and fails across the shards. */
function mergeChecks(sorted: readonly LoadSummary[]): LoadSummary['checks'] {
  const checks: LoadSummary['checks'] = {}
  for (const s of sorted)
    for (const [name, c] of Object.entries(s.checks)) {
      const into = checks[name] ?? {passes: 0, fails: 0}
      checks[name] = {passes: into.passes + c.passes, fails: into.fails + c.fails}
    }
  return checks
}

/**
 * Merges the shards' summaries. Counts add up; latencies come from the added histograms; the run
 * spans from the first shard's start to the last one's end. `thresholds` is left empty and
 * `exitCode` 0: the caller evaluates the thresholds on the result.
 */
export function mergeSummaries(shards: readonly LoadSummary[], options: MergeOptions): LoadSummary {
  const sorted = [...shards].sort((a, b) => (a.shard?.index ?? 0) - (b.shard?.index ?? 0))
  const first = sorted[0] ?? (options.none ? {...options.none, schedulerLag: undefined} : undefined)
  if (!first) throw new KedaLabError('no shard summaries to merge')
  const startedAt = Math.min(...[first, ...sorted].map((s) => Date.parse(s.startedAt)))
  const endedAt = Math.max(...[first, ...sorted].map((s) => Date.parse(s.endedAt)))

  const {histograms, stats} = mergeHistograms(sorted)
  const latency: LoadSummary['latency'] = {}
  const latencyFromSend: LoadSummary['latencyFromSend'] = {}
  for (const step of [...STEPS, 'task'] as const) {
    const s = stats[step]
    if (s && s.count > 0) latency[step] = s
  }
  for (const step of STEPS as readonly Step[]) {
    const s = stats[`${step}.fromSend`]
    if (s && s.count > 0) latencyFromSend[step] = s
  }

  const checks = mergeChecks(sorted)

  const requests = Object.fromEntries(STEPS.map((step) => [step, sum(sorted.map((s) => s.requests[step] ?? 0))])) as Record<Step, number>
  const rates = sorted.map((s) => s.rate).filter((r): r is NonNullable<LoadSummary['rate']> => r !== undefined)

  return {
    schemaVersion: 1,
    tool: first.tool,
    profile: first.profile,
    executor: options.executor,
    target: first.target,
    startedAt: new Date(startedAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    durationS: Math.round(endedAt - startedAt) / 1000,
    // The shards start together; the load lasted as long as the longest one's.
    ...(sorted.some((s) => s.loadDurationS !== undefined) ? {loadDurationS: Math.max(...sorted.map((s) => s.loadDurationS ?? 0))} : {}),
    interrupted: sorted.length === 0 || sorted.some((s) => s.interrupted),
    ...(sorted.some((s) => s.abortedBy) ? {abortedBy: sorted.find((s) => s.abortedBy)?.abortedBy} : {}),
    iterations: {
      started: sum(sorted.map((s) => s.iterations.started)),
      completed: sum(sorted.map((s) => s.iterations.completed)),
      dropped: sum(sorted.map((s) => s.iterations.dropped)),
      failed: sum(sorted.map((s) => s.iterations.failed)),
      interrupted: sum(sorted.map((s) => s.iterations.interrupted ?? 0)),
    },
    // The shards start every N-th iteration of one schedule at the same time: their rates add up.
    ...(rates.length > 0 ? {rate: {asked: sum(rates.map((r) => r.asked)), achieved: sum(rates.map((r) => r.achieved))}} : {}),
    requests,
    errors: sum(sorted.map((s) => s.errors)),
    latency,
    latencyFromSend,
    ...(stats['task.elapsed']?.count ? {taskTimeElapsed: stats['task.elapsed']} : {}),
    ...(first.schedulerLag && stats.lag ? {schedulerLag: stats.lag} : {}),
    checks,
    thresholds: [],
    tasks: {
      queued: sum(sorted.map((s) => s.tasks.queued)),
      completed: sum(sorted.map((s) => s.tasks.completed)),
      failed: sum(sorted.map((s) => s.tasks.failed)),
    },
    scaling: options.scaling,
    histograms,
    exitCode: 0,
  }
}

/** What the engine's thresholds read, from a (merged) summary and its histograms. */
export function summaryView(summary: LoadSummary): ThresholdView {
  const histograms: ThresholdView['histograms'] = {}
  for (const key of ['add', 'status', 'task', 'lag'] as const) {
    const encoded = summary.histograms[key]
    if (encoded) histograms[key] = decodeHistogram(encoded)
  }
  const checks = Object.values(summary.checks).reduce((a, c) => ({passes: a.passes + c.passes, fails: a.fails + c.fails}), {passes: 0, fails: 0})
  const {started, completed, failed, dropped} = summary.iterations
  return {
    histograms,
    checks,
    requests: summary.requests.add + summary.requests.status,
    errors: summary.errors,
    iterations: {started, completed, failed, dropped},
    tasks: {completed: summary.tasks.completed, failed: summary.tasks.failed},
    ...(summary.rate ? {rate: summary.rate} : {}),
    scaling: summary.scaling,
  }
}

/**
 * The thresholds judged on the merged summary, and its exit code as a local run's: 99 when one
 * failed, 130 when the run was interrupted, else 0.
 */
export function judgeMerged(summary: LoadSummary, thresholds: readonly Threshold[]): LoadSummary {
  const view = summaryView(summary)
  const results = thresholds.map((t) => evaluateThreshold(t, view))
  for (const h of Object.values(view.histograms)) h.raw.destroy()
  const exitCode = results.some((r) => !r.ok) ? 99 : summary.interrupted ? 130 : 0
  return {...summary, thresholds: results, exitCode}
}

/**
 * A latency figure of one merged second: from the contributions' added histograms when each one
 * that saw a request has its histogram (exact); the one contribution's own figures when only one
 * saw any (exact too); otherwise none — percentiles of different shards cannot be averaged.
 */
function mergeSecondStats(parts: readonly {stats?: LatencyStats; encoded?: string}[]): LatencyStats | undefined {
  const seen = parts.filter((p) => (p.stats?.count ?? 0) > 0)
  if (seen.length === 0) return undefined
  if (seen.length === 1) return seen[0]?.stats
  if (seen.some((p) => p.encoded === undefined)) return undefined
  const h = mergeEncodedHistograms(seen.map((p) => p.encoded as string))
  if (!h) return undefined
  const merged = withExactEnds(
    h.stats(),
    seen.map((p) => p.stats),
  )
  h.raw.destroy()
  return merged
}

/** What the series merger needs to know about the run. */
export interface SeriesMergerOptions {
  /** The whole run's executor: the stage of each merged second. */
  executor: ExecutorConfig
}

/**
 * Merges the shards' per-second records into one series by wall-clock second (recordSecond): the
 * shards' pods start apart, so their own `t` do not line up. In each second counts, VUs and rates
 * add up and latencies are merged exactly (mergeSecondStats); the coordinator's scaling samples
 * (`addSample`) go in the second they were taken at, as a local run's do. `t` counts from the
 * first second any shard reported; a second no shard reported (before a late pod started, or
 * while the coordinator watches the scaling after the load) is an empty one.
 */
export class SeriesMerger {
  private readonly buckets = new Map<number, Map<number, SecondRecord[]>>()
  private readonly samples = new Map<number, ScalingSample>()
  private first: number | undefined
  private next: number | undefined
  /** Records that came for a second already handed out (see take): left out of the series. */
  late = 0

  constructor(private readonly options: SeriesMergerOptions) {}

  /** A record of shard `index`. */
  add(index: number, record: SecondRecord): void {
    const second = recordSecond(record)
    if (this.next !== undefined && second < this.next) {
      this.late++
      return
    }
    if (this.first === undefined || second < this.first) this.first = second
    const bucket = this.buckets.get(second) ?? new Map<number, SecondRecord[]>()
    this.buckets.set(second, bucket)
    bucket.set(index, [...(bucket.get(index) ?? []), record])
  }

  /** A scaling sample taken at `atMs` (epoch milliseconds). */
  addSample(atMs: number, sample: ScalingSample): void {
    this.samples.set(Math.round(atMs / 1000), sample)
  }

  /** The first wall-clock second of the series (undefined until a shard reported one). */
  get firstSecond(): number | undefined {
    return this.first
  }

  /** The last second any shard reported. */
  get lastShardSecond(): number | undefined {
    return this.buckets.size === 0 ? undefined : Math.max(...this.buckets.keys())
  }

  /**
   * The merged records of every second before `before` not handed out yet, in order. A record
   * arriving later for a second already handed out is left out of the series (the caller takes a
   * second only once every running shard has reported past it).
   */
  take(before: number): SecondRecord[] {
    if (this.first === undefined) return []
    const out: SecondRecord[] = []
    for (let second = this.next ?? this.first; second < before; second++) {
      out.push(this.merge(second))
      this.buckets.delete(second)
      this.next = second + 1
    }
    return out
  }

  private merge(second: number): SecondRecord {
    const first = this.first ?? second
    const t = second - first
    const perShard = [...(this.buckets.get(second)?.values() ?? [])]
    const records = perShard.flat()
    // A shard's VUs and rate are its state at the end of the second: its last record in it.
    const lasts = perShard.map((rs) => rs.at(-1) as SecondRecord)
    const sum = (pick: (r: SecondRecord) => number) => records.reduce((a, r) => a + pick(r), 0)
    const latency: SecondRecord['latency'] = {}
    for (const step of STEPS) {
      const s = mergeSecondStats(records.map((r) => ({stats: r.latency[step], encoded: r.histograms?.[step]})))
      if (s) latency[step] = s
    }
    const taskLatency = mergeSecondStats(records.map((r) => ({stats: r.taskLatency, encoded: r.histograms?.task})))
    const lagged = records.filter((r) => r.schedulerLagP99 !== undefined)
    const lag = lagged.length === 0 ? undefined : mergeSecondStats(lagged.map((r) => ({stats: lagP99Stats(r), encoded: r.histograms?.lag})))
    const stage = records.some((r) => r.stage !== undefined) ? stageLabel(this.options.executor, (t + 0.5) * 1000) : undefined
    // Record 0 carries the state before the load (the latest sample up to then), later ones the
    // sample taken as their second began.
    const sample = this.samples.get(second) ?? (t === 0 ? this.sampleBefore(second) : undefined)
    this.samples.delete(second)
    return {
      t,
      at: new Date((second + 1) * 1000).toISOString(),
      ...(stage ? {stage} : {}),
      vus: lasts.reduce((a, r) => a + r.vus, 0),
      ...(lasts.some((r) => r.targetRate !== undefined) ? {targetRate: lasts.reduce((a, r) => a + (r.targetRate ?? 0), 0)} : {}),
      iterationsStarted: sum((r) => r.iterationsStarted),
      iterationsCompleted: sum((r) => r.iterationsCompleted),
      droppedIterations: sum((r) => r.droppedIterations),
      requests: {add: sum((r) => r.requests.add), status: sum((r) => r.requests.status)},
      errors: sum((r) => r.errors),
      checks: {passed: sum((r) => r.checks.passed), failed: sum((r) => r.checks.failed)},
      latency,
      tasksCompleted: sum((r) => r.tasksCompleted),
      ...(taskLatency ? {taskLatency} : {}),
      // Open model: 0 when no iteration started (as a local run says it), else exact or absent.
      ...(lagged.length > 0 && (lag || lagged.every((r) => r.iterationsStarted === 0)) ? {schedulerLagP99: lag?.p99 ?? 0} : {}),
      ...(sample ? {scaling: sample} : {}),
    }
  }

  private sampleBefore(second: number): ScalingSample | undefined {
    let best: number | undefined
    for (const s of this.samples.keys()) if (s <= second && (best === undefined || s > best)) best = s
    return best === undefined ? undefined : this.samples.get(best)
  }
}

/**
 * A record's scheduler lag as stats: the record gives its p99 only, which stands for the second
 * when the shard is alone in it (mergeSecondStats); with others, its histogram is needed.
 */
function lagP99Stats(r: SecondRecord): LatencyStats {
  const p99 = r.schedulerLagP99 ?? 0
  return {count: r.iterationsStarted, min: p99, mean: p99, p50: p99, p90: p99, p95: p99, p99, max: p99}
}
