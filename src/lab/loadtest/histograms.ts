/**
 * Latency histograms (HDR, hdr-histogram-js): values are recorded in microseconds with three
 * significant digits, whatever the run's length, so memory stays bounded (a histogram is a fixed
 * array of counts) and percentiles come from the histogram, never from arrays of samples. The
 * compressed base64 encoding travels in `summary.histograms`, so shards merge exactly.
 */
import hdr, {type Histogram} from 'hdr-histogram-js'

import type {LatencyStats} from './records.js'

/** One latency histogram. */
export interface LatencyHistogram {
  /** Records a latency in milliseconds (fractions kept to the microsecond). */
  record(ms: number): void
  readonly count: number
  stats(): LatencyStats
  /** Adds another histogram's counts (a shard, a second) into this one. */
  add(other: LatencyHistogram): void
  reset(): void
  encode(): string
  /** The underlying hdr-histogram-js object (for `add`). */
  readonly raw: Histogram
}

/** 24 h in microseconds: longer is recorded as 24 h (a task that long is a failure anyway). */
const HIGHEST_US = 24 * 3_600_000_000

function wrap(raw: Histogram): LatencyHistogram {
  return {
    raw,
    get count() {
      return raw.totalCount
    },
    record(ms) {
      const us = Math.round(ms * 1000)
      raw.recordValue(Math.min(Math.max(us, 0), HIGHEST_US))
    },
    stats() {
      return histogramStats(raw)
    },
    add(other) {
      raw.add(other.raw)
    },
    reset() {
      raw.reset()
    },
    encode() {
      return hdr.encodeIntoCompressedBase64(raw)
    },
  }
}

/** A new, empty histogram. */
export function createHistogram(): LatencyHistogram {
  return wrap(hdr.build({lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3}))
}

/** A histogram from `encode()`'s text (a shard's summary). */
export function decodeHistogram(encoded: string): LatencyHistogram {
  return wrap(hdr.decodeFromCompressedBase64(encoded))
}

const ms = (us: number) => Math.round(us) / 1000

/** The parts of hdr-histogram-js's JavaScript histogram that `meanOf` reads (public members, untyped on `Histogram`). */
interface CountsArray {
  countsArrayLength: number
  getCountAtIndex(index: number): number
  valueFromIndex(index: number): number
  medianEquivalentValue(value: number): number
}

/**
 * hdr-histogram-js's `mean`, the same sum in the same order (each recorded bucket's median
 * equivalent value times its count), read straight from the counts and stopping at the last
 * recorded one. Its own getter walks a recorded-values iterator that cost 4-6 ms per histogram
 * here: the engine's per-second records took 7 % of its CPU in it at 5,000 iterations/s, in
 * bursts that held up the event loop.
 */
export function meanOf(h: Histogram): number {
  if (h.totalCount === 0) return 0
  const c = h as unknown as CountsArray
  let total = 0
  let seen = 0
  for (let i = 0; i < c.countsArrayLength && seen < h.totalCount; i++) {
    const count = c.getCountAtIndex(i)
    if (count === 0) continue
    seen += count
    total += c.medianEquivalentValue(c.valueFromIndex(i)) * count
  }
  return total / h.totalCount
}

function histogramStats(h: Histogram): LatencyStats {
  if (h.totalCount === 0) return {count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0}
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue),
    mean: ms(meanOf(h)),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
  }
}

/** A percentile (0–100) of a histogram, in milliseconds: thresholds may ask for any, e.g. p(99.9). */
export function percentile(h: LatencyHistogram, p: number): number {
  return h.count === 0 ? 0 : ms(h.raw.getValueAtPercentile(p))
}
