import {describe, expect, it} from 'vitest'

import {loadApiConfig} from '../../src/services/api/config.js'
import {DEFAULT_TASK_ITERATIONS, MAX_TASK_ITERATIONS} from '../../src/services/shared/tasks.js'
import {configErrorOf} from '../helpers/config.js'

const configError = (env: NodeJS.ProcessEnv) => configErrorOf(loadApiConfig, env)

describe('api config', () => {
  it('has the documented defaults', () => {
    const config = loadApiConfig({})
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8000,
      metricsPort: 9001,
      queueName: 'tasks',
      redis: {mode: 'standalone', url: 'redis://127.0.0.1:6379'},
      task: {defaultIterations: DEFAULT_TASK_ITERATIONS, maxIterations: MAX_TASK_ITERATIONS, attempts: 1, retentionSeconds: 86_400},
    })
  })

  it('reads every variable, Sentinel mode included', () => {
    const config = loadApiConfig({
      PORT: '8100',
      METRICS_PORT: '9100',
      HOST: '127.0.0.1',
      TASK_ITERATIONS: '0',
      TASK_MAX_ITERATIONS: '500',
      TASK_ATTEMPTS: '3',
      TASK_RETENTION_SECONDS: '60',
      QUEUE_NAME: 'q1',
      REDIS_SENTINELS: 'a:26379,b:26380',
      REDIS_SENTINEL_MASTER: 'm',
      REDIS_PASSWORD: 'pw',
    })
    expect(config).toMatchObject({
      port: 8100,
      metricsPort: 9100,
      host: '127.0.0.1',
      queueName: 'q1',
      task: {defaultIterations: 0, maxIterations: 500, attempts: 3, retentionSeconds: 60},
      redis: {
        mode: 'sentinel',
        masterName: 'm',
        password: 'pw',
        sentinels: [
          {host: 'a', port: 26379},
          {host: 'b', port: 26380},
        ],
      },
    })
  })

  it('names the variable, the problem and an example', () => {
    const error = configError({PORT: 'abc'})
    expect(error.message).toBe('PORT is "abc": must be a number')
    expect(error.hint).toBe('set it like PORT=8000')
    expect(configError({TASK_ATTEMPTS: '0'}).message).toBe('TASK_ATTEMPTS is "0": must be at least 1')
    expect(configError({TASK_RETENTION_SECONDS: '1.5'}).message).toBe('TASK_RETENTION_SECONDS is "1.5": must be a whole number')
    expect(configError({TASK_ITERATIONS: '10', TASK_MAX_ITERATIONS: '5'}).message).toBe('TASK_ITERATIONS is "10": must not exceed TASK_MAX_ITERATIONS (5)')
    expect(configError({PORT: '9001'}).message).toContain('METRICS_PORT')
  })

  it('never puts the Redis password in the error', () => {
    const error = configError({REDIS_PASSWORD: '', PORT: '1'})
    expect(error.message).toBe('REDIS_PASSWORD has an invalid value: must not be empty when set')
  })
})
