import {createServer, type Server} from 'node:net'

import Fastify from 'fastify'
import {describe, expect, it} from 'vitest'

import {KedaLabError} from '../../src/errors.js'
import type {MetricsServer} from '../../src/services/shared/metrics-server.js'
import {listenOrExplain, openMessageStore} from '../../src/services/webhook/main.js'

/** A loopback port held by another server for the duration of the test. */
async function takenPort(): Promise<{port: number; server: Server}> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {port: (server.address() as {port: number}).port, server}
}

describe('the webhook main, piece by piece', () => {
  it('keeps message ids in this process when no Redis is configured', async () => {
    const lines: unknown[] = []
    const log = {info: (...args: unknown[]) => void lines.push(args), warn: (...args: unknown[]) => void lines.push(args)}
    const {store, redis} = await openMessageStore({redis: undefined, retentionSeconds: 60}, log, [])
    expect(redis).toBeUndefined()
    await store.rememberMessages([{fingerprint: 'f', chatId: '1', messageId: 5}])
    expect(await store.messageFor('f', '1')).toBe(5)
    expect(lines).toEqual([])
    await store.close()
  })

  it('names the port variable to change when PORT or METRICS_PORT is taken, and closes the app', async () => {
    const taken = await takenPort()
    try {
      const app = Fastify()
      const error = await listenOrExplain(app, async () => ({}) as MetricsServer, {host: '127.0.0.1', port: taken.port, metricsPort: 1}).catch(
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(KedaLabError)
      expect((error as KedaLabError).message).toBe(`cannot listen on 127.0.0.1:${taken.port} (PORT): EADDRINUSE`)
      expect((error as KedaLabError).hint).toBe(`free the port or choose another one, like PORT=${taken.port + 1}`)

      const second = Fastify()
      const inUse = Object.assign(new Error('listen EADDRINUSE'), {code: 'EADDRINUSE'})
      const metricsError = await listenOrExplain(
        second,
        async () => {
          throw inUse
        },
        {host: '127.0.0.1', port: 0, metricsPort: taken.port},
      ).catch((e: unknown) => e)
      expect((metricsError as KedaLabError).message).toBe(`cannot listen on 127.0.0.1:${taken.port} (METRICS_PORT): EADDRINUSE`)
      // The app that did listen was closed again.
      expect(second.server.listening).toBe(false)
    } finally {
      taken.server.close()
    }
  })
})
