/**
 * One summary from the shards of a cluster run (`--runner cluster --parallel N`), merged exactly:
 * counts are added, and every latency figure is recomputed from the shards' HDR histograms
 * (decoded from `LoadSummary.histograms` and added bucket by bucket), never averaged from their
 * percentiles. Thresholds are then evaluated on the merged summary by the caller, as for a local run.
 */
import {KedaLabError} from '../../errors.js'
import {decodeHistogram, type LatencyHistogram} from './histograms.js'
import type {LatencyStats, LoadSummary, Step} from './records.js'
import {STEPS} from './records.js'
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
}

/** The shards' summaries, each once, index 0..N-1, all of the same run; or one error naming what is wrong. */
export function checkShards(shards: readonly LoadSummary[], count: number): void {
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
  if (missing.length > 0) throw new KedaLabError(`no summary from shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count}`)
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

/**
 * Merges the shards' summaries. Counts add up; latencies come from the added histograms; the run
 * spans from the first shard's start to the last one's end. `thresholds` is left empty and
 * `exitCode` 0: the caller evaluates the thresholds on the result.
 */
export function mergeSummaries(shards: readonly LoadSummary[], options: MergeOptions): LoadSummary {
  if (shards.length === 0) throw new KedaLabError('no shard summaries to merge')
  const sorted = [...shards].sort((a, b) => (a.shard?.index ?? 0) - (b.shard?.index ?? 0))
  const first = sorted[0] as LoadSummary
  const startedAt = Math.min(...sorted.map((s) => Date.parse(s.startedAt)))
  const endedAt = Math.max(...sorted.map((s) => Date.parse(s.endedAt)))

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

  const checks: LoadSummary['checks'] = {}
  for (const s of sorted)
    for (const [name, c] of Object.entries(s.checks)) {
      const into = checks[name] ?? {passes: 0, fails: 0}
      checks[name] = {passes: into.passes + c.passes, fails: into.fails + c.fails}
    }

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
    interrupted: sorted.some((s) => s.interrupted),
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
    ...(first.schedulerLag ? {schedulerLag: stats.lag} : {}),
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
