import {describe, expect, it} from 'vitest'

import {availability} from './load.js'
import type {ServiceProcess} from './services.js'
import {executions, ranTwiceConcurrently} from './verdict.js'

/** A worker as the harness sees it: its JSON log lines (pino's isoTime) and how it ended. */
const worker = (name: string, lines: Array<[number, string, string]>, extra: Partial<ServiceProcess> = {}) =>
  ({name, lines: lines.map(([at, msg, taskId]) => ({time: new Date(at).toISOString(), msg, taskId})), ...extra}) as unknown as ServiceProcess

describe('the chaos verdict: execution record, double runs, availability', () => {
  it('reads runs from worker logs; a SIGKILLed worker’s open run ends at the kill', () => {
    const runs = executions([
      worker(
        'a',
        [
          [1000, 'task started', 't1'],
          [2000, 'task completed', 't1'],
          [2500, 'task started', 't2'],
        ],
        {killedAt: 3000},
      ),
      worker('b', [
        [3100, 'task started', 't2'],
        [3200, 'task interrupted for shutdown; handing it back', 't2'],
        [3210, 'task handed back at shutdown; another worker resumes it from this step', 't2'],
      ]),
    ])
    expect(runs).toEqual([
      {taskId: 't1', worker: 'a', start: 1000, end: 2000, how: 'completed'},
      {taskId: 't2', worker: 'a', start: 2500, end: 3000, how: 'killed'},
      {taskId: 't2', worker: 'b', start: 3100, end: 3200, how: 'handed-back'},
    ])
    // One after the other is a re-run, not a double run.
    expect(ranTwiceConcurrently(runs)).toEqual([])
  })

  it('flags a task two workers ran at the same time (control case: a lock lost while the first still ran)', () => {
    const runs = executions([
      worker('a', [
        [1000, 'task started', 't1'],
        [5000, 'task failed', 't1'],
      ]),
      worker('b', [
        [4000, 'task started', 't1'],
        [6000, 'task completed', 't1'],
      ]),
      worker('c', [[1000, 'task started', 't2']]),
    ])
    expect(ranTwiceConcurrently(runs)).toEqual(['t1'])
  })

  it('error rate and the longest stretch without a right answer', () => {
    const ok = (at: number) => ({kind: 'poll' as const, at, ms: 10, ok: true, status: 200})
    const bad = (at: number, status: number | string) => ({kind: 'submit' as const, at, ms: 10, ok: false, status})
    const result = availability([ok(0), bad(100, 503), bad(900, 'ECONNREFUSED'), ok(2000), ok(2100)])
    expect(result).toEqual({requests: 5, errors: 2, errorRate: 0.4, longestOutageMs: 2000, errorKinds: {503: 1, ECONNREFUSED: 1}})
  })
})
