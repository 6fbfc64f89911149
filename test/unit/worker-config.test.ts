import {describe, expect, it} from 'vitest'

import {loadWorkerConfig} from '../../src/services/worker/config.js'
import {InvalidTaskDataError, parseTaskData, RESUME_KEY} from '../../src/services/worker/task-data.js'
import {DEFAULT_TASK_ITERATIONS, MAX_TASK_ITERATIONS} from '../../src/services/shared/tasks.js'
import {configErrorOf} from '../helpers/config.js'

const configError = (env: NodeJS.ProcessEnv) => configErrorOf(loadWorkerConfig, env)

describe('worker configuration (environment)', () => {
  it('has the documented defaults', () => {
    const config = loadWorkerConfig({})
    expect(config).toMatchObject({
      redis: {mode: 'standalone', url: 'redis://127.0.0.1:6379'},
      queueName: 'tasks',
      concurrency: 1,
      metricsPort: 9002,
      defaultIterations: DEFAULT_TASK_ITERATIONS,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 1,
      shutdownGraceMs: 25_000,
    })
    expect(config.name).toMatch(/-\d+$/)
  })

  it('reads every variable, Sentinel mode included', () => {
    const config = loadWorkerConfig({
      REDIS_SENTINELS: 'a:26379, b:26380',
      REDIS_SENTINEL_MASTER: 'm',
      REDIS_PASSWORD: 'pw',
      WORKER_CONCURRENCY: '4',
      METRICS_PORT: '0',
      TASK_ITERATIONS: '0',
      WORKER_LOCK_DURATION_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '500',
      WORKER_MAX_STALLED_COUNT: '2',
      WORKER_SHUTDOWN_GRACE_MS: '0',
      WORKER_NAME: 'worker-0',
    })
    expect(config).toMatchObject({
      redis: {
        mode: 'sentinel',
        masterName: 'm',
        sentinels: [
          {host: 'a', port: 26379},
          {host: 'b', port: 26380},
        ],
      },
      concurrency: 4,
      metricsPort: 0,
      defaultIterations: 0,
      lockDurationMs: 1000,
      stalledIntervalMs: 500,
      maxStalledCount: 2,
      shutdownGraceMs: 0,
      name: 'worker-0',
    })
  })

  it('names the variable, the problem and an example in one line', () => {
    const error = configError({WORKER_CONCURRENCY: 'many'})
    expect(error.message).toBe('WORKER_CONCURRENCY is "many": must be a whole number from 1 to 64')
    expect(error.hint).toBe('set it like WORKER_CONCURRENCY=1')
    expect(configError({WORKER_CONCURRENCY: '0'}).message).toBe('WORKER_CONCURRENCY is "0": must be at least 1')
    expect(configError({METRICS_PORT: '70000'}).message).toMatch(/^METRICS_PORT is "70000": must be at most 65535$/)
    expect(configError({TASK_ITERATIONS: String(MAX_TASK_ITERATIONS + 1)}).message).toMatch(/^TASK_ITERATIONS .*at most/)
    expect(configError({REDIS_URL: 'localhost:6379'}).message).toMatch(/^REDIS_URL .*redis:\/\//)
  })

  it('never repeats a password in an error', () => {
    const error = configError({REDIS_PASSWORD: ''})
    expect(error.message).toMatch(/^REDIS_PASSWORD has an invalid value/)
  })
})

describe('task data (job.data) validation', () => {
  it('takes the size from the job, or the worker default when the job has none', () => {
    expect(parseTaskData({iterations: 5, queuedAt: 'x'}, 7)).toEqual({iterations: 5, failAt: undefined, resume: undefined})
    expect(parseTaskData({}, 7).iterations).toBe(7)
    expect(parseTaskData(undefined, 7).iterations).toBe(7)
    expect(parseTaskData({iterations: 0, failAt: 100}, 7)).toMatchObject({iterations: 0, failAt: 100})
  })

  it('rejects sizes and failAt steps out of bounds with a reason naming the field', () => {
    const reason = (data: unknown) => {
      try {
        parseTaskData(data, 1)
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidTaskDataError)
        return (error as Error).message
      }
      throw new Error('expected a rejection')
    }
    expect(reason({iterations: -1})).toMatch(/iterations must not be negative/)
    expect(reason({iterations: 1.5})).toMatch(/iterations must be a whole number/)
    expect(reason({iterations: MAX_TASK_ITERATIONS + 1})).toMatch(/iterations must be at most/)
    expect(reason({iterations: '10'})).toMatch(/iterations must be a number/)
    expect(reason({failAt: 0})).toMatch(/failAt must be a step from 1 to 100/)
    expect(reason({failAt: 101})).toMatch(/failAt must be a step from 1 to 100/)
  })

  it('uses a resume checkpoint only when it was taken for the same size', () => {
    const data = {iterations: 50, [RESUME_KEY]: {iterations: 50, step: 10, state: 123}}
    expect(parseTaskData(data, 1).resume).toEqual({step: 10, state: 123})
    expect(parseTaskData({...data, iterations: 60}, 1).resume).toBeUndefined()
  })
})
