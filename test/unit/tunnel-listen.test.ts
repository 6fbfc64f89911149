/** Where a forward listens and the URL it prints (real loopback sockets, no cluster). */
import {createServer, type Server} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {listenPreferring, localUrl} from '../../src/lab/tunnel/port-forward.js'

const servers: Server[] = []
const newServer = () => {
  const server = createServer()
  servers.push(server)
  return server
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))))
})

describe('listenPreferring', () => {
  it('takes the usual port when it is free, and another one (saying so) when it is taken', async () => {
    const first = await listenPreferring(newServer(), 0, '127.0.0.1')
    expect(first.portTaken).toBe(false)
    expect(first.localPort).toBeGreaterThan(0)
    // Now that port is in use: a second server asking for it gets a different free port.
    const second = await listenPreferring(newServer(), first.localPort, '127.0.0.1')
    expect(second.portTaken).toBe(true)
    expect(second.localPort).not.toBe(first.localPort)
    expect(second.localPort).toBeGreaterThan(0)
  })

  it('passes on a listen error other than "in use"', async () => {
    // An impossible port is not "in use": it must fail, not quietly fall back to a free port
    // (which would succeed here).
    await expect(listenPreferring(newServer(), 70_000, '127.0.0.1')).rejects.toMatchObject({code: 'ERR_SOCKET_BAD_PORT'})
  })
})

describe('localUrl', () => {
  it('brackets IPv6, reaches 0.0.0.0 as 127.0.0.1, and appends the path', () => {
    expect(localUrl('127.0.0.1', 8000, '/docs')).toBe('http://127.0.0.1:8000/docs')
    expect(localUrl('::1', 3000)).toBe('http://[::1]:3000')
    expect(localUrl('0.0.0.0', 9090)).toBe('http://127.0.0.1:9090')
  })
})
