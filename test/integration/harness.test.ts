import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import {startSentinelSet, type SentinelSet} from '../helpers/redis.js'

describe('test harness: real redis-sentinel', () => {
  let set: SentinelSet
  beforeAll(async () => {
    set = await startSentinelSet()
  })
  afterAll(async () => {
    await set?.stop()
  })

  it('finds the master through the Sentinels and follows a failover', async () => {
    const client = new Redis(
      redisOptions({mode: 'sentinel', sentinels: set.sentinels, masterName: set.masterName, password: set.password, sentinelPassword: set.password}),
    )
    try {
      await client.set('k', 'v1')
      const {from, to} = await set.failover()
      expect(to).not.toBe(from)
      // The old master is now a replica; a write must land on the new master.
      let written = false
      for (let i = 0; i < 100 && !written; i++) {
        try {
          await client.set('k', 'v2')
          written = true
        } catch {
          await new Promise((r) => setTimeout(r, 200))
        }
      }
      expect(written).toBe(true)
      const direct = new Redis({port: to, password: set.password})
      expect(await direct.get('k')).toBe('v2')
      direct.disconnect()
    } finally {
      client.disconnect()
    }
  })
})
