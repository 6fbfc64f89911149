import {describe, expect, it} from 'vitest'

import {type AutoscaleOptions, decideScale, initialAutoscaleState, validateAutoscaleOptions} from '../../src/lab/autoscale.js'
import {decideAll} from '../helpers/autoscale.js'

const base: AutoscaleOptions = {
  minReplicas: 1,
  maxReplicas: 10,
  tasksPerReplica: 2,
  cooldownMs: 60_000,
  behavior: {scaleDown: {stabilizationWindowSeconds: 60}},
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
    const low = decideScale({...base, minReplicas: 2, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}}, initialAutoscaleState(4), {
      now: 0,
      waiting: 0,
      active: 1,
    })
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
    const options = {...base, behavior: {scaleDown: {stabilizationWindowSeconds: 30}}}
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
    const options = {...base, behavior: {scaleDown: {stabilizationWindowSeconds: 20}}}
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

describe("decideScale: the HPA's behaviour as install answers it (windows and policies in both directions)", () => {
  it("without behaviour, Kubernetes' defaults: a 300 s scale-down window", () => {
    const options: AutoscaleOptions = {minReplicas: 1, maxReplicas: 10, tasksPerReplica: 2, cooldownMs: 0}
    const decisions = decideAll(options, initialAutoscaleState(1), [
      [0, 8, 0], // → 4
      [299_000, 0, 0], // the 4 is still within 300 s
      [300_000, 0, 0], // it left the window
    ])
    expect(decisions.map((d) => d.to)).toEqual([4, 4, 1])
  })

  it('a scale-up window goes only as high as the lowest recommendation within it', () => {
    const options = {...base, behavior: {scaleUp: {stabilizationWindowSeconds: 20}}}
    const decisions = decideAll(options, initialAutoscaleState(1), [
      [0, 2, 0], // recommendation 1
      [10_000, 8, 0], // 4, but 1 was recommended 10 s ago
      [20_000, 8, 0], // the 1 (t=0) left the window; lowest left is 4
    ])
    expect(decisions.map((d) => d.to)).toEqual([1, 1, 4])
    expect(decisions[1]!.cause).toBe('stabilising')
    expect(decisions[1]!.message).toBe('stay at 1: 8 tasks waiting+active, 2 per worker; scale-up to 4 held back by the scale-up stabilisation window')
  })

  it('a Pods policy adds at most n per period, counting what was added within it', () => {
    const options = {...base, behavior: {scaleUp: {policies: [{type: 'Pods' as const, value: 1, periodSeconds: 10}]}}}
    const decisions = decideAll(options, initialAutoscaleState(1), [
      [0, 20, 0],
      [5_000, 20, 0], // 1 added 5 s ago: the period's start was 1 → at most 2
      [10_000, 20, 0],
      [20_000, 20, 0],
    ])
    expect(decisions.map((d) => d.to)).toEqual([2, 2, 3, 4])
    expect(decisions[0]!.message).toBe(
      'scale 1 → 2: 20 tasks waiting+active, 2 per worker; scale-up limited by the policies 1pods/10s (select=max), like the HPA',
    )
  })

  it('select=min takes the policy allowing the smaller change; select=disabled never scales that way', () => {
    const policies = [
      {type: 'Pods' as const, value: 4, periodSeconds: 15},
      {type: 'Percent' as const, value: 50, periodSeconds: 15},
    ]
    // From 4: Pods allows 8, 50 % allows ceil(4 × 1.5) = 6; Min takes 6, Max 8.
    const at4 = initialAutoscaleState(4)
    expect(decideScale({...base, behavior: {scaleUp: {selectPolicy: 'Min', policies}}}, at4, {now: 0, waiting: 40, active: 0}).to).toBe(6)
    expect(decideScale({...base, behavior: {scaleUp: {selectPolicy: 'Max', policies}}}, at4, {now: 0, waiting: 40, active: 0}).to).toBe(8)
    const disabled = decideScale({...base, behavior: {scaleUp: {selectPolicy: 'Disabled'}}}, at4, {now: 0, waiting: 40, active: 0})
    expect([disabled.to, disabled.cause]).toEqual([4, 'rate-limited'])
    expect(disabled.message).toBe('stay at 4: 40 tasks waiting+active, 2 per worker; scale-up disabled (select=disabled)')
    const noDown = decideScale({...base, behavior: {scaleDown: {stabilizationWindowSeconds: 0, selectPolicy: 'Disabled'}}}, at4, {
      now: 0,
      waiting: 0,
      active: 0,
    })
    expect(noDown.to).toBe(4)
  })

  it('scale-down policies: n pods or n % of the period start per period (the percentage truncated, as the controller does)', () => {
    const pods = {...base, behavior: {scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: 'Pods' as const, value: 1, periodSeconds: 10}]}}}
    const decisions = decideAll(pods, initialAutoscaleState(4), [
      [0, 0, 0],
      [5_000, 0, 0], // 1 removed 5 s ago: the period started at 4 → not below 3
      [10_000, 0, 0],
      [20_000, 0, 0],
    ])
    expect(decisions.map((d) => d.to)).toEqual([3, 3, 2, 1])
    expect(decisions[0]!.message).toBe(
      'scale 4 → 3: 0 tasks waiting+active, 2 per worker; scale-down limited by the policies 1pods/10s (select=max), like the HPA',
    )
    // 50 % of 3 leaves trunc(1.5) = 1.
    const percent = {...base, behavior: {scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: 'Percent' as const, value: 50, periodSeconds: 10}]}}}
    expect(decideScale(percent, initialAutoscaleState(3), {now: 0, waiting: 0, active: 0}).to).toBe(1)
    expect(decideScale(percent, initialAutoscaleState(5), {now: 0, waiting: 0, active: 0}).to).toBe(2)
  })

  it("a scale-down within a scale-up policy's period raises that period's start (the controller adds back what was removed)", () => {
    const options = {
      ...base,
      behavior: {
        scaleUp: {policies: [{type: 'Pods' as const, value: 1, periodSeconds: 30}]},
        scaleDown: {stabilizationWindowSeconds: 0},
      },
    }
    const decisions = decideAll(options, initialAutoscaleState(3), [
      [0, 0, 0], // 3 → 1 (default scale-down policy 100 %)
      [5_000, 20, 0], // period start = 1 + 2 removed = 3 → at most 4
    ])
    expect(decisions.map((d) => d.to)).toEqual([1, 4])
  })
})

describe('decideScale: KEDA activation and cooldown to zero (minReplicas 0)', () => {
  const zero = {...base, minReplicas: 0, cooldownMs: 30_000, behavior: {scaleDown: {stabilizationWindowSeconds: 10}}}

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
