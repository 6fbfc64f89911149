import {createServer, type Server} from 'node:http'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {createKube, isTransient, retryAfterMs, withRetry} from '../../src/adapters/kube/index.js'

const apiError = (code: number, headers: Record<string, string> = {}) => Object.assign(new Error(`HTTP ${code}`), {code, body: '{}', headers})

describe('withRetry: transient API answers are retried, everything else is not', () => {
  it('retries 429 and 5xx with doubling back-off, honouring Retry-After', async () => {
    const waits: number[] = []
    const answers = [apiError(429, {'retry-after': '2'}), apiError(503), apiError(500), 'ok']
    const result = await withRetry(
      async () => {
        const next = answers.shift()
        if (next instanceof Error) throw next
        return next
      },
      {attempts: 7, baseMs: 100, maxMs: 8000},
      async (ms) => {
        waits.push(ms)
      },
    )
    expect(result).toBe('ok')
    // Retry-After 2 s, then 100 ms · 2^1, 100 ms · 2^2.
    expect(waits).toEqual([2000, 200, 400])
  })

  it('does not retry 4xx other than 429, nor errors without a status', async () => {
    for (const error of [apiError(404), apiError(409), apiError(403), new Error('ECONNREFUSED')]) {
      let calls = 0
      await expect(
        withRetry(
          async () => {
            calls++
            throw error
          },
          undefined,
          async () => {},
        ),
      ).rejects.toBe(error)
      expect(calls).toBe(1)
    }
    expect(isTransient(apiError(429))).toBe(true)
    expect(isTransient(apiError(504))).toBe(true)
    expect(isTransient(apiError(400))).toBe(false)
  })

  it('gives up after the last attempt with the last answer, and caps a huge Retry-After', async () => {
    const waits: number[] = []
    let calls = 0
    const error = apiError(429, {'retry-after': '3600'})
    await expect(
      withRetry(
        async () => {
          calls++
          throw error
        },
        {attempts: 3, baseMs: 10, maxMs: 500},
        async (ms) => {
          waits.push(ms)
        },
      ),
    ).rejects.toBe(error)
    expect(calls).toBe(3)
    expect(waits).toEqual([500, 500])
    expect(retryAfterMs(apiError(429))).toBeUndefined()
  })
})

// A real API server cannot be made to answer 429 on demand (it does so only for a moment after
// start-up, as CONTROL-PLANE.md records): this loopback server plays that moment.
describe('createKube retries "storage is (re)initializing" through client-node', () => {
  let server: Server
  afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())))

  it('answers once the API server is ready, for generated clients and raw requests alike', async () => {
    let left = {version: 2, list: 2}
    server = createServer((req, res) => {
      const key = req.url?.startsWith('/version') ? 'version' : 'list'
      if (left[key] > 0) {
        left = {...left, [key]: left[key] - 1}
        res.writeHead(429, {'Content-Type': 'application/json', 'Retry-After': '0'})
        res.end(
          JSON.stringify({kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'storage is (re)initializing', reason: 'TooManyRequests', code: 429}),
        )
        return
      }
      res.writeHead(200, {'Content-Type': 'application/json'})
      if (key === 'version') res.end(JSON.stringify({major: '1', minor: '34', gitVersion: 'v1.34.12'}))
      else res.end(JSON.stringify({kind: 'PodList', apiVersion: 'v1', items: [{metadata: {name: 'p1', namespace: 'x'}}]}))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    const port = (server.address() as {port: number}).port
    const dir = mkdtempSync(join(tmpdir(), 'kube-retry-'))
    const kubeconfig = join(dir, 'config')
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n`,
    )
    const kube = await createKube({kubeconfig, retry: {attempts: 5, baseMs: 10, maxMs: 100}})
    expect(await kube.serverVersion()).toEqual({major: 1, minor: 34, gitVersion: 'v1.34.12'})
    expect((await kube.listObjects({group: '', version: 'v1', plural: 'pods', namespace: 'x'})).map((o) => o.name)).toEqual(['p1'])
    expect(left).toEqual({version: 0, list: 0})
  })
})
