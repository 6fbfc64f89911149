import {describe, expect, it} from 'vitest'

import {guardRedis, RedisUnavailableError, redisFailure} from '../../src/services/api/task-redis.js'
import {cancelDecision} from '../../src/services/api/task-store.js'
import {addTasksCall, jobOptionsJson, snapshotFromReply, taskViewCall} from '../../src/services/api/task-scripts.js'

const keyOf = (type: string) => `bull:q:${type}`
const highWater = {ttlMs: 7_200_000, key: (id: string) => `keda-lab:q:task-view:${id}`}

describe('the task store, piece by piece', () => {
  it('lays out a batch of reads as the task-view script reads them: three queue keys, then three keys and two arguments per task', () => {
    expect(
      taskViewCall(
        keyOf,
        [
          {id: 'a', brief: true},
          {id: 'b', brief: false},
        ],
        1234,
        highWater,
      ),
    ).toEqual({
      keys: [
        'bull:q:completed',
        'bull:q:failed',
        'bull:q:active',
        'bull:q:a',
        'bull:q:a:lock',
        'keda-lab:q:task-view:a',
        'bull:q:b',
        'bull:q:b:lock',
        'keda-lab:q:task-view:b',
      ],
      args: [1234, 7_200_000, 'a', '1', 'b', '0'],
    })
  })

  it("lays out a batch of tasks as the add script reads them: BullMQ's six queue keys, then one job key and four arguments per task", () => {
    const data = {iterations: 5, queuedAt: '2026-12-07T00:00:00.000Z'}
    expect(addTasksCall(keyOf, 'long_task', [{id: 'a', data}], 99, (id) => `opts-${id}`)).toEqual({
      keys: ['bull:q:wait', 'bull:q:meta', 'bull:q:id', 'bull:q:active', 'bull:q:events', 'bull:q:marker', 'bull:q:a'],
      args: ['long_task', 'a', JSON.stringify(data), 'opts-a', 99],
    })
  })

  it('writes the job options BullMQ would, with the id in place', () => {
    const options = jobOptionsJson(3, 600)
    const id = '0b5e2c1e-5a57-4f0e-9d43-3f7c1f1b2a10'
    expect(options(id)).toBe(
      JSON.stringify({attempts: 3, backoff: {delay: 1000, type: 'exponential'}, jobId: id, removeOnComplete: {age: 600}, removeOnFail: {age: 600}}),
    )
  })

  it('reads a script reply into a snapshot: numbers, optional times, the attempts and size from the stored options and data', () => {
    const reply = ['active', '40', '1500', '1000', '1200', '', '0', '1', '', '', '{"iterations":7}', '{"attempts":3}'] as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    expect(snapshotFromReply('a', reply)).toEqual({
      id: 'a',
      state: 'active',
      progress: 40,
      elapsedMs: 1500,
      queuedAt: 1000,
      startedAt: 1200,
      finishedAt: undefined,
      attemptsMade: 0,
      attemptsStarted: 1,
      maxAttempts: 3,
      iterations: 7,
      failedReason: undefined,
      result: undefined,
    })
  })

  it('turns a Redis failure into a 503 only when Redis is the cause', () => {
    const context = {what: 'read task', status: 'ready', timeoutMs: 2000}
    const timedOut = redisFailure(new Error('Command timed out'), context)
    expect(timedOut).toBeInstanceOf(RedisUnavailableError)
    expect((timedOut as Error).message).toBe('Redis did not answer within 2000 ms (read task)')
    const reset = redisFailure(new Error('read ECONNRESET'), context)
    expect([reset instanceof RedisUnavailableError, (reset as Error).message]).toEqual([true, 'Redis failed (read task): read ECONNRESET'])
    // Any error once the connection dropped is Redis' fault.
    expect(redisFailure(new Error('odd'), {...context, status: 'reconnecting'})).toBeInstanceOf(RedisUnavailableError)
    // A bug stays a bug (500), not a 503.
    const bug = new TypeError('x is not a function')
    expect(redisFailure(bug, context)).toBe(bug)
  })

  it('fails fast while Redis is not connected, without calling Redis', async () => {
    const client: {status: 'connecting' | 'ready'} = {status: 'connecting'}
    const guarded = guardRedis(client, 2000)
    let called = false
    const operation = async () => {
      called = true
      return 1
    }
    await expect(guarded('ping', operation)).rejects.toThrow(new RedisUnavailableError('Redis is not connected (ping)'))
    expect(called).toBe(false)
    client.status = 'ready'
    expect(await guarded('ping', operation)).toBe(1)
    await expect(
      guarded('ping', async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6379')
      }),
    ).rejects.toBeInstanceOf(RedisUnavailableError)
  })

  it('cancels only a queued task: a cancelled one is the same success, a running or finished one a conflict', () => {
    const table = Object.fromEntries(
      ['waiting', 'delayed', 'prioritized', 'cancelled', 'active', 'completed', 'failed'].map((state) => [state, cancelDecision({state})]),
    )
    expect(table).toEqual({
      waiting: 'remove',
      delayed: 'remove',
      prioritized: 'remove',
      cancelled: {outcome: 'cancelled'},
      active: {outcome: 'conflict', reason: 'processing', status: 'Processing'},
      completed: {outcome: 'conflict', reason: 'finished', status: 'Completed'},
      failed: {outcome: 'conflict', reason: 'finished', status: 'Failed'},
    })
  })
})
