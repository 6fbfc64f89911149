/**
 * The merge of a cluster run's shard summaries: counts add up and every latency figure equals
 * the one computed from all the samples in one histogram (exact, not averaged percentiles).
 */
import {describe, expect, it} from 'vitest'

import {createHistogram} from '../../src/lab/loadtest/histograms.js'
import {checkShards, judgeMerged, mergeEncodedHistograms, mergeSummaries} from '../../src/lab/loadtest/merge.js'
import {parseThreshold} from '../../src/lab/loadtest/thresholds.js'
import type {LatencyStats, LoadSummary} from '../../src/lab/loadtest/records.js'

/** A small seeded generator (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEED = 20261207
console.log(`loadtest-merge: seed ${SEED}`)

function shardSummary(index: number, count: number, samples: Record<string, number[]>): LoadSummary {
  const histograms: Record<string, string> = {}
  const own: Record<string, LatencyStats> = {}
  for (const [key, values] of Object.entries(samples)) {
    const h = createHistogram()
    for (const v of values) h.record(v / 1000)
    histograms[key] = h.encode()
    // What the engine reports from its live histogram (exact min and max).
    own[key] = h.stats()
  }
  const adds = samples.add?.length ?? 0
  return {
    schemaVersion: 1,
    tool: {name: 'keda-lab', version: '0.1.0'},
    profile: 'shared-50',
    executor: {type: 'shared-iterations', vus: 1, iterations: adds},
    target: {url: 'http://keda-lab-api.keda.svc:80', source: 'flag', reason: '--target'},
    shard: {index, count},
    startedAt: new Date(Date.UTC(2026, 11, 7, 1, 0, index)).toISOString(),
    endedAt: new Date(Date.UTC(2026, 11, 7, 1, 1, 10 - index)).toISOString(),
    durationS: 60,
    interrupted: false,
    iterations: {started: adds, completed: adds - index, dropped: index, failed: 0},
    rate: {asked: 2, achieved: 1.9 + index / 100},
    requests: {add: adds, status: samples.status?.length ?? 0},
    errors: index,
    latency: {add: own.add, status: own.status, task: own.task},
    latencyFromSend: {},
    ...(own.lag ? {schedulerLag: own.lag} : {}),
    checks: {'add status 200': {passes: adds, fails: index}, [`only in shard ${index}`]: {passes: 1, fails: 0}},
    thresholds: [],
    tasks: {queued: adds, completed: adds - 1, failed: 1},
    scaling: {source: 'none', events: []},
    histograms,
    exitCode: 0,
  }
}

describe('mergeSummaries', () => {
  const random = rng(SEED)
  const count = 4
  const all: Record<string, number[]> = {add: [], status: [], task: [], lag: []}
  const shards = [...Array(count).keys()].map((i) => {
    const mine: Record<string, number[]> = {}
    for (const key of Object.keys(all)) {
      // Different sizes and spreads per shard: a merge that averaged percentiles would be far off.
      const n = 200 + Math.floor(random() * 800)
      const scale = key === 'task' ? 30_000_000 : (i + 1) * 40_000
      mine[key] = Array.from({length: n}, () => 1 + Math.floor(random() ** 3 * scale))
      all[key]?.push(...(mine[key] ?? []))
    }
    return shardSummary(i, count, mine)
  })
  const scaling = {source: 'cluster' as const, workersMax: 10, events: []}
  const merged = mergeSummaries([...shards].reverse(), {executor: {type: 'shared-iterations', vus: 20, iterations: 50}, scaling})

  it('computes every latency from all samples, as one histogram would', () => {
    for (const key of Object.keys(all)) {
      const whole = createHistogram()
      for (const v of all[key] ?? []) whole.record(v / 1000)
      const expected = whole.stats()
      const got = key === 'lag' ? merged.schedulerLag : merged.latency[key as 'add' | 'status' | 'task']
      expect(got, key).toEqual(expected)
      expect(got?.count).toBe(all[key]?.length)
      expect(got?.max).toBe(whole.raw.maxValue / 1000)
      // The merged encoding decodes to the same distribution (a later merge of merges stays exact).
      // (decoded alone, only min and max are bucket bounds instead of the exact values)
      const again = mergeEncodedHistograms([merged.histograms[key] as string])
      expect(again && {...again.stats(), min: expected.min, max: expected.max}).toEqual(expected)
    }
  })

  it('adds the counts and spans the run', () => {
    const total = (f: (s: LoadSummary) => number) => shards.reduce((a, s) => a + f(s), 0)
    expect(merged.requests.add).toBe(all.add?.length)
    expect(merged.iterations).toEqual({
      started: total((s) => s.iterations.started),
      completed: total((s) => s.iterations.completed),
      dropped: 0 + 1 + 2 + 3,
      failed: 0,
      interrupted: 0,
    })
    expect(merged.errors).toBe(6)
    expect(merged.checks['add status 200']).toEqual({passes: all.add?.length, fails: 6})
    expect(merged.checks['only in shard 3']).toEqual({passes: 1, fails: 0})
    expect(merged.tasks.failed).toBe(4)
    expect(merged.rate?.asked).toBe(8)
    expect(merged.rate?.achieved).toBeCloseTo(7.66, 10)
    expect(merged.startedAt).toBe('2026-12-07T01:00:00.000Z')
    expect(merged.endedAt).toBe('2026-12-07T01:01:10.000Z')
    expect(merged.durationS).toBe(70)
    expect(merged.shard).toBeUndefined()
    expect(merged.scaling).toBe(scaling)
    expect(merged.executor).toEqual({type: 'shared-iterations', vus: 20, iterations: 50})
  })

  it('judges thresholds on the merge, with the exit code of a local run', () => {
    const whole = createHistogram()
    for (const v of all.add ?? []) whole.record(v / 1000)
    const p95 = whole.stats().p95
    const pass = judgeMerged(merged, [parseThreshold(`add.p95<=${p95}ms`), parseThreshold('requests>=1')])
    expect(pass.thresholds.map((t) => t.ok)).toEqual([true, true])
    expect(pass.exitCode).toBe(0)
    const fail = judgeMerged(merged, [parseThreshold(`add.p95<${p95}ms`), parseThreshold('checks>99.9%')])
    expect(fail.thresholds.map((t) => [t.ok, t.actual])).toEqual([
      [false, `${p95}ms`],
      // passes: every add check plus one "only in shard i" per shard; fails: 0+1+2+3
      [false, `${Math.round((((all.add?.length ?? 0) + 4) / ((all.add?.length ?? 0) + 4 + 6)) * 100_000) / 1000}%`],
    ])
    expect(fail.exitCode).toBe(99)
  })
})

describe('checkShards', () => {
  const s = (index: number, count = 3) => shardSummary(index, count, {add: [1000]})
  it('accepts each shard once', () => {
    expect(() => checkShards([s(2), s(0), s(1)], 3)).not.toThrow()
  })
  it('names what is missing, doubled or foreign', () => {
    expect(() => checkShards([s(0), s(2)], 3)).toThrow('no summary from shard 1 of 3')
    expect(() => checkShards([s(0), s(0), s(1)], 3)).toThrow('shard 0 reported twice')
    expect(() => checkShards([s(0), s(1, 2), s(2)], 3)).toThrow('shard 1 ran as one of 2, expected one of 3')
    const {shard: _, ...unsharded} = s(0)
    expect(() => checkShards([unsharded], 1)).toThrow('without its shard')
  })
})
