/**
 * One summary from the shards of a cluster run (`--runner cluster --parallel N`), merged exactly:
 * counts are added, and every latency figure is recomputed from the shards' HDR histograms
 * (decoded from `LoadSummary.histograms` and added bucket by bucket), never averaged from their
 * percentiles. Thresholds are then evaluated on the merged summary by the caller, as for a local run.
 */
import {decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram} from 'hdr-histogram-js'

import {KedaLabError} from '../../errors.js'
import type {LatencyStats, LoadSummary, Step} from './records.js'
import {STEPS} from './records.js'

/**
 * Histogram values are recorded in microseconds (LatencyStats are in milliseconds). Keep in step
 * with the engine, which records them.
 */
export const HISTOGRAM_UNITS_PER_MS = 1000

/** Percentiles of a histogram, in milliseconds. */
export function latencyStatsOf(h: Histogram, unitsPerMs = HISTOGRAM_UNITS_PER_MS): LatencyStats {
  const ms = (v: number) => v / unitsPerMs
  if (h.totalCount === 0) return {count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0}
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue),
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
  }
}

/** Decodes and adds the encoded histograms into one (the first one's precision, auto-resizing). */
export function mergeEncodedHistograms(encoded: readonly string[]): Histogram | undefined {
  let merged: Histogram | undefined
  for (const text of encoded) {
    const h = decodeFromCompressedBase64(text, 'packed')
    if (!merged) {
      merged = h
      merged.autoResize = true
    } else {
      merged.add(h)
      h.destroy()
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
    histograms[key] = encodeIntoCompressedBase64(h)
    stats[key] = withExactEnds(
      latencyStatsOf(h),
      sorted.map((s) => statsOf(s, key)),
    )
    h.destroy()
  }
  const latency: LoadSummary['latency'] = {}
  const latencyFromSend: LoadSummary['latencyFromSend'] = {}
  for (const step of [...STEPS, 'task'] as const) if (stats[step]) latency[step] = stats[step]
  for (const step of STEPS as readonly Step[]) {
    const s = stats[`${step}.fromSend`]
    if (s) latencyFromSend[step] = s
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
    interrupted: sorted.some((s) => s.interrupted),
    iterations: {
      started: sum(sorted.map((s) => s.iterations.started)),
      completed: sum(sorted.map((s) => s.iterations.completed)),
      dropped: sum(sorted.map((s) => s.iterations.dropped)),
      failed: sum(sorted.map((s) => s.iterations.failed)),
    },
    // The shards start every N-th iteration of one schedule at the same time: their rates add up.
    ...(rates.length > 0 ? {rate: {asked: sum(rates.map((r) => r.asked)), achieved: sum(rates.map((r) => r.achieved))}} : {}),
    requests,
    errors: sum(sorted.map((s) => s.errors)),
    latency,
    latencyFromSend,
    ...(stats.lag ? {schedulerLag: stats.lag} : {}),
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
