import {describe, expect, it} from 'vitest'

import {type AutoscaleOptions, decideScale, initialAutoscaleState, validateAutoscaleOptions} from '../../src/lab/autoscale.js'
import {decideAll} from '../helpers/autoscale.js'

const base: AutoscaleOptions = {
  minReplicas: 1,
  maxReplicas: 10,
  tasksPerReplica: 2,
  cooldownMs: 60_000,
  scaleDownStabilizationMs: 60_000,
}

describe('decideScale: desired = ceil((wait + active) / tasksPerReplica), clamped', () => {
  it('scales up by the HPA formula and says why, in the message format the dev command prints', () => {
    const d = decideScale(base, initialAutoscaleState(1), {now: 0, waiting: 5, active: 2})
    expect(d.to).toBe(4)
    expect(d.metric).toBe(7)
    expect(d.cause).toBe('hpa')
    expect(d.message).toBe('scale 1 → 4: 7 tasks waiting+active, 2 per worker')
  })

  it('counts active tasks, so busy workers are not removed while the waiting list is empty', () => {
    const d = decideScale(base, initialAutoscaleState(3), {now: 0, waiting: 0, active: 6})
    expect(d.to).toBe(3)
  })

  it('clamps to the maximum and to max(min, 1)', () => {
    expect(decideScale({...base, maxReplicas: 3}, initialAutoscaleState(2), {now: 0, waiting: 40, active: 2}).to).toBe(3)
    const low = decideScale({...base, minReplicas: 2, scaleDownStabilizationMs: 0}, initialAutoscaleState(4), {now: 0, waiting: 0, active: 1})
    expect(low.to).toBe(2)
    expect(low.cause).toBe('clamped')
  })

  it('keeps the replicas when the ratio is within the 10 % tolerance', () => {
    // 21 tasks / (2 per replica × 10 replicas) = 1.05 → no change although ceil(21/2) = 11.
    const d = decideScale({...base, maxReplicas: 20}, initialAutoscaleState(10), {now: 0, waiting: 21, active: 0})
    expect(d.to).toBe(10)
    expect(d.cause).toBe('within-tolerance')
    // 23 / 20 = 1.15 → beyond the tolerance: ceil(23/2) = 12.
    expect(decideScale({...base, maxReplicas: 20}, initialAutoscaleState(10), {now: 0, waiting: 23, active: 0}).to).toBe(12)
  })

  it('limits a scale-up to max(2×, +4) replicas per 15 s period, like the HPA default policy', () => {
    const options = {...base, maxReplicas: 50}
    const [first, second, third] = decideAll(options, initialAutoscaleState(1), [
      [0, 100, 0], // wants 50, limit max(2, 1+4) = 5
      [5_000, 100, 0], // same period: start was 1 → still 5
      [15_000, 100, 0], // new period from 5: max(10, 9) = 10
    ])
    expect([first!.to, first!.cause]).toEqual([5, 'rate-limited'])
    expect(second!.to).toBe(5)
    expect(third!.to).toBe(10)
  })
})

describe('decideScale: scale-down stabilisation window (HPA behavior.scaleDown)', () => {
  it('holds the highest recommendation of the window, then scales down once it has passed', () => {
    const options = {...base, scaleDownStabilizationMs: 30_000}
    const decisions = decideAll(options, initialAutoscaleState(1), [
      [0, 8, 0], // → 4
      [10_000, 0, 2], // recommendation 1, but 4 was recommended 10 s ago
      [20_000, 0, 0], // still within 30 s of the 4
      [30_000, 0, 0], // the 4 (t=0) left the window; the highest left is 1
    ])
    expect(decisions.map((d) => d.to)).toEqual([4, 4, 4, 1])
    expect(decisions[1]!.cause).toBe('stabilising')
    expect(decisions[3]!.message).toBe('scale 4 → 1: 0 tasks waiting+active, 2 per worker; clamped to [min, max]')
  })

  it('steps down through intermediate recommendations as they leave the window', () => {
    const options = {...base, scaleDownStabilizationMs: 20_000}
    const decisions = decideAll(options, initialAutoscaleState(5), [
      [0, 10, 0], // 5
      [10_000, 6, 0], // 3, held at 5
      [20_000, 0, 0], // window [0..20) drops t=0 → highest 3
      [30_000, 0, 0], // drops t=10 → 1
    ])
    expect(decisions.map((d) => d.to)).toEqual([5, 5, 3, 1])
  })

  it('scales up immediately even right after a scale-down recommendation', () => {
    const decisions = decideAll(base, initialAutoscaleState(2), [
      [0, 0, 0],
      [1_000, 20, 0],
    ])
    expect(decisions.map((d) => d.to)).toEqual([2, 6])
  })
})

describe('decideScale: KEDA activation and cooldown to zero (minReplicas 0)', () => {
  const zero = {...base, minReplicas: 0, cooldownMs: 30_000, scaleDownStabilizationMs: 10_000}

  it('activates 0 → 1 on the first task, then lets the HPA take over', () => {
    const [a, b] = decideAll(zero, initialAutoscaleState(0), [
      [0, 9, 0],
      [5_000, 9, 0],
    ])
    expect([a!.to, a!.cause]).toEqual([1, 'activate'])
    expect(b!.to).toBe(5)
  })

  it('stays at zero while the queue is empty', () => {
    const d = decideScale(zero, initialAutoscaleState(0), {now: 0, waiting: 0, active: 0})
    expect(d.to).toBe(0)
    expect(d.message).toBe('stay at 0: 0 tasks waiting+active, 2 per worker')
  })

  it('keeps one replica until the queue has been idle for the whole cooldown, then scales to zero', () => {
    const decisions = decideAll(zero, initialAutoscaleState(1), [
      [0, 0, 1],
      [10_000, 0, 0],
      [29_999, 0, 0],
      [30_000, 0, 0],
    ])
    expect(decisions.map((d) => d.to)).toEqual([1, 1, 1, 0])
    expect(decisions[1]!.cause).toBe('cooldown-pending')
    expect(decisions[3]!.cause).toBe('scale-to-zero')
  })

  it('restarts the cooldown whenever the queue is active again', () => {
    const decisions = decideAll(zero, initialAutoscaleState(1), [
      [0, 1, 0],
      [20_000, 0, 0],
      [25_000, 1, 0],
      [50_000, 0, 0],
      [55_000, 0, 0],
    ])
    expect(decisions.map((d) => d.to)).toEqual([1, 1, 1, 1, 0])
  })

  it('never scales to zero when the minimum is 1', () => {
    const d = decideScale({...base, cooldownMs: 0}, {...initialAutoscaleState(1), lastActiveAt: -1e9}, {now: 0, waiting: 0, active: 0})
    expect(d.to).toBe(1)
  })
})

describe('validateAutoscaleOptions', () => {
  it('accepts sane settings and names the wrong one otherwise', () => {
    expect(validateAutoscaleOptions(base)).toBeUndefined()
    expect(validateAutoscaleOptions({...base, minReplicas: 4, maxReplicas: 3})).toMatch(/min replicas \(4\) must not exceed max replicas \(3\)/)
    expect(validateAutoscaleOptions({...base, tasksPerReplica: 0})).toMatch(/tasks per replica/)
    expect(validateAutoscaleOptions({...base, maxReplicas: 0})).toMatch(/max replicas/)
    expect(validateAutoscaleOptions({...base, minReplicas: 1.5})).toMatch(/min replicas/)
  })
})
