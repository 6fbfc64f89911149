/**
 * The open model's clock, pure: when each iteration is due. Iteration j of the whole run starts at
 * the time t where the integral of the asked rate from 0 to t reaches j (for a constant rate,
 * t = j / rate; for a ramp, the root of a quadratic). Times are absolute offsets from the run's
 * start, never "now + interval": a late start does not push the next ones back, which is what keeps
 * the achieved rate honest and latency measurable from the scheduled time (coordinated omission).
 *
 * A shard `i/N` takes the iterations j ≡ i (mod N) of the same schedule, so N shards together start
 * exactly the whole run's iterations at exactly its times.
 */
import type {ConstantArrivalRate, RampingArrivalRate, Shard, Stage} from './executors.js'

interface Segment {
  startMs: number
  durationMs: number
  fromRate: number
  toRate: number
  /** Iterations due before this segment (the integral up to its start). */
  before: number
}

function segments(config: ConstantArrivalRate | RampingArrivalRate): Segment[] {
  const stages: Stage[] = config.type === 'constant-arrival-rate' ? [{durationMs: config.durationMs, target: config.rate}] : config.stages
  let from = config.type === 'constant-arrival-rate' ? config.rate : config.startRate
  let startMs = 0
  let before = 0
  const list: Segment[] = []
  for (const s of stages) {
    list.push({startMs, durationMs: s.durationMs, fromRate: from, toRate: s.target, before})
    before += ((from + s.target) / 2) * (s.durationMs / 1000)
    startMs += s.durationMs
    from = s.target
  }
  return list
}

/** Iterations due in [0, tMs): the integral of the rate (per second) over that time. */
export function iterationsDueBy(config: ConstantArrivalRate | RampingArrivalRate, tMs: number): number {
  let due = 0
  for (const seg of segments(config)) {
    if (tMs <= seg.startMs) break
    const s = Math.min(tMs - seg.startMs, seg.durationMs) / 1000
    const d = seg.durationMs / 1000
    due += seg.fromRate * s + (d > 0 ? ((seg.toRate - seg.fromRate) * s * s) / (2 * d) : 0)
  }
  return due
}

/** A cursor over one shard's due times, in order. */
export interface ArrivalSchedule {
  /** The due time (ms from the start) of the next iteration, or undefined when the schedule is over. */
  next(): number | undefined
  /** The global index of the iteration `next()` returned last (j of the whole run). */
  readonly lastIndex: number
}

/** The due times of shard `shard` (default: the whole run) of an arrival-rate executor. */
export function arrivalSchedule(config: ConstantArrivalRate | RampingArrivalRate, shard: Shard = {index: 0, count: 1}): ArrivalSchedule {
  const segs = segments(config)
  let seg = 0
  let j = shard.index - shard.count
  return {
    get lastIndex() {
      return j
    },
    next() {
      j += shard.count
      while (seg < segs.length) {
        const g = segs[seg] as Segment
        const d = g.durationMs / 1000
        const total = g.before + ((g.fromRate + g.toRate) / 2) * d
        // Iterations due in [start, end): j is in this segment when it is below its end's integral
        // (with room for float sums that land a hair off a whole number).
        if (j < total - 1e-9) {
          const delta = Math.max(0, j - g.before)
          const a = d > 0 ? (g.toRate - g.fromRate) / (2 * d) : 0
          const b = g.fromRate
          // Solve a·s² + b·s = delta in the numerically stable form (no cancellation when a < 0).
          const root = Math.sqrt(Math.max(0, b * b + 4 * a * delta))
          const s = delta === 0 ? 0 : b + root > 0 ? (2 * delta) / (b + root) : Math.sqrt(delta / Math.max(a, Number.MIN_VALUE))
          return g.startMs + Math.min(s * 1000, g.durationMs)
        }
        seg++
      }
      return undefined
    },
  }
}
