import {describe, expect, it} from 'vitest'

import {type AutoscaleOptions, initialAutoscaleState} from '../../src/lab/autoscale.js'
import {decideAll} from '../helpers/autoscale.js'

/**
 * The decision lines `keda-lab dev --autoscale` prints say what happened: a scale-down the
 * stabilisation window lets go only part of the way is a scale, not "held back".
 */

const base: AutoscaleOptions = {
  minReplicas: 1,
  maxReplicas: 10,
  tasksPerReplica: 2,
  cooldownMs: 60_000,
  behavior: {scaleDown: {stabilizationWindowSeconds: 20}},
}

describe('autoscale decision messages', () => {
  it('held back entirely: "stay at", with the scale-down that was held back; partly: "scale", with what the window allowed', () => {
    const decisions = decideAll(base, initialAutoscaleState(5), [
      [0, 10, 0], // 5
      [10_000, 6, 0], // recommendation 3, held at 5
      [20_000, 0, 0], // recommendation 1; the window still holds the 3 (t=10 s): 5 → 3
      [30_000, 0, 0], // → 1
    ])
    expect(decisions.map((d) => d.to)).toEqual([5, 5, 3, 1])
    expect(decisions[1]!.message).toBe('stay at 5: 6 tasks waiting+active, 2 per worker; scale-down to 3 held back by the stabilisation window')
    expect(decisions[2]!.message).toBe(
      'scale 5 → 3: 0 tasks waiting+active, 2 per worker; 1 would do; the stabilisation window allows only 3, the highest recommendation within it',
    )
    expect(decisions[3]!.message).toBe('scale 3 → 1: 0 tasks waiting+active, 2 per worker; clamped to [min, max]')
  })

  it('on random queues: a message that scales never says "held back", one that stays never says "scale"', () => {
    let seed = 42
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    for (let round = 0; round < 200; round++) {
      const options = {
        ...base,
        minReplicas: Math.floor(random() * 2),
        maxReplicas: 1 + Math.floor(random() * 8),
        behavior: {scaleDown: {stabilizationWindowSeconds: Math.floor(random() * 4) * 5}},
      }
      const samples: [number, number, number][] = Array.from({length: 30}, (_, i) => [i * 5000, Math.floor(random() * 12), Math.floor(random() * 4)])
      for (const d of decideAll(options, initialAutoscaleState(1), samples)) {
        if (d.to !== d.from) {
          expect(d.message).toMatch(new RegExp(`^scale ${d.from} → ${d.to}: `))
          expect(d.message).not.toContain('held back')
        } else {
          expect(d.message).toMatch(new RegExp(`^stay at ${d.from}: `))
        }
        if (d.cause === 'stabilising')
          expect(d.message).toMatch(d.to === d.from ? /held back by the stabilisation window$/ : /the stabilisation window allows only \d+/)
      }
    }
  })
})
