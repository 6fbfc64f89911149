import {describe, expect, it} from 'vitest'

import {startAutoscalerLoop} from '../../src/lab/dev/autoscaler.js'
import {waitFor} from '../helpers/processes.js'

/**
 * The loop around the rule: it polls the reader every interval, applies changes through
 * scaleTo, prints each change once, and survives a failing read.
 */

const rule = {minReplicas: 1, maxReplicas: 4, tasksPerReplica: 2, cooldownMs: 0, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}}

describe('startAutoscalerLoop', () => {
  it('scales by the readings and reports each change once', async () => {
    const readings = [
      {waiting: 5, active: 1},
      {waiting: 5, active: 1},
      {waiting: 0, active: 0},
    ]
    let i = 0
    const applied: number[] = []
    const lines: string[] = []
    const loop = startAutoscalerLoop({
      rule,
      pollingIntervalMs: 5,
      initialReplicas: 1,
      read: async () => readings[Math.min(i++, readings.length - 1)]!,
      async scaleTo(replicas) {
        applied.push(replicas)
      },
      report: (line) => lines.push(line),
    })
    await waitFor(() => applied.length >= 2, {what: 'two scaling decisions'})
    await loop.stop()
    expect(applied.slice(0, 2)).toEqual([3, 1])
    expect(lines.slice(0, 2)).toEqual([
      'scale 1 → 3: 6 tasks waiting+active, 2 per worker',
      'scale 3 → 1: 0 tasks waiting+active, 2 per worker; clamped to [min, max]',
    ])
  })

  it('keeps the workers and says so once when the queue cannot be read, then recovers', async () => {
    let calls = 0
    const lines: string[] = []
    const applied: number[] = []
    const loop = startAutoscalerLoop({
      rule,
      pollingIntervalMs: 5,
      initialReplicas: 2,
      read: async () => {
        calls++
        if (calls <= 3) throw new Error('Connection is closed.')
        return {waiting: 8, active: 0}
      },
      async scaleTo(replicas) {
        applied.push(replicas)
      },
      report: (line) => lines.push(line),
    })
    await waitFor(() => applied.length >= 1, {what: 'a decision after recovery'})
    await loop.stop()
    expect(lines.filter((l) => l.includes('cannot read'))).toEqual(['autoscale: cannot read the queue length (Connection is closed.); keeping 2 worker(s)'])
    expect(lines).toContain('autoscale: reading the queue works again')
    expect(applied[0]).toBe(4)
  })

  it('does not pile up polls behind a slow scale', async () => {
    let inFlight = 0
    let maxInFlight = 0
    let polls = 0
    const loop = startAutoscalerLoop({
      rule,
      pollingIntervalMs: 2,
      initialReplicas: 1,
      read: async () => {
        polls++
        return {waiting: polls % 2 ? 8 : 0, active: 0}
      },
      async scaleTo() {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        await new Promise((r) => setTimeout(r, 30))
        inFlight--
      },
      report: () => {},
    })
    await waitFor(
      () => {
        expect(maxInFlight, 'scale calls in flight at once').toBe(1) // enforced at every poll, not only at the end
        return polls >= 4
      },
      {what: 'four polls'},
    )
    await loop.stop()
    expect(maxInFlight).toBe(1)
  })
})
