import {describe, expect, it} from 'vitest'

import type {ConstantArrivalRate, RampingArrivalRate} from '../../src/lab/loadtest/executors.js'
import {executorPlan} from '../../src/lab/loadtest/executors.js'
import {arrivalSchedule, iterationsDueBy} from '../../src/lab/loadtest/schedule.js'

function all(config: ConstantArrivalRate | RampingArrivalRate, shard?: {index: number; count: number}): number[] {
  const schedule = arrivalSchedule(config, shard)
  const times: number[] = []
  for (let t = schedule.next(); t !== undefined; t = schedule.next()) times.push(t)
  return times
}

const constant: ConstantArrivalRate = {type: 'constant-arrival-rate', rate: 5, durationMs: 2000, maxVUs: 10, gracefulStopMs: 0}
const ramp: RampingArrivalRate = {
  type: 'ramping-arrival-rate',
  startRate: 0,
  stages: [
    {durationMs: 10_000, target: 10},
    {durationMs: 5_000, target: 10},
    {durationMs: 10_000, target: 0},
  ],
  maxVUs: 10,
  gracefulStopMs: 0,
}

describe('the open-model schedule', () => {
  it('a constant rate starts iteration j at t0 + j/rate', () => {
    const times = all(constant)
    expect(times).toHaveLength(10)
    times.forEach((t, j) => {
      expect(t).toBeCloseTo(j * 200, 6)
    })
    expect(executorPlan(constant).scheduledIterations).toBe(10)
  })

  it('a ramp follows the integral of the rate (the root of the quadratic)', () => {
    const times = all(ramp)
    // 0 → 10/s over 10 s: 50; hold 10/s for 5 s: 50; 10 → 0 over 10 s: 50.
    expect(times).toHaveLength(150)
    expect(executorPlan(ramp).scheduledIterations).toBe(150)
    // During the first ramp, integral = t²/2 (t in s): iteration j at sqrt(2j) s.
    for (const j of [1, 8, 32, 49]) expect(times[j]).toBeCloseTo(Math.sqrt(2 * j) * 1000, 3)
    // On the hold, every 100 ms.
    expect(times[60]).toBeCloseTo(11_000, 3)
    // Times only go forward, and each is where the integral reaches its index.
    for (let j = 1; j < times.length; j++) {
      expect(times[j]).toBeGreaterThanOrEqual(times[j - 1] as number)
      expect(iterationsDueBy(ramp, times[j] as number)).toBeCloseTo(j, 6)
    }
    // The last start is before the end of the ramp-down.
    expect(times.at(-1)).toBeLessThan(25_000)
  })

  it('shards take every N-th start of the same schedule, together exactly the whole', () => {
    const whole = all(ramp)
    const shards = [0, 1, 2].map((index) => all(ramp, {index, count: 3}))
    expect(shards.map((s) => s.length)).toEqual([50, 50, 50])
    const merged = shards.flat().sort((a, b) => a - b)
    expect(merged).toHaveLength(whole.length)
    merged.forEach((t, j) => {
      expect(t).toBeCloseTo(whole[j] as number, 6)
    })
  })
})
