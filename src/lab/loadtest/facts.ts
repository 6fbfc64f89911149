/**
 * The scaling facts of a run, from its per-second records alone (records.ts): what the autoscaler
 * did in answer to the load. Pure, so the live view, the summary, a merged cluster run and the
 * tests all get the same answer from the same stream.
 *
 * Times are whole seconds, the difference between two records' `t`. "The first queued task" is
 * the first second with an `add` request; "the last add" the last such second.
 */
import type {ScalingFacts, ScalingSample, SecondRecord} from './records.js'

/** A record's scaling sample when it says something (an `error` sample says nothing). */
const usable = (r: SecondRecord): ScalingSample | undefined => (r.scaling && r.scaling.error === undefined ? r.scaling : undefined)

/** Waiting + active, when the sample has either. */
export function backlogOf(s: ScalingSample | undefined): number | undefined {
  if (!s || (s.queueWaiting === undefined && s.queueActive === undefined)) return undefined
  return (s.queueWaiting ?? 0) + (s.queueActive ?? 0)
}

/**
 * The scaling facts of a record stream. `records` are in order of `t`; samples that are missing
 * or failed are skipped (a gap is not a change).
 */
export function scalingFacts(records: readonly SecondRecord[]): ScalingFacts {
  const sampled = records.filter((r) => usable(r) !== undefined)
  const source = sampled.find((r) => r.scaling?.source)?.scaling?.source ?? 'none'
  const events: ScalingFacts['events'] = []
  if (sampled.length === 0) return {source: 'none', events}

  const adds = records.filter((r) => r.requests.add > 0)
  const firstAddT = adds[0]?.t
  const lastAddT = adds.at(-1)?.t

  // Every change of replicas between two samples that both know the count.
  const changes = (what: 'workers' | 'api', pick: (s: ScalingSample) => number | undefined) => {
    let prev: number | undefined
    for (const r of sampled) {
      const now = pick(usable(r) as ScalingSample)
      if (now === undefined) continue
      if (prev !== undefined && now !== prev) events.push({t: r.t, what, from: prev, to: now})
      prev = now
    }
  }
  changes('workers', (s) => s.workers)
  changes('api', (s) => s.apiReplicas)
  events.sort((a, b) => a.t - b.t || (a.what === b.what ? 0 : a.what === 'workers' ? -1 : 1))

  const facts: ScalingFacts = {source, events}
  const workerSeries = sampled.flatMap((r) => {
    const w = usable(r)?.workers
    return w === undefined ? [] : [{t: r.t, workers: w}]
  })
  if (firstAddT !== undefined) facts.firstAddT = firstAddT
  if (lastAddT !== undefined) facts.lastAddT = lastAddT

  const backlogs = sampled.map((r) => backlogOf(usable(r))).filter((b): b is number => b !== undefined)
  if (backlogs.length > 0) facts.backlogPeak = Math.max(...backlogs)
  const api = sampled.map((r) => usable(r)?.apiReplicas).filter((n): n is number => n !== undefined)
  if (api.length > 0) facts.apiReplicasMax = Math.max(...api)

  // Drain: the first empty queue at or after the last add.
  if (lastAddT !== undefined) {
    const drained = sampled.find((r) => r.t >= lastAddT && backlogOf(usable(r)) === 0)
    if (drained) facts.drainS = drained.t - lastAddT
  }

  if (workerSeries.length === 0) return facts
  const start = workerSeries[0]?.workers ?? 0
  const counts = workerSeries.map((w) => w.workers)
  facts.workersAtStart = start
  facts.workersMax = Math.max(...counts)
  facts.workersMin = Math.min(...counts)

  // The resting count: the autoscaler's configured minimum when the samples say it, else the
  // lowest seen. Not the first sample: it comes a second into the load, when an autoscaler
  // polling every second may already have added a worker.
  const configured = sampled.findLast((r) => usable(r)?.workersMinReplicas !== undefined)?.scaling?.workersMinReplicas
  if (configured !== undefined) facts.workersMinReplicas = configured
  const base = configured ?? facts.workersMin
  const from = firstAddT ?? workerSeries[0]?.t ?? 0
  const firstUp = workerSeries.find((w) => w.t >= from && w.workers > base)
  if (firstUp) facts.firstScaleUpS = firstUp.t - from
  if (facts.workersMax > base) {
    const atMax = workerSeries.find((w) => w.workers === facts.workersMax)
    if (atMax) facts.toMaxS = Math.max(0, atMax.t - from)

    // Back to the minimum: the first sample at it after the last one above it.
    const lastAbove = workerSeries.findLastIndex((w) => w.workers > base)
    const back = workerSeries[lastAbove + 1]
    const since = lastAddT ?? from
    const lastT = records.at(-1)?.t ?? since
    if (back) facts.backToMinS = Math.max(0, back.t - since)
    else facts.backToMinNote = `not yet, after ${Math.max(0, lastT - since)} s`
  }
  return facts
}

/** One line per fact for the terminal summary ("first scale-up 12 s after the first task"…). */
export function describeScalingFacts(f: ScalingFacts): string[] {
  if (f.source === 'none') return ['scaling: not watched (no sample from the cluster, dev stack or API)']
  const lines: string[] = []
  if (f.workersAtStart !== undefined) {
    lines.push(`workers: ${f.workersAtStart} at start, max ${f.workersMax}, min ${f.workersMin}`)
    lines.push(
      f.firstScaleUpS !== undefined ? `first scale-up ${f.firstScaleUpS} s after the first task; max reached after ${f.toMaxS} s` : 'no scale-up while watched',
    )
    const min = f.workersMinReplicas ?? f.workersMin
    if (f.backToMinS !== undefined) lines.push(`back to ${min} worker(s) ${f.backToMinS} s after the last add`)
    else if (f.backToMinNote) lines.push(`back to ${min} worker(s): ${f.backToMinNote}`)
  }
  if (f.backlogPeak !== undefined) {
    lines.push(`backlog peak ${f.backlogPeak} task(s)${f.drainS !== undefined ? `; drained ${f.drainS} s after the last add` : '; not drained while watched'}`)
  }
  if (f.apiReplicasMax !== undefined) lines.push(`API replicas: max ${f.apiReplicasMax}`)
  return lines.map((l) => `scaling (${f.source}): ${l}`)
}

/** Collects the record stream for the facts at the end and the "settled yet?" question after the load. */
export interface FactsCollector {
  onRecord(r: SecondRecord): void
  facts(): ScalingFacts
  /** See isSettled. */
  settled(): boolean
}

/** Consecutive samples without a queue after which there is nothing left to watch for. */
const BLIND_SAMPLES = 5

export function createFactsCollector(): FactsCollector {
  const records: SecondRecord[] = []
  let lowest: number | undefined
  let last: ScalingSample | undefined
  let blind = 0
  return {
    onRecord(r) {
      records.push(r)
      const s = usable(r)
      if (s?.workers !== undefined) lowest = Math.min(lowest ?? s.workers, s.workers)
      blind = backlogOf(s) === undefined ? blind + 1 : 0
      last = r.scaling
    },
    facts: () => scalingFacts(records),
    settled: () => blind >= BLIND_SAMPLES || isSettled(last, lowest),
  }
}

/**
 * After the load, at rest: the queue is empty and the workers (and what the autoscaler asks for)
 * are back at the autoscaler's minimum (`workersMinReplicas`), or at the lowest count seen when
 * the sample does not say it. Not the first sample's count: it comes a second into the load, when
 * an autoscaler polling every second may already have added a worker. A failed or queue-less
 * sample is not at rest (the collector gives up after BLIND_SAMPLES of them in a row).
 */
function isSettled(last: ScalingSample | undefined, lowest: number | undefined): boolean {
  if (!last || last.error !== undefined) return false
  const backlog = backlogOf(last)
  if (backlog === undefined || backlog > 0) return false
  if (last.workers === undefined) return true
  const min = last.workersMinReplicas ?? lowest ?? last.workers
  return last.workers <= min && (last.workersDesired === undefined || last.workersDesired <= min)
}
