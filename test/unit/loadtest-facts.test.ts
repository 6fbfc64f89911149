import {describe, expect, it} from 'vitest'

import {createFactsCollector, describeScalingFacts, scalingFacts} from '../../src/lab/loadtest/facts.js'
import type {ScalingSample, SecondRecord} from '../../src/lab/loadtest/records.js'
import {rampShape, simulateRun} from '../helpers/loadtest-records.js'

/** A record with only what the facts read: adds this second and the sample. */
function rec(t: number, add: number, scaling?: Partial<ScalingSample>): SecondRecord {
  return {
    t,
    at: new Date(Date.UTC(2026, 11, 7, 1, 0, t)).toISOString(),
    vus: 1,
    iterationsStarted: add,
    iterationsCompleted: 0,
    droppedIterations: 0,
    requests: {add, status: 0},
    errors: 0,
    checks: {passed: 0, failed: 0},
    latency: {},
    tasksCompleted: 0,
    ...(scaling ? {scaling: {source: 'dev', ...scaling}} : {}),
  }
}

describe('scalingFacts', () => {
  it('reads the times, peaks and every change from a hand-made run', () => {
    // t:        0  1  2  3  4  5  6  7  8  9
    // adds:     0  2  3  1  0  0  0  0  0  0
    // backlog:  0  2  5  6  4  2  0  0  0  0
    // workers:  1  1  1  2  3  3  3  2  1  1
    const adds = [0, 2, 3, 1, 0, 0, 0, 0, 0, 0]
    const backlog = [0, 2, 5, 6, 4, 2, 0, 0, 0, 0]
    const workers = [1, 1, 1, 2, 3, 3, 3, 2, 1, 1]
    const records = adds.map((a, t) =>
      rec(t, a, {queueWaiting: Math.max(0, (backlog[t] ?? 0) - 1), queueActive: Math.min(1, backlog[t] ?? 0), workers: workers[t]}),
    )
    const facts = scalingFacts(records)
    expect(facts).toEqual({
      source: 'dev',
      firstAddT: 1,
      lastAddT: 3,
      workersAtStart: 1,
      workersMax: 3,
      workersMin: 1,
      firstScaleUpS: 2,
      toMaxS: 3,
      backlogPeak: 6,
      drainS: 3,
      backToMinS: 5,
      events: [
        {t: 3, what: 'workers', from: 1, to: 2},
        {t: 4, what: 'workers', from: 2, to: 3},
        {t: 7, what: 'workers', from: 3, to: 2},
        {t: 8, what: 'workers', from: 2, to: 1},
      ],
    })
    expect(describeScalingFacts(facts)).toEqual([
      'scaling (dev): workers: 1 at start, max 3, min 1',
      'scaling (dev): first scale-up 2 s after the first task; max reached after 3 s',
      'scaling (dev): back to 1 worker(s) 5 s after the last add',
      'scaling (dev): backlog peak 6 task(s); drained 3 s after the last add',
    ])
  })

  it('says "not yet" when the workers are still up at the end, and skips failed samples', () => {
    const records = [
      rec(0, 1, {workers: 1, queueWaiting: 1, queueActive: 0}),
      rec(1, 1, {workers: 2, queueWaiting: 3, queueActive: 0, apiReplicas: 1}),
      rec(2, 0, {error: 'connection refused'}),
      rec(3, 0, {workers: 4, queueWaiting: 5, queueActive: 2, apiReplicas: 2}),
      rec(4, 0),
      rec(5, 0, {workers: 4, queueWaiting: 2, queueActive: 2, apiReplicas: 2}),
    ]
    const facts = scalingFacts(records)
    expect(facts.backToMinS).toBeUndefined()
    expect(facts.backToMinNote).toBe('not yet, after 4 s')
    expect(facts.drainS).toBeUndefined()
    expect(facts.backlogPeak).toBe(7)
    expect(facts.apiReplicasMax).toBe(2)
    // The failed sample at t=2 is a gap, not a drop to zero.
    expect(facts.events).toEqual([
      {t: 1, what: 'workers', from: 1, to: 2},
      {t: 3, what: 'workers', from: 2, to: 4},
      {t: 3, what: 'api', from: 1, to: 2},
    ])
    expect(describeScalingFacts(facts)).toContain('scaling (dev): back to 1 worker(s): not yet, after 4 s')
  })

  it('measures from the resting count when the first sample is already scaled up (a second into the load)', () => {
    const records = [
      rec(0, 2, {workers: 2, queueWaiting: 2, queueActive: 0}),
      rec(1, 1, {workers: 3, queueWaiting: 2, queueActive: 1}),
      rec(2, 0, {workers: 3, queueWaiting: 0, queueActive: 1}),
      rec(3, 0, {workers: 2, queueWaiting: 0, queueActive: 0}),
      rec(4, 0, {workers: 1, queueWaiting: 0, queueActive: 0}),
    ]
    const facts = scalingFacts(records)
    expect(facts).toMatchObject({workersAtStart: 2, workersMin: 1, workersMax: 3, firstScaleUpS: 0, toMaxS: 1, backToMinS: 3, drainS: 2})
    expect(describeScalingFacts(facts)).toContain('scaling (dev): back to 1 worker(s) 3 s after the last add')
  })

  it('is settled once the queue is empty and the workers are back at the configured minimum, not the first sample', () => {
    const c = createFactsCollector()
    const feed = (t: number, s: Partial<ScalingSample>) => c.onRecord(rec(t, 0, s))
    feed(0, {workers: 2, workersDesired: 2, workersMinReplicas: 1, queueWaiting: 3, queueActive: 1})
    expect(c.settled()).toBe(false)
    feed(1, {workers: 2, workersDesired: 2, workersMinReplicas: 1, queueWaiting: 0, queueActive: 0})
    expect(c.settled()).toBe(false) // back at the first sample's 2, still above the minimum 1
    feed(2, {workers: 2, workersDesired: 1, workersMinReplicas: 1, queueWaiting: 0, queueActive: 0})
    expect(c.settled()).toBe(false)
    feed(3, {error: 'queue: ECONNRESET'})
    expect(c.settled()).toBe(false) // one failed sample is a gap, not the end
    feed(4, {workers: 1, workersDesired: 1, workersMinReplicas: 1, queueWaiting: 0, queueActive: 0})
    expect(c.settled()).toBe(true)
    expect(c.facts().workersMinReplicas).toBe(1)
    // A sampler that sees no queue at all: given up after five samples in a row.
    const blind = createFactsCollector()
    for (let t = 0; t < 5; t++) {
      expect(blind.settled()).toBe(false)
      blind.onRecord(rec(t, 0, {error: 'queue: HTTP 404'}))
    }
    expect(blind.settled()).toBe(true)
  })

  it('says nothing was watched when no sample came', () => {
    const facts = scalingFacts([rec(0, 3), rec(1, 2)])
    expect(facts).toEqual({source: 'none', events: []})
    expect(describeScalingFacts(facts)).toEqual(['scaling: not watched (no sample from the cluster, dev stack or API)'])
  })

  it('holds its invariants on simulated ramps (seeded)', () => {
    const base = 20261207
    console.log(`loadtest-facts: seeds ${base}..${base + 49}`)
    for (let seed = base; seed < base + 50; seed++) {
      const records = simulateRun({
        seed,
        vus: rampShape(8, 8, 16),
        tailS: 30,
        minWorkers: 1,
        maxWorkers: 5,
        tasksPerWorker: 2,
        workerRate: 0.5,
        scaleDelayS: 2,
        scaleDownAfterS: 5,
        failedSamples: [seed % 40],
      })
      const facts = scalingFacts(records)
      const workers = records.flatMap((r) => (r.scaling?.workers === undefined ? [] : [r.scaling.workers]))
      const ctx = `seed ${seed}`
      expect(facts.workersMax, ctx).toBe(Math.max(...workers))
      expect(facts.workersMin, ctx).toBe(Math.min(...workers))
      // Replaying the events from the starting count ends at the last count seen.
      let replayed = facts.workersAtStart ?? 0
      for (const e of facts.events.filter((e) => e.what === 'workers')) {
        expect(e.from, ctx).toBe(replayed)
        replayed = e.to
      }
      expect(replayed, ctx).toBe(workers.at(-1))
      if (facts.workersMax !== facts.workersAtStart) {
        expect(facts.firstScaleUpS, ctx).toBeGreaterThanOrEqual(0)
        expect(facts.toMaxS, ctx).toBeGreaterThanOrEqual(facts.firstScaleUpS ?? 0)
        expect(facts.backToMinS !== undefined || facts.backToMinNote !== undefined, ctx).toBe(true)
      }
    }
  })
})
