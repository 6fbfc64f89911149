import {createServer} from 'node:http'

import {describe, expect, it} from 'vitest'

import {connectionRefused, freePort, notYet, waitFor} from '../helpers/processes.js'

describe('waitFor: "not yet" is retried, "wrong" fails at once', () => {
  it('retries falsy values and notYet, and returns the first truthy value', async () => {
    const answers = [undefined, false, null, notYet('warming up'), 0, 'ready']
    let calls = 0
    expect(await waitFor(() => answers[calls++], {intervalMs: 1})).toBe('ready')
    expect(calls).toBe(6)
  })

  it("fails at once on a failed assertion inside the check, with the assertion's own message", async () => {
    let calls = 0
    const wait = waitFor(
      () => {
        calls++
        expect(503, 'only 503 while it switches').toBe(200)
        return true
      },
      {timeoutMs: 60_000, intervalMs: 1},
    )
    await expect(wait).rejects.toThrow(/only 503 while it switches/)
    expect(calls).toBe(1)
  })

  it('retries only the errors `ignore` names: a refused connection while a server starts', async () => {
    const port = await freePort()
    const server = createServer((_, res) => res.end('up'))
    let attempts = 0
    try {
      const body = await waitFor(
        async () => {
          // The server starts only after the third refused attempt.
          if (++attempts === 3) await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
          return (await fetch(`http://127.0.0.1:${port}/`)).text()
        },
        {intervalMs: 1, ignore: connectionRefused},
      )
      expect(body).toBe('up')
      expect(attempts).toBe(3)
    } finally {
      server.close()
    }
  })

  it('does not let `ignore` hide anything else', async () => {
    let calls = 0
    const wait = waitFor(
      () => {
        calls++
        throw new TypeError('cannot read properties of undefined')
      },
      {timeoutMs: 60_000, intervalMs: 1, ignore: connectionRefused},
    )
    await expect(wait).rejects.toThrow(TypeError)
    expect(calls).toBe(1)
  })

  it('says what it waited for and what it saw last when the deadline passes', async () => {
    await expect(waitFor(() => notYet('status Processing'), {timeoutMs: 100, intervalMs: 10, what: 'task completed'})).rejects.toThrow(
      'timed out after 100 ms waiting for task completed; last seen: status Processing',
    )
  })

  it('bounds a check that never settles by the same deadline', async () => {
    await expect(waitFor(() => new Promise<boolean>(() => {}), {timeoutMs: 100, what: 'a hung check'})).rejects.toThrow(
      'waiting for a hung check; last seen: the last check did not finish',
    )
  })
})

describe('connectionRefused', () => {
  it('recognises a refused or reset connection, directly or as the cause of "fetch failed", and nothing else', async () => {
    const port = await freePort()
    const fetchError = await fetch(`http://127.0.0.1:${port}/`).catch((error: unknown) => error)
    expect(connectionRefused(fetchError)).toBe(true)
    expect(connectionRefused(Object.assign(new Error('connect ECONNREFUSED'), {code: 'ECONNREFUSED'}))).toBe(true)
    expect(connectionRefused(Object.assign(new Error('read ECONNRESET'), {code: 'ECONNRESET'}))).toBe(true)
    expect(connectionRefused(Object.assign(new Error('getaddrinfo ENOTFOUND'), {code: 'ENOTFOUND'}))).toBe(false)
    expect(connectionRefused(new Error('expected 200 to be 503'))).toBe(false)
    expect(connectionRefused(undefined)).toBe(false)
  })
})
