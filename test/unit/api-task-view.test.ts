import {describe, expect, it} from 'vitest'

import {formatElapsed, formatProgress, type TaskSnapshot, taskId, taskStatus, toLegacyProgress, toTaskResource} from '../../src/services/api/task-view.js'

const base: TaskSnapshot = {
  id: '0b6f5a52-8a8e-4c55-9a53-1a3a55ef0d7e',
  state: 'waiting',
  progress: 0,
  elapsedMs: 0,
  queuedAt: Date.UTC(2026, 10, 28, 8, 0, 0),
  attemptsMade: 0,
  attemptsStarted: 0,
  maxAttempts: 1,
  iterations: 1000,
}

describe('api task view: the original contract formatting', () => {
  it('formats progress as a percent string with one decimal, clamped, never rounding up to 100', () => {
    expect(formatProgress(0)).toBe('0.0')
    expect(formatProgress(37)).toBe('37.0')
    expect(formatProgress(2.3)).toBe('2.3')
    expect(formatProgress(99.96)).toBe('99.9')
    expect(formatProgress(100)).toBe('100.0')
    expect(formatProgress(140)).toBe('100.0')
    expect(formatProgress(-3)).toBe('0.0')
    expect(formatProgress(Number.NaN)).toBe('0.0')
  })

  it('formats elapsed milliseconds as seconds with four decimals', () => {
    expect(formatElapsed(0)).toBe('0.0000')
    expect(formatElapsed(1234.5)).toBe('1.2345')
    expect(formatElapsed(5)).toBe('0.0050')
    expect(formatElapsed(-20)).toBe('0.0000')
    expect(formatElapsed(61_000)).toBe('61.0000')
  })

  it('maps BullMQ states to the four status words', () => {
    expect(taskStatus({state: 'waiting'})).toBe('Queued')
    expect(taskStatus({state: 'delayed'})).toBe('Queued')
    expect(taskStatus({state: 'prioritized'})).toBe('Queued')
    expect(taskStatus({state: 'active'})).toBe('Processing')
    expect(taskStatus({state: 'completed'})).toBe('Completed')
    expect(taskStatus({state: 'failed'})).toBe('Failed')
    expect(taskStatus({state: 'something-new'})).toBe('Queued')
  })

  it('builds the legacy progress object', () => {
    expect(toLegacyProgress({...base, state: 'active', progress: 37, elapsedMs: 1234.5})).toEqual({
      status: 'Processing',
      progress: '37.0',
      timeElapsed: '1.2345',
    })
  })
})

describe('api task view: ids and the modern resource', () => {
  it('accepts UUIDs in either case as the lower-case id the API hands out, nothing else', () => {
    expect(taskId(base.id)).toBe(base.id)
    expect(taskId(base.id.toUpperCase())).toBe(base.id)
    expect(taskId('0B6f5A52-8a8e-4C55-9a53-1a3a55EF0d7e')).toBe(base.id)
    expect(taskId('../..')).toBeUndefined()
    expect(taskId('1')).toBeUndefined()
    expect(taskId(`${base.id}x`)).toBeUndefined()
    expect(taskId(base.id.replace('0b', 'zz'))).toBeUndefined()
    expect(taskId('x'.repeat(10_000))).toBeUndefined()
  })

  it('reports a cancelled task as Cancelled, with the time it was cancelled as finishedAt', () => {
    const resource = toTaskResource({...base, state: 'cancelled', finishedAt: base.queuedAt + 5000, iterations: 7})
    expect(resource).toMatchObject({
      status: 'Cancelled',
      progress: 0,
      iterations: 7,
      finishedAt: new Date(base.queuedAt + 5000).toISOString(),
      result: null,
      failedReason: null,
    })
    expect(toLegacyProgress({...base, state: 'cancelled'})).toEqual({status: 'Cancelled', progress: '0.0', timeElapsed: '0.0000'})
  })

  it('types a completed task: ISO timestamps, seconds, attempts and result', () => {
    const resource = toTaskResource({
      ...base,
      state: 'completed',
      progress: 100,
      elapsedMs: 1500,
      startedAt: base.queuedAt + 10,
      finishedAt: base.queuedAt + 1510,
      attemptsMade: 1,
      attemptsStarted: 1,
      result: {checksum: 42},
    })
    expect(resource).toEqual({
      id: base.id,
      status: 'Completed',
      progress: 100,
      iterations: 1000,
      queuedAt: '2026-11-28T08:00:00.000Z',
      startedAt: '2026-11-28T08:00:00.010Z',
      finishedAt: '2026-11-28T08:00:01.510Z',
      elapsedSeconds: 1.5,
      attempts: 1,
      maxAttempts: 1,
      failedReason: null,
      result: {checksum: 42},
      links: {self: `/api/tasks/${base.id}`},
    })
  })

  it('reports a failure reason only once the task failed for good', () => {
    const retrying = toTaskResource({...base, state: 'waiting', failedReason: 'boom', attemptsMade: 1, attemptsStarted: 1, maxAttempts: 2})
    expect(retrying.status).toBe('Queued')
    expect(retrying.failedReason).toBeNull()
    const failed = toTaskResource({...base, state: 'failed', progress: 40, failedReason: 'boom', finishedAt: base.queuedAt + 5})
    expect(failed).toMatchObject({status: 'Failed', progress: 40, failedReason: 'boom', result: null, finishedAt: '2026-11-28T08:00:00.005Z'})
  })
})
