/**
 * The HTTP client of the engine: undici's `Pool.dispatch` with the controller-style handler
 * (`onRequestStart`/`onResponseStart`/`onResponseData`/`onResponseEnd`/`onResponseError`), the
 * fastest way this machine measured to send many small requests from Node (LIBRARY-NOTES.md "Load
 * generation": 0.90× autocannon's req/s; `Pool.request` + `body.text()` 0.77×). Responses are
 * small JSON documents: the body is collected whole.
 */
import {type Dispatcher, Pool} from 'undici'

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
}

/** A body sent without a Content-Type of its own is JSON (the typed route's `{iterations}`). */
const JSON_BODY_HEADERS: Readonly<Record<string, string>> = {'content-type': 'application/json'}

const hasContentType = (headers: Record<string, string>) => Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')

/**
 * One response being received: undici's controller-style handler as a class, so that a request
 * costs one small object rather than a closure per callback; aborting goes through the shared
 * registry of abort.ts (one listener per signal, however many requests wait on it).
 */
class ResponseHandler implements Dispatcher.DispatchHandler {
  private status = 0
  private contentType: string | undefined
  private first: Buffer | undefined
  private more: Buffer[] | undefined
  private controller: Dispatcher.DispatchController | undefined
  private readonly forget: () => void

  constructor(
    private readonly resolve: (response: HttpResponse) => void,
    private readonly reject: (error: Error) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.forget = signal ? onAbort(signal, () => this.controller?.abort(abortReason(signal))) : noop
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.signal?.aborted) controller.abort(abortReason(this.signal))
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode
    const value = headers['content-type']
    this.contentType = Array.isArray(value) ? value.join(', ') : value
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    // A small JSON answer comes in one chunk: keep it as it is, concatenate only when there are more.
    if (this.first === undefined) this.first = chunk
    else if (this.more) this.more.push(chunk)
    else this.more = [this.first, chunk]
  }

  onResponseEnd(): void {
    this.forget()
    const body = this.more ? Buffer.concat(this.more).toString('utf8') : (this.first?.toString('utf8') ?? '')
    this.resolve({status: this.status, contentType: this.contentType, body})
  }

  onResponseError(_c: Dispatcher.DispatchController | null, error: Error): void {
    this.forget()
    this.reject(error)
  }
}

const noop = () => {}
const abortReason = (signal: AbortSignal): Error => (signal.reason instanceof Error ? signal.reason : new Error('aborted'))

/** A pooled keep-alive client for one target. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const url = new URL(options.url)
  const prefix = url.pathname.replace(/\/+$/, '')
  const timeout = options.timeoutMs ?? 30_000
  const pool = new Pool(url.origin, {connections: options.connections, pipelining: 1, headersTimeout: timeout, bodyTimeout: timeout})
  return {
    request(request, signal) {
      return new Promise<HttpResponse>((resolve, reject) => {
        if (signal?.aborted) {
          reject(abortReason(signal))
          return
        }
        let headers = request.headers
        if (request.body !== undefined && !(headers && hasContentType(headers))) headers = headers ? {...headers, ...JSON_BODY_HEADERS} : JSON_BODY_HEADERS
        pool.dispatch(
          {path: prefix ? `${prefix}${request.path}` : request.path, method: request.method, headers, body: request.body},
          new ResponseHandler(resolve, reject, signal),
        )
      })
    },
    async close() {
      await pool.destroy()
    },
  }
}
