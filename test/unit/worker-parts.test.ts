import {UnrecoverableError} from 'bullmq'
import {describe, expect, it, vi} from 'vitest'

import {forwardProgress, taskInput} from '../../src/services/worker/task-job.js'
import {closeOrDrop, throttledErrorLog} from '../../src/services/worker/worker.js'

/** Collects log calls as [level, obj, msg]. */
function recorder() {
  const lines: unknown[][] = []
  return {
    lines,
    error: (obj: object, msg?: string) => void lines.push(['error', obj, msg]),
    warn: (obj: object | string, msg?: string) => void lines.push(['warn', obj, msg]),
  }
}

describe('the worker, piece by piece', () => {
  it('runs only long_task jobs with valid data, and fails the others for good', () => {
    const log = recorder()
    expect(taskInput({name: 'long_task', data: {iterations: 5}}, 100, log)).toEqual({iterations: 5, failAt: undefined, resume: undefined})
    expect(taskInput({name: 'long_task', data: undefined}, 100, log).iterations).toBe(100)
    expect(() => taskInput({name: 'other', data: {}}, 100, log)).toThrow(new UnrecoverableError('unknown job name "other": this worker runs "long_task"'))
    expect(log.lines).toEqual([])
    let thrown: unknown
    try {
      taskInput({name: 'long_task', data: {iterations: -1}}, 100, log)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(UnrecoverableError)
    expect((thrown as Error).message).toMatch(/^invalid task data: /)
    expect(log.lines).toEqual([['error', {reason: (thrown as Error).message}, 'task rejected']])
  })

  it('reports progress only forward, from what the job had reported before', async () => {
    const updates: number[] = []
    const progress = forwardProgress(30, async (step) => updates.push(step))
    for (const step of [10, 30, 31, 31, 50]) await progress.onStep(step)
    expect(updates).toEqual([31, 50])
    expect(progress.current()).toBe(50)
    // A job that reported nothing (or something else than a number) starts from 0.
    const fresh = forwardProgress({}, async (step) => updates.push(step))
    expect(fresh.current()).toBe(0)
    await fresh.onStep(1)
    expect(updates.at(-1)).toBe(1)
  })

  it('logs each distinct error once per window', () => {
    const log = recorder()
    let now = 1_000_000
    const onError = throttledErrorLog(log, 10_000, () => now)
    onError(new Error('ECONNREFUSED'))
    now = 1_005_000
    onError(new Error('ECONNREFUSED'))
    onError(new Error('READONLY'))
    now = 1_010_001
    onError(new Error('ECONNREFUSED'))
    expect(log.lines.map((line) => (line[1] as {reason: string}).reason)).toEqual(['ECONNREFUSED', 'READONLY', 'ECONNREFUSED'])
  })

  it('drops the connections when a close hangs once no task runs, and only then', async () => {
    // Fake timers: the watchdog's interval and Date.now advance only when the test says so.
    vi.useFakeTimers()
    try {
      const log = recorder()
      let disconnected = 0
      let active = 1
      const hanging = {close: () => new Promise<void>(() => {}), disconnect: async () => void disconnected++}
      let done = false
      const closed = closeOrDrop(hanging, () => active, log, 2000).then(() => (done = true))
      // Still a task running: the close waits for it, however long.
      await vi.advanceTimersByTimeAsync(60_000)
      expect([done, disconnected]).toEqual([false, 0])
      active = 0
      await vi.advanceTimersByTimeAsync(1500)
      expect(done).toBe(false)
      await vi.advanceTimersByTimeAsync(1000)
      await closed
      expect(disconnected).toBe(1)
      expect(log.lines).toEqual([['warn', 'Redis did not answer while closing; dropping the connections', undefined]])

      const quick = {close: async () => {}, disconnect: async () => void disconnected++}
      await closeOrDrop(quick, () => 0, log, 2000)
      await vi.advanceTimersByTimeAsync(10_000)
      expect(disconnected).toBe(1)
    } finally {
      vi.useRealTimers()
    }
  })
})
