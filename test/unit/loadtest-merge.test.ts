/**
 * The merge of a cluster run's shard summaries: counts add up and every latency figure equals
 * the one computed from all the samples in one histogram (exact, not averaged percentiles).
 */
import {describe, expect, it} from 'vitest'

import {createHistogram} from '../../src/lab/loadtest/histograms.js'
import {checkShards, judgeMerged, mergeEncodedHistograms, mergeSummaries, SeriesMerger} from '../../src/lab/loadtest/merge.js'
import {parseThreshold} from '../../src/lab/loadtest/thresholds.js'
import type {LatencyStats, LoadSummary, SecondRecord} from '../../src/lab/loadtest/records.js'

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

describe('checkShards of a stopped run', () => {
  const s = (index: number) => shardSummary(index, 3, {add: [1000]})
  it('accepts missing shards, still refuses doubled ones', () => {
    expect(() => checkShards([s(2)], 3, true)).not.toThrow()
    expect(() => checkShards([], 3, true)).not.toThrow()
    expect(() => checkShards([s(1), s(1)], 3, true)).toThrow('shard 1 reported twice')
  })
})

describe('mergeSummaries with no shard', () => {
  it('says nothing ran, interrupted, when a stopped run had no summary to merge', () => {
    const none = {
      profile: 'ramp',
      target: {url: 'http://keda-lab-api.keda.svc:80', source: 'cluster-service' as const, reason: 'inside'},
      tool: {name: 'keda-lab' as const, version: '0.1.0'},
      startedAt: '2026-12-07T01:00:00.000Z',
      endedAt: '2026-12-07T01:00:09.500Z',
    }
    const merged = mergeSummaries([], {executor: {type: 'ramping-vus'}, scaling: {source: 'none', events: []}, none})
    expect(merged).toMatchObject({profile: 'ramp', interrupted: true, durationS: 9.5, requests: {add: 0, status: 0}, iterations: {started: 0, completed: 0}})
    expect(merged.latency).toEqual({})
    expect(() => mergeSummaries([], {executor: {type: 'ramping-vus'}, scaling: {source: 'none', events: []}})).toThrow('no shard summaries to merge')
  })
})

describe('SeriesMerger', () => {
  const random = rng(SEED + 1)
  const base = Date.UTC(2026, 11, 7, 2, 0, 0)
  /** A shard's record for second `t` of its own run, which started `offsetMs` after `base`. */
  const record = (t: number, offsetMs: number, samples: {add: number[]; status: number[]; task: number[]}, extra: Partial<SecondRecord> = {}): SecondRecord => {
    const hs = Object.fromEntries(
      Object.entries(samples).map(([k, values]) => {
        const h = createHistogram()
        for (const v of values) h.record(v)
        return [k, h]
      }),
    )
    const stats = (k: string) => (hs[k]?.count ? hs[k]?.stats() : undefined)
    const r: SecondRecord = {
      t,
      at: new Date(base + offsetMs + (t + 1) * 1000).toISOString(),
      vus: 3,
      iterationsStarted: samples.add.length,
      iterationsCompleted: samples.task.length,
      droppedIterations: 1,
      requests: {add: samples.add.length, status: samples.status.length},
      errors: 1,
      checks: {passed: 5, failed: 1},
      latency: {...(stats('add') ? {add: stats('add')} : {}), ...(stats('status') ? {status: stats('status')} : {})},
      tasksCompleted: samples.task.length,
      ...(stats('task') ? {taskLatency: stats('task')} : {}),
      histograms: Object.fromEntries(Object.entries(hs).map(([k, h]) => [k, h.encode()])),
      ...extra,
    }
    return r
  }
  const values = (n: number, scale: number) => Array.from({length: n}, () => 0.5 + random() ** 2 * scale)

  it('merges the shards second by wall-clock second, latencies as one histogram would', () => {
    const merger = new SeriesMerger({executor: {type: 'constant-vus', vus: 6, durationMs: 3000, gracefulStopMs: 0}})
    // Shard 0 starts at base + 200 ms, shard 1 at base + 1.3 s: shard 1's t=0 is shard 0's t=1.
    const s0 = [0, 1, 2].map((t) => record(t, 200, {add: values(20, 50), status: values(40, 200), task: values(5, 5000)}))
    const s1 = [0, 1].map((t) => record(t, 1300, {add: values(30, 400), status: values(10, 20), task: values(2, 9000)}))
    for (const r of s1) merger.add(1, r)
    for (const r of s0) merger.add(0, r)
    merger.addSample(base - 40, {source: 'cluster', workers: 1, queueWaiting: 0, queueActive: 0})
    merger.addSample(base + 1000, {source: 'cluster', workers: 2, queueWaiting: 4, queueActive: 1})
    merger.addSample(base + 2020, {source: 'cluster', workers: 3, queueWaiting: 9, queueActive: 2})
    const merged = merger.take(Math.round(base / 1000) + 4)
    expect(merged.map((r) => r.t)).toEqual([0, 1, 2, 3])
    expect(merged.map((r) => r.at)).toEqual([1, 2, 3, 4].map((s) => new Date(base + s * 1000).toISOString()))
    // Second 1 of the series holds shard 0's t=1 and shard 1's t=0.
    const [a, b] = [s0[1] as SecondRecord, s1[0] as SecondRecord]
    const m = merged[1] as SecondRecord
    expect(m.requests).toEqual({add: a.requests.add + b.requests.add, status: a.requests.status + b.requests.status})
    expect(m).toMatchObject({vus: 6, errors: 2, droppedIterations: 2, checks: {passed: 10, failed: 2}, tasksCompleted: a.tasksCompleted + b.tasksCompleted})
    for (const step of ['add', 'status'] as const) {
      const whole = mergeEncodedHistograms([a.histograms?.[step] as string, b.histograms?.[step] as string])
      const ends = {min: Math.min(a.latency[step]?.min ?? 0, b.latency[step]?.min ?? 0), max: Math.max(a.latency[step]?.max ?? 0, b.latency[step]?.max ?? 0)}
      expect(m.latency[step]).toEqual({...whole?.stats(), ...ends})
    }
    expect(m.taskLatency?.count).toBe(a.tasksCompleted + b.tasksCompleted)
    // The first second is shard 0's alone: its own figures.
    expect(merged[0]?.latency.add).toEqual(s0[0]?.latency.add)
    // Samples go in the second they were taken at; the merged records carry no histograms.
    expect(merged.map((r) => r.scaling?.workers)).toEqual([1, 2, 3, undefined])
    expect(merged.every((r) => r.histograms === undefined)).toBe(true)
    // Shard 0's t=2 (ends at base + 3.2 s) and shard 1's t=1 (base + 3.3 s) are both second 2.
    expect(merged[2]?.requests.add).toBe((s0[2]?.requests.add ?? 0) + (s1[1]?.requests.add ?? 0))
    expect(merged[3]).toMatchObject({vus: 0, requests: {add: 0, status: 0}, latency: {}})
  })

  it('gives no latency for a second whose shards did not send their histograms, rather than a wrong one', () => {
    const merger = new SeriesMerger({executor: {type: 'constant-vus', vus: 2, durationMs: 1000, gracefulStopMs: 0}})
    const strip = (r: SecondRecord) => ({...r, histograms: undefined})
    merger.add(0, strip(record(0, 100, {add: values(5, 10), status: [], task: []})))
    merger.add(1, strip(record(0, 300, {add: values(5, 10), status: values(3, 10), task: []})))
    const [m] = merger.take(Math.round(base / 1000) + 1)
    expect(m?.requests.add).toBe(10)
    expect(m?.latency.add).toBeUndefined()
    // status: only shard 1 saw any, so its own figures are exact.
    expect(m?.latency.status?.count).toBe(3)
  })

  it('hands out each second once, and counts a record that came too late', () => {
    const merger = new SeriesMerger({executor: {type: 'constant-vus', vus: 2, durationMs: 1000, gracefulStopMs: 0}})
    merger.addSample(base - 3000, {source: 'cluster', workers: 1})
    merger.add(0, record(0, 100, {add: [1], status: [], task: []}))
    merger.add(0, record(1, 100, {add: [1], status: [], task: []}))
    const first = merger.take(Math.round(base / 1000) + 1)
    expect(first.map((r) => r.t)).toEqual([0])
    // Record 0 carries the latest sample before the load: the baseline.
    expect(first[0]?.scaling?.workers).toBe(1)
    merger.add(1, record(0, 150, {add: [1], status: [], task: []}))
    expect(merger.late).toBe(1)
    expect(merger.take(Math.round(base / 1000) + 2).map((r) => [r.t, r.requests.add])).toEqual([[1, 1]])
    expect(merger.take(Math.round(base / 1000) + 2)).toEqual([])
  })
})
