/**
 * The HTTP client of the engine: undici's `Pool.dispatch` with the controller-style handler
 * (`onRequestStart`/`onResponseStart`/`onResponseData`/`onResponseEnd`/`onResponseError`), the
 * fastest way this machine measured to send many small requests from Node (LIBRARY-NOTES.md "Load
 * generation": 0.90× autocannon's req/s; `Pool.request` + `body.text()` 0.77×). Responses are
 * small JSON documents: the body is collected whole.
 */
import {type Dispatcher, Pool} from 'undici'

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
          reject(signal.reason ?? new Error('aborted'))
          return
        }
        let status = 0
        let contentType: string | undefined
        const chunks: Buffer[] = []
        let controller: Dispatcher.DispatchController | undefined
        const onAbort = () => controller?.abort(signal?.reason ?? new Error('aborted'))
        signal?.addEventListener('abort', onAbort, {once: true})
        const done = () => signal?.removeEventListener('abort', onAbort)
        const headers: Record<string, string> = {...request.headers}
        if (request.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json'
        const handler: Dispatcher.DispatchHandler = {
          onRequestStart(c) {
            controller = c
            if (signal?.aborted) c.abort(signal.reason ?? new Error('aborted'))
          },
          onResponseStart(_c, statusCode, responseHeaders) {
            status = statusCode
            const value = responseHeaders['content-type']
            contentType = Array.isArray(value) ? value.join(', ') : value
          },
          onResponseData(_c, chunk) {
            chunks.push(chunk)
          },
          onResponseEnd() {
            done()
            resolve({status, contentType, body: Buffer.concat(chunks).toString('utf8')})
          },
          onResponseError(_c, error) {
            done()
            reject(error)
          },
        }
        pool.dispatch({path: `${prefix}${request.path}`, method: request.method, headers, body: request.body}, handler)
      })
    },
    async close() {
      await pool.destroy()
    },
  }
}
