import {describe, expect, it} from 'vitest'

import {createServiceLogger} from '../../src/services/shared/logger.js'

const SECRET = 's3cret-password'

function capture(level = 'info') {
  const lines: Record<string, unknown>[] = []
  const logger = createServiceLogger({service: 'api', level, destination: {write: (line: string) => lines.push(JSON.parse(line))}})
  return {logger, lines}
}

describe('service logger', () => {
  it('redacts a password wherever a Redis configuration or ioredis options could carry one', () => {
    const {logger, lines} = capture()
    const redis = {mode: 'sentinel', url: 'redis://127.0.0.1:6379', password: SECRET, sentinelPassword: SECRET}
    logger.info({password: SECRET, sentinelPassword: SECRET}, 'top level')
    logger.info({redis}, 'a Redis configuration')
    logger.info({config: {port: 8000, redis}}, 'a service configuration')
    logger.info({options: {host: '127.0.0.1', password: SECRET}}, 'ioredis options')
    logger.info({redisOptions: {password: SECRET}}, 'ioredis options again')
    expect(lines).toHaveLength(5)
    expect(JSON.stringify(lines)).not.toContain(SECRET)
    expect(lines[1]).toMatchObject({
      service: 'api',
      msg: 'a Redis configuration',
      redis: {mode: 'sentinel', password: '[redacted]', sentinelPassword: '[redacted]'},
    })
    expect(lines[2]).toMatchObject({config: {port: 8000, redis: {url: 'redis://127.0.0.1:6379', password: '[redacted]'}}})
  })

  it('writes ordinary lines untouched, with an ISO time, and honours the level', () => {
    const {logger, lines} = capture('info')
    logger.info({taskId: 'b7e3c8a0-0000-4000-8000-000000000000', iterations: 100}, 'task queued')
    logger.debug({taskId: 'x'}, 'not written at info')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({level: 30, service: 'api', taskId: 'b7e3c8a0-0000-4000-8000-000000000000', iterations: 100, msg: 'task queued'})
    expect(new Date(lines[0]!.time as string).toISOString()).toBe(lines[0]!.time)
  })
})
