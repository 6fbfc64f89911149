import {describe, expect, it} from 'vitest'

import {createHistogram, decodeHistogram, meanOf} from '../../src/lab/loadtest/histograms.js'
import {RunMetrics} from '../../src/lab/loadtest/metrics.js'

/** A fixed, printed seed (mulberry32): the same samples on every run. */
const SEED = 20_261_207
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

describe(`load engine metrics (seed ${SEED})`, () => {
  it("meanOf gives hdr-histogram-js's own mean, live and decoded", () => {
    const random = mulberry32(SEED)
    const h = createHistogram()
    // Latencies from 1 µs to about 60 s, heavy-tailed.
    for (let i = 0; i < 20_000; i++) h.record(random() ** 4 * 60_000)
    expect(meanOf(h.raw)).toBe(h.raw.mean)
    const decoded = decodeHistogram(h.encode())
    expect(meanOf(decoded.raw)).toBe(decoded.raw.mean)
    expect(h.stats().mean).toBe(Math.round(h.raw.mean) / 1000)
    expect(meanOf(createHistogram().raw)).toBe(0)
  })

  it("each second's record carries the end-to-end latency of the tasks completed in it, then starts again", () => {
    const m = new RunMetrics()
    m.taskCompleted(1200, 900)
    m.taskCompleted(3400, 3000)
    const first = m.takeSecond(false)
    expect(first.tasksCompleted).toBe(2)
    expect(first.taskLatency).toMatchObject({count: 2, min: 1200, max: 3400})
    // A second with no completed task has none.
    expect(m.takeSecond(false).taskLatency).toBeUndefined()
    m.taskCompleted(5000, undefined)
    expect(m.takeSecond(true).taskLatency).toMatchObject({count: 1, min: 5000})
    // The run's histogram has them all.
    expect(m.task.count).toBe(3)
  })
  it("a shard's second carries its histograms, encoded, so the coordinator can merge seconds exactly", () => {
    const m = new RunMetrics()
    m.request('add', 120, 100, false)
    m.request('add', 480, 450, false)
    m.taskCompleted(2500, 2000)
    const plain = m.takeSecond(false)
    expect(plain.histograms).toBeUndefined()
    m.request('add', 120, 100, false)
    m.request('add', 480, 450, false)
    m.request('status', 30, 30, false)
    m.taskCompleted(2500, 2000)
    const shard = m.takeSecond(false, true)
    expect(Object.keys(shard.histograms ?? {}).sort()).toEqual(['add', 'status', 'task'])
    const add = decodeHistogram(shard.histograms?.add ?? '')
    // The decoded histogram gives the second's own percentiles; its max is the bucket's (within
    // the histogram's 3 significant digits), the live one is exact.
    const {max, ...percentiles} = shard.latency.add ?? {max: Number.NaN}
    const {max: decodedMax, ...decodedPercentiles} = add.stats()
    expect(decodedPercentiles).toEqual(percentiles)
    expect(Math.abs(decodedMax - max) / max).toBeLessThan(1e-3)
    expect(decodeHistogram(shard.histograms?.task ?? '').count).toBe(1)
    // An empty second encodes nothing.
    expect(m.takeSecond(false, true).histograms).toBeUndefined()
  })
})
