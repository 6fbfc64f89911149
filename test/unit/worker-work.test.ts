import {describe, expect, it} from 'vitest'

import {TASK_STEPS} from '../../src/services/shared/tasks.js'
import {hashIterations, iterationsInStep, RequestedFailureError, runTask, TASK_SEED, taskChecksum} from '../../src/services/worker/work.js'

describe('worker task: the CPU work', () => {
  it('splits a size over the 100 steps without losing or adding an iteration', () => {
    for (const size of [0, 1, 99, 100, 101, 12_345, 100_000_000, 1_000_000_000]) {
      let sum = 0
      for (let step = 1; step <= TASK_STEPS; step++) {
        const n = iterationsInStep(size, step)
        expect(Number.isInteger(n)).toBe(true)
        sum += n
      }
      expect(sum).toBe(size)
    }
  })

  it('hashes in a chain: splitting the work gives the same state, other sizes other states', () => {
    const whole = hashIterations(TASK_SEED, 10_000)
    const split = hashIterations(hashIterations(hashIterations(TASK_SEED, 1), 4_321), 5_678)
    expect(split).toBe(whole)
    expect(hashIterations(TASK_SEED, 9_999)).not.toBe(whole)
    expect(hashIterations(TASK_SEED, 0)).toBe(TASK_SEED)
  })

  it('runs 100 steps, reports each one once and in order, and returns the checksum of its size', async () => {
    const steps: number[] = []
    const result = await runTask({iterations: 200_000, onStep: (step) => void steps.push(step)})
    expect(steps).toEqual(Array.from({length: TASK_STEPS}, (_, i) => i + 1))
    expect(result).toEqual({status: 'completed', checksum: taskChecksum(200_000), steps: TASK_STEPS})
    expect(taskChecksum(200_000)).not.toBe(taskChecksum(200_001))
  })

  it('does no step and no progress write for an empty task', async () => {
    const steps: number[] = []
    const result = await runTask({iterations: 0, onStep: (step) => void steps.push(step)})
    expect(steps).toEqual([])
    expect(result).toEqual({status: 'completed', checksum: taskChecksum(0), steps: TASK_STEPS})
  })

  it('stops at a step boundary when aborted and resumes to the same checksum', async () => {
    const controller = new AbortController()
    const first = await runTask({
      iterations: 300_000,
      signal: controller.signal,
      onStep: (step) => {
        if (step === 42) controller.abort('shutdown')
      },
    })
    expect(first).toEqual({status: 'interrupted', checkpoint: {step: 42, state: expect.any(Number)}})
    if (first.status !== 'interrupted') throw new Error('unreachable')
    const rest: number[] = []
    const second = await runTask({iterations: 300_000, from: first.checkpoint, onStep: (step) => void rest.push(step)})
    expect(rest[0]).toBe(43)
    expect(rest.at(-1)).toBe(TASK_STEPS)
    expect(second).toEqual({status: 'completed', checksum: taskChecksum(300_000), steps: TASK_STEPS})
  })

  it('fails on purpose at failAt, after reporting the steps before it', async () => {
    const steps: number[] = []
    await expect(runTask({iterations: 10_000, failAt: 37, onStep: (step) => void steps.push(step)})).rejects.toThrow(RequestedFailureError)
    expect(steps.at(-1)).toBe(36)
    // failAt works on an empty task too (the size is 0, the steps still count).
    await expect(runTask({iterations: 0, failAt: 1})).rejects.toThrow(/step 1 of 100/)
  })

  it('keeps the event loop turning while it computes, so timers (BullMQ lock renewal) run throughout', async () => {
    // About 0.4 s of CPU in 2 ms slices. A due timer must fire during every tenth of the task,
    // not only at its end as with a loop that never yields. Behaviour, not a duration: a loaded
    // machine makes every tenth longer and so gives the timer more chances, not fewer. The size
    // of the gaps between two turns is a figure of `npm run bench` (bench/worker-event-loop.ts).
    let step = 0
    const tenthsWithATick = new Set<number>()
    const timer = setInterval(() => tenthsWithATick.add(Math.floor(step / 10)), 1)
    try {
      await runTask({iterations: 8_000_000, sliceMs: 2, onStep: (s) => void (step = s)})
    } finally {
      clearInterval(timer)
    }
    // Ticks seen after step 100 (the task's end) do not count: only tenths 0..9.
    expect([...tenthsWithATick].filter((t) => t < 10).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('control: the same steps without yielding leave no tenth with a tick (so the test above can fail)', async () => {
    let step = 0
    const tenthsWithATick = new Set<number>()
    const timer = setInterval(() => tenthsWithATick.add(Math.floor(step / 10)), 1)
    try {
      for (let s = 1; s <= TASK_STEPS; s++) {
        hashIterations(TASK_SEED ^ s, iterationsInStep(2_000_000, s))
        step = s
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    } finally {
      clearInterval(timer)
    }
    expect([...tenthsWithATick].filter((t) => t < 10)).toEqual([])
  })
})
