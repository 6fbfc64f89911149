/**
 * The HTTP client of the engine: HTTP/1.1 keep-alive on plain `node:net` (or `node:tls`) sockets,
 * one request at a time per connection, written as one string and parsed by a response parser
 * made for what a load test reads (status, Content-Type, the whole body; Content-Length, chunked
 * or until close). What it costs per request is what the engine's figures are about: undici's
 * `Pool.dispatch` (its controller-style handler, llhttp in WebAssembly calling back into
 * JavaScript for every header) measured 1.8–2.5× autocannon's CPU per request on this machine,
 * this client ~1.1–1.3× (bench/loadtest-engine.ts). Like autocannon's and k6's own clients it
 * speaks only what a load generator needs: no redirects, no compression, no HTTP/2.
 */
import {connect as netConnect, type Socket} from 'node:net'
import {connect as tlsConnect} from 'node:tls'

import {onAbort} from './abort.js'

/** One request of the scenario. */
export interface HttpRequest {
  method: 'GET' | 'POST'
  /** Path under the target (e.g. `/api/tasks/add`). */
  path: string
  body?: string
  headers?: Record<string, string>
}

/** What the scenario reads from a response. */
export interface HttpResponse {
  status: number
  /** The Content-Type header exactly as sent (checks compare it exactly). */
  contentType?: string
  body: string
}

export interface HttpClient {
  /** Sends one request; rejects on a transport error or when `signal` aborts it. */
  request(request: HttpRequest, signal?: AbortSignal): Promise<HttpResponse>
  close(): Promise<void>
}

export interface HttpClientOptions {
  /** The target, e.g. `http://127.0.0.1:8000` (a path prefix is kept). */
  url: string
  /** Connections kept open to the target at most. */
  connections: number
  /** A response slower than this fails (transport error). */
  timeoutMs?: number
  /** https targets: extra trusted CA certificates (PEM), e.g. a test's own CA. */
  ca?: string
}

/** Errors of the transport, with a `code` like Node's socket errors (the pre-flight prints it). */
export class HttpTransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
  }
}

/** A body sent without a Content-Type of its own is JSON (the typed route's `{iterations}`). */
const JSON_CONTENT_TYPE = 'content-type: application/json\r\n'
/** A response head larger than this is not an API's answer: the connection is dropped. */
const MAX_HEAD_BYTES = 64 * 1024
/** Without a keep-alive hint from the server, an idle connection is not reused after this (Node's servers close at 5 s). */
const DEFAULT_IDLE_MS = 4000
const CRLFCRLF = Buffer.from('\r\n\r\n')

const hasContentType = (headers: Record<string, string>) => Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')
const abortReason = (signal: AbortSignal): Error => (signal.reason instanceof Error ? signal.reason : new Error('aborted'))

/** A request waiting for, or on, a connection. */
interface Pending {
  head: string
  resolve: (response: HttpResponse) => void
  reject: (error: Error) => void
  signal?: AbortSignal
  forget: () => void
  /** performance.now() when it was written (0 while queued). */
  sentAt: number
  /** The connection carrying it, once written. */
  conn?: Connection
}

/** Parses one response after another from a connection's bytes. */
class ResponseParser {
  private head: Buffer | undefined
  status = 0
  contentType: string | undefined
  /** Body bytes still expected (Content-Length), -1 chunked, -2 until the connection closes. */
  private remaining = 0
  private chunkLeft = -1
  private body: Buffer[] = []
  private inBody = false
  keepAlive = true
  /** Milliseconds the server keeps an idle connection (its `Keep-Alive: timeout=N`), when it said. */
  idleMs: number | undefined

  /**
   * Feeds bytes; returns the response when one is complete (with any bytes past it, which a
   * one-request-at-a-time connection must not receive), or undefined to wait for more.
   */
  feed(chunk: Buffer): {body: string; rest: boolean} | undefined {
    let data = chunk
    if (!this.inBody) {
      if (this.head) data = Buffer.concat([this.head, data])
      const end = data.indexOf(CRLFCRLF)
      if (end < 0) {
        if (data.length > MAX_HEAD_BYTES) throw new HttpTransportError('the response head is larger than 64 KiB', 'HPE_HEADER_OVERFLOW')
        this.head = data
        return undefined
      }
      this.head = undefined
      this.parseHead(data.toString('latin1', 0, end))
      data = data.subarray(end + 4)
      // 1xx answers (100 Continue) come before the real one.
      if (this.status < 200) return data.length > 0 ? this.feed(data) : undefined
      this.inBody = true
      this.body = []
      if (this.status === 204 || this.status === 304) this.remaining = 0
    }
    return this.feedBody(data)
  }

  /** The connection closed: the body that ran until then, when that is how it was delimited. */
  closed(): string | undefined {
    if (this.inBody && this.remaining === -2) {
      this.inBody = false
      return Buffer.concat(this.body).toString('utf8')
    }
    return undefined
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n')
    const statusLine = lines[0] ?? ''
    const match = /^HTTP\/1\.([01]) (\d{3})/.exec(statusLine)
    if (!match) throw new HttpTransportError(`not an HTTP/1.x response: ${JSON.stringify(statusLine.slice(0, 40))}`, 'HPE_INVALID_CONSTANT')
    this.status = Number(match[2])
    this.contentType = undefined
    this.keepAlive = match[1] === '1'
    let length = -2
    let chunked = false
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      const name = line.slice(0, colon).toLowerCase()
      const value = line.slice(colon + 1).trim()
      if (name === 'content-type') this.contentType = this.contentType === undefined ? value : `${this.contentType}, ${value}`
      else if (name === 'content-length') length = Number(value)
      else if (name === 'transfer-encoding') chunked = value.toLowerCase().split(',').at(-1)?.trim() === 'chunked'
      else if (name === 'connection') {
        const v = value.toLowerCase()
        if (v.includes('close')) this.keepAlive = false
        else if (v.includes('keep-alive')) this.keepAlive = true
      } else if (name === 'keep-alive') {
        const t = /timeout=(\d+)/i.exec(value)
        if (t) this.idleMs = Number(t[1]) * 1000
      }
    }
    if (chunked) this.remaining = -1
    else if (length >= 0 && Number.isInteger(length)) this.remaining = length
    else if (length === -2) this.remaining = -2
    else throw new HttpTransportError('invalid Content-Length in the response', 'HPE_INVALID_CONTENT_LENGTH')
    if (this.remaining === -2) this.keepAlive = false
    this.chunkLeft = -1
  }

  private feedBody(data: Buffer): {body: string; rest: boolean} | undefined {
    if (this.remaining >= 0) {
      if (data.length < this.remaining) {
        if (data.length > 0) this.body.push(data)
        this.remaining -= data.length
        return undefined
      }
      const last = data.subarray(0, this.remaining)
      const rest = data.length > this.remaining
      // The common case, a whole small answer in one read, decodes without a copy.
      const body = this.body.length === 0 ? last.toString('utf8') : Buffer.concat([...this.body, last]).toString('utf8')
      this.finish()
      return {body, rest}
    }
    if (this.remaining === -2) {
      if (data.length > 0) this.body.push(data)
      return undefined
    }
    return this.feedChunked(data)
  }

  private pending: Buffer | undefined

  /** Chunked transfer coding: size line, data, CRLF; a zero size, trailers and an empty line end it. */
  private feedChunked(input: Buffer): {body: string; rest: boolean} | undefined {
    let data = this.pending ? Buffer.concat([this.pending, input]) : input
    this.pending = undefined
    for (;;) {
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, data.length)
        if (take > 0) this.body.push(data.subarray(0, take))
        this.chunkLeft -= take
        data = data.subarray(take)
        if (this.chunkLeft > 0) return undefined
        this.chunkLeft = -3 // the CRLF after the data
      }
      if (this.chunkLeft === -3) {
        if (data.length < 2) return this.wait(data)
        data = data.subarray(2)
        this.chunkLeft = -1
      }
      if (this.chunkLeft === -1) {
        const eol = data.indexOf('\r\n')
        if (eol < 0) return this.wait(data)
        const size = Number.parseInt(data.toString('latin1', 0, eol).split(';')[0] ?? '', 16)
        if (!Number.isFinite(size) || size < 0) throw new HttpTransportError('invalid chunk size in the response', 'HPE_INVALID_CHUNK_SIZE')
        data = data.subarray(eol + 2)
        this.chunkLeft = size === 0 ? -4 : size
      }
      if (this.chunkLeft === -4) {
        // Trailers (ignored) up to an empty line.
        const eol = data.indexOf('\r\n')
        if (eol < 0) return this.wait(data)
        data = data.subarray(eol + 2)
        if (eol === 0) {
          const body = Buffer.concat(this.body).toString('utf8')
          this.finish()
          return {body, rest: data.length > 0}
        }
      }
    }
  }

  private wait(data: Buffer): undefined {
    if (data.length > 0) this.pending = data
    return undefined
  }

  private finish(): void {
    this.inBody = false
    this.body = []
    this.pending = undefined
  }
}

/** One keep-alive connection: at most one request on it at a time. */
class Connection {
  readonly parser = new ResponseParser()
  current: Pending | undefined
  idleSince = 0
  dead = false

  constructor(
    readonly socket: Socket,
    private readonly pool: ConnectionPool,
  ) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error: Error) => this.fail(error))
    socket.on('close', () => {
      const body = this.current ? this.parser.closed() : undefined
      if (body !== undefined && this.current) this.complete(body)
      this.fail(new HttpTransportError('the server closed the connection before answering', 'UND_ERR_SOCKET'))
    })
  }

  send(pending: Pending): void {
    this.current = pending
    pending.conn = this
    pending.sentAt = performance.now()
    this.socket.write(pending.head, 'utf8')
  }

  private onData(chunk: Buffer): void {
    if (!this.current) {
      // Bytes nobody asked for: the connection cannot be trusted any more.
      this.destroy()
      return
    }
    let done: {body: string; rest: boolean} | undefined
    try {
      done = this.parser.feed(chunk)
    } catch (error) {
      this.fail(error as Error)
      this.destroy()
      return
    }
    if (!done) return
    if (done.rest) this.parser.keepAlive = false
    this.complete(done.body)
  }

  private complete(body: string): void {
    const pending = this.current
    if (!pending) return
    this.current = undefined
    pending.forget()
    pending.resolve({status: this.parser.status, contentType: this.parser.contentType, body})
    if (this.parser.keepAlive && !this.dead) this.pool.release(this)
    else this.destroy()
  }

  /** Fails the request on this connection (if any) and takes the connection out of the pool. */
  fail(error: Error): void {
    const pending = this.current
    this.current = undefined
    if (pending) {
      pending.forget()
      pending.reject(error)
    }
    this.destroy()
  }

  destroy(): void {
    if (this.dead) return
    this.dead = true
    this.socket.destroy()
    this.pool.forget(this)
  }
}

/** Up to `size` connections; requests beyond them wait in order. */
class ConnectionPool {
  private readonly idle: Connection[] = []
  private readonly busy = new Set<Connection>()
  private readonly queue: Pending[] = []
  private opening = 0
  /** Connections still being made: close() must not leave one to open after it. */
  private readonly connecting = new Set<Connection>()
  private closed = false
  private readonly sweep: NodeJS.Timeout

  constructor(
    private readonly open: () => Socket,
    /** The event that says the socket is ready: `secureConnect` for TLS. */
    private readonly ready: 'connect' | 'secureConnect',
    private readonly size: number,
    private readonly timeoutMs: number,
  ) {
    // One timer for every request's timeout: a sweep a second, not a timer per request.
    this.sweep = setInterval(() => this.expire(), Math.min(1000, timeoutMs))
    this.sweep.unref()
  }

  request(pending: Pending): void {
    if (this.closed) {
      pending.reject(new HttpTransportError('the client is closed', 'UND_ERR_CLOSED'))
      return
    }
    const now = performance.now()
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (!c.dead && now - c.idleSince < (c.parser.idleMs === undefined ? DEFAULT_IDLE_MS : c.parser.idleMs - 1000)) {
        this.busy.add(c)
        c.send(pending)
        return
      }
      c.destroy()
    }
    this.queue.push(pending)
    if (this.busy.size + this.opening < this.size) this.connect()
  }

  /** Takes a request off the queue (an abort before it was sent). */
  dequeue(pending: Pending): boolean {
    const i = this.queue.indexOf(pending)
    if (i < 0) return false
    this.queue.splice(i, 1)
    return true
  }

  /** Aborts the request on whatever connection carries it. */
  abort(pending: Pending, error: Error): void {
    if (this.dequeue(pending)) {
      pending.forget()
      pending.reject(error)
      return
    }
    if (pending.conn?.current === pending) pending.conn.fail(error)
  }

  release(c: Connection): void {
    this.busy.delete(c)
    const next = this.queue.shift()
    if (next) {
      this.busy.add(c)
      c.send(next)
      return
    }
    c.idleSince = performance.now()
    this.idle.push(c)
  }

  forget(c: Connection): void {
    const i = this.idle.indexOf(c)
    if (i >= 0) this.idle.splice(i, 1)
    // Requests still waiting get a connection of their own (one that never opened says so itself).
    if ((this.busy.delete(c) || i >= 0) && !this.closed && this.queue.length > 0 && this.busy.size + this.opening < this.size) this.connect()
  }

  private connect(): void {
    this.opening++
    const socket = this.open()
    const c = new Connection(socket, this)
    this.connecting.add(c)
    const onFirst = () => {
      this.opening--
      this.connecting.delete(c)
      socket.off('error', onError)
      if (this.closed) {
        c.destroy()
        return
      }
      const next = this.queue.shift()
      if (next) {
        this.busy.add(c)
        c.send(next)
      } else {
        c.idleSince = performance.now()
        this.idle.push(c)
      }
    }
    // A connection that cannot be made fails the request that asked for it (ECONNREFUSED…).
    const onError = (error: Error) => {
      this.opening--
      this.connecting.delete(c)
      socket.off(this.ready, onFirst)
      const next = this.queue.shift()
      if (next) {
        next.forget()
        next.reject(error)
      }
    }
    socket.once(this.ready, onFirst)
    socket.once('error', onError)
  }

  private expire(): void {
    const now = performance.now()
    for (const c of this.busy) {
      const p = c.current
      if (p && now - p.sentAt > this.timeoutMs) c.fail(new HttpTransportError(`no answer within ${this.timeoutMs} ms`, 'UND_ERR_HEADERS_TIMEOUT'))
    }
  }

  close(): void {
    this.closed = true
    clearInterval(this.sweep)
    const error = new HttpTransportError('the client is closed', 'UND_ERR_CLOSED')
    for (const p of this.queue.splice(0)) {
      p.forget()
      p.reject(error)
    }
    for (const c of [...this.busy, ...this.idle, ...this.connecting]) c.fail(error)
    this.connecting.clear()
  }
}

/** A pooled keep-alive client for one target. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const url = new URL(options.url)
  const prefix = url.pathname.replace(/\/+$/, '')
  const https = url.protocol === 'https:'
  const port = Number(url.port || (https ? 443 : 80))
  const hostname = url.hostname.replace(/^\[|\]$/g, '')
  const hostHeader = `host: ${url.host}\r\n`
  const open = (): Socket =>
    https
      ? tlsConnect({host: hostname, port, servername: /^[\d.:]+$/.test(hostname) ? undefined : hostname, ca: options.ca, ALPNProtocols: ['http/1.1']})
      : netConnect({host: hostname, port})
  const pool = new ConnectionPool(open, https ? 'secureConnect' : 'connect', Math.max(1, options.connections), options.timeoutMs ?? 30_000)
  /** The request as written: a constant request object (the add) is serialised once. */
  const heads = new WeakMap<HttpRequest, string>()
  const serialise = (request: HttpRequest): string => {
    let head = heads.get(request)
    if (head !== undefined) return head
    let headers = ''
    if (request.headers) for (const [name, value] of Object.entries(request.headers)) headers += `${name}: ${value}\r\n`
    const body = request.body ?? ''
    if (request.body !== undefined && !(request.headers && hasContentType(request.headers))) headers += JSON_CONTENT_TYPE
    if (request.body !== undefined || request.method === 'POST') headers += `content-length: ${Buffer.byteLength(body)}\r\n`
    head = `${request.method} ${prefix}${request.path} HTTP/1.1\r\n${hostHeader}${headers}\r\n${body}`
    heads.set(request, head)
    return head
  }
  return {
    request(request, signal) {
      return new Promise<HttpResponse>((resolve, reject) => {
        if (signal?.aborted) {
          reject(abortReason(signal))
          return
        }
        const pending: Pending = {head: serialise(request), resolve, reject, signal, forget: noop, sentAt: 0}
        if (signal) pending.forget = onAbort(signal, () => pool.abort(pending, abortReason(signal)))
        pool.request(pending)
      })
    },
    async close() {
      pool.close()
    },
  }
}

const noop = () => {}
