import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {createServer as createNetServer, type Server as NetServer, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {createHttpClient, type HttpClient} from '../../src/lab/loadtest/http.js'
import {waitFor} from '../helpers/processes.js'

/**
 * The engine's HTTP/1.1 client against real Node servers on loopback (node:http, node:https and
 * raw node:net sockets for answers node:http would not send): keep-alive reuse, Content-Length,
 * chunked and until-close bodies, Connection: close, a server closing idle connections, aborts,
 * timeouts, refused connections, request bodies and path prefixes, queueing beyond the pool.
 */

const servers: (Server | NetServer)[] = []
const clients: HttpClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close()
  for (const s of servers.splice(0)) {
    if ('closeAllConnections' in s) s.closeAllConnections()
    s.close()
  }
})

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void
async function serve(handler: Handler): Promise<{url: string; server: Server; connections: () => number}> {
  let connections = 0
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => (body += d))
    req.on('end', () => handler(req, res, body))
  })
  server.on('connection', () => connections++)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {url: `http://127.0.0.1:${(server.address() as {port: number}).port}`, server, connections: () => connections}
}

/** A server writing raw bytes: for answers node:http does not produce. */
async function serveRaw(onRequest: (socket: Socket, request: string) => void): Promise<string> {
  const server = createNetServer((socket) => {
    let text = ''
    socket.on('data', (d) => {
      text += d.toString('latin1')
      if (text.includes('\r\n\r\n')) {
        const request = text
        text = ''
        onRequest(socket, request)
      }
    })
    socket.on('error', () => {})
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as {port: number}).port}`
}

const client = (url: string, connections = 1, timeoutMs?: number, ca?: string) => {
  const c = createHttpClient({url, connections, timeoutMs, ca})
  clients.push(c)
  return c
}

describe('the load engine HTTP client', () => {
  it('reuses one keep-alive connection and reads status, the exact Content-Type and a UTF-8 body', async () => {
    const {url, connections} = await serve((req, res) => {
      res.writeHead(req.url === '/missing' ? 404 : 200, {'content-type': 'application/json; charset=utf-8'})
      res.end(JSON.stringify({path: req.url, text: 'tâche ✓'}))
    })
    const http = client(url)
    for (let i = 0; i < 20; i++) {
      const r = await http.request({method: 'GET', path: `/api/tasks/status/${i}`})
      expect(r).toEqual({status: 200, contentType: 'application/json; charset=utf-8', body: JSON.stringify({path: `/api/tasks/status/${i}`, text: 'tâche ✓'})})
    }
    expect((await http.request({method: 'GET', path: '/missing'})).status).toBe(404)
    expect(connections()).toBe(1)
  })

  it('reads a chunked body written in pieces, a multi-byte character split between chunks, and trailers', async () => {
    const {url} = await serve((_req, res) => {
      res.writeHead(200, {'content-type': 'text/plain', trailer: 'x-done'})
      const bytes = Buffer.from('début ✓ fin', 'utf8')
      const cut = bytes.indexOf(0xe2) + 1 // inside the three bytes of ✓
      res.write(bytes.subarray(0, cut))
      setTimeout(() => {
        res.write(bytes.subarray(cut))
        res.addTrailers({'x-done': 'yes'})
        res.end()
      }, 20)
    })
    const http = client(url)
    for (let i = 0; i < 3; i++) expect(await http.request({method: 'GET', path: '/'})).toEqual({status: 200, contentType: 'text/plain', body: 'début ✓ fin'})
  })

  it('sends a body with its JSON Content-Type and length, a POST without one with length 0, under the URL path prefix', async () => {
    const seen: {method?: string; url?: string; type?: string; length?: string; host?: string; body: string}[] = []
    const {url} = await serve((req, res, body) => {
      seen.push({method: req.method, url: req.url, type: req.headers['content-type'], length: req.headers['content-length'], host: req.headers.host, body})
      res.end('ok')
    })
    const http = client(`${url}/prefix/`)
    await http.request({method: 'POST', path: '/api/tasks', body: JSON.stringify({iterations: 5, note: 'é'})})
    await http.request({method: 'POST', path: '/api/tasks/add'})
    await http.request({method: 'POST', path: '/x', body: 'a=1', headers: {'Content-Type': 'application/x-www-form-urlencoded'}})
    const host = new URL(url).host
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/prefix/api/tasks',
        type: 'application/json',
        length: String(Buffer.byteLength('{"iterations":5,"note":"é"}')),
        host,
        body: '{"iterations":5,"note":"é"}',
      },
      {method: 'POST', url: '/prefix/api/tasks/add', type: undefined, length: '0', host, body: ''},
      {method: 'POST', url: '/prefix/x', type: 'application/x-www-form-urlencoded', length: '3', host, body: 'a=1'},
    ])
  })

  it('Connection: close and a body that runs until the close: read whole, the next request on a new connection', async () => {
    let connections = 0
    const url = await serveRaw((socket, request) => {
      connections++
      if (request.startsWith('GET /close ')) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nclose')
      else socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end')
    })
    const http = client(url)
    expect((await http.request({method: 'GET', path: '/close'})).body).toBe('close')
    expect((await http.request({method: 'GET', path: '/eof'})).body).toBe('until the end')
    expect((await http.request({method: 'GET', path: '/close'})).body).toBe('close')
    expect(connections).toBe(3)
  })

  it('skips a 100 Continue before the answer; a 204 has no body', async () => {
    const url = await serveRaw((socket, request) => {
      if (request.startsWith('GET /204 ')) socket.write('HTTP/1.1 204 No Content\r\n\r\n')
      else socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
    })
    const http = client(url)
    expect(await http.request({method: 'GET', path: '/204'})).toEqual({status: 204, contentType: undefined, body: ''})
    expect(await http.request({method: 'GET', path: '/'})).toEqual({status: 200, contentType: undefined, body: 'ok'})
  })

  it('a connection the server closed while idle is not used again; a Keep-Alive timeout hint is kept with a second to spare', async () => {
    const {url, server, connections} = await serve((_req, res) => res.end('ok'))
    const http = client(url)
    await http.request({method: 'GET', path: '/'})
    server.closeIdleConnections()
    // A round trip on another connection: by its end this process has read the close of the first.
    expect((await client(url).request({method: 'GET', path: '/'})).body).toBe('ok')
    expect((await http.request({method: 'GET', path: '/'})).body).toBe('ok')
    expect(connections()).toBe(3)
    // Keep-Alive: timeout=1 leaves no second to spare: every request gets a new connection.
    const hinted = await serve((_req, res) => res.end('ok'))
    hinted.server.keepAliveTimeout = 1000
    const h = client(hinted.url)
    for (let i = 0; i < 3; i++) await h.request({method: 'GET', path: '/'})
    expect(hinted.connections()).toBe(3)
  })

  it('an abort rejects with its reason and frees the pool; a transport timeout and a refused connection reject with their codes', async () => {
    const {url} = await serve((req, res) => {
      if (req.url !== '/hang') res.end('ok')
    })
    const http = client(url, 1, 300)
    const controller = new AbortController()
    const hanging = http.request({method: 'GET', path: '/hang'}, controller.signal)
    // Queued behind the hanging one on the only connection:
    const queued = http.request({method: 'GET', path: '/'})
    controller.abort(new Error('stop now'))
    await expect(hanging).rejects.toThrow('stop now')
    expect((await queued).body).toBe('ok')
    await expect(http.request({method: 'GET', path: '/hang'})).rejects.toMatchObject({code: 'UND_ERR_HEADERS_TIMEOUT'})
    expect((await http.request({method: 'GET', path: '/'})).body).toBe('ok')
    // A port nobody listens on (the server is closed first).
    const gone = await serve(() => {})
    await new Promise<void>((resolve) => gone.server.close(() => resolve()))
    await expect(client(gone.url).request({method: 'GET', path: '/'})).rejects.toMatchObject({code: 'ECONNREFUSED'})
  })

  it('beyond its connections, requests wait their turn: all answered, no more connections than asked', async () => {
    const pending: ServerResponse[] = []
    const {url, connections} = await serve((req, res) => {
      pending.push(res)
      // Answer in batches so that requests really queue.
      if (pending.length === 2) for (const r of pending.splice(0)) r.end(req.url)
    })
    const http = client(url, 2)
    const answers = await Promise.all(Array.from({length: 10}, (_, i) => http.request({method: 'GET', path: `/${i}`})))
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200))
    expect(connections()).toBe(2)
  })

  it('speaks https with the CA it is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keda-lab-http-'))
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost,IP:127.0.0.1',
        ],
        {stdio: 'ignore'},
      )
      const cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
      const server = createHttpsServer({key: readFileSync(join(dir, 'key.pem')), cert}, (_req, res) => {
        res.writeHead(200, {'content-type': 'application/json'})
        res.end('{"secure":true}')
      })
      servers.push(server)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const port = (server.address() as {port: number}).port
      for (const host of ['localhost', '127.0.0.1']) {
        const http = client(`https://${host}:${port}`, 1, undefined, cert)
        expect(await http.request({method: 'GET', path: '/'})).toEqual({status: 200, contentType: 'application/json', body: '{"secure":true}'})
      }
      // Without the CA, the self-signed certificate is refused.
      await expect(client(`https://localhost:${port}`).request({method: 'GET', path: '/'})).rejects.toMatchObject({code: 'DEPTH_ZERO_SELF_SIGNED_CERT'})
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('close() while a connection is being made: the waiting request fails and the connection does not open after it', async () => {
    const {url, server} = await serve((_req, res) => res.end('ok'))
    const http = createHttpClient({url, connections: 1})
    const answer = http.request({method: 'GET', path: '/'})
    await http.close()
    await expect(answer).rejects.toMatchObject({code: 'UND_ERR_CLOSED'})
    await waitFor(() => new Promise<boolean>((resolve) => server.getConnections((_e, n) => resolve(n === 0))), {what: 'no connection left at the server'})
  })
})
