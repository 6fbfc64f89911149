/** Raw requests to the API server, authenticated by client-node's KubeConfig, for what the generated clients do not fit. */
import type * as K8s from '@kubernetes/client-node'

import type {ServiceProxyResponse} from './types.js'

/** `raw` and `rawJson` for one server (see KubeClient). */
export async function makeRawRequests(kc: K8s.KubeConfig, server: string, timeoutMs: number) {
  const http = await import('node:http')
  const https = await import('node:https')
  const raw = async (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<ServiceProxyResponse> => {
    const url = new URL(server.replace(/\/$/, '') + path)
    const opts: import('node:https').RequestOptions = {method, headers: {Accept: 'application/json', ...headers}}
    await kc.applyToHTTPSOptions(opts)
    opts.headers = {...(opts.headers as Record<string, string>), Accept: 'application/json', ...headers}
    const lib = url.protocol === 'https:' ? https : http
    return new Promise((resolve, reject) => {
      const req = lib.request(url, {...opts, timeout: timeoutMs}, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8')}))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
      req.on('error', reject)
      if (body !== undefined) req.end(body)
      else req.end()
    })
  }
  const rawJson = async (method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<unknown> => {
    const res = await raw(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : {'Content-Type': contentType})
    if (res.status < 200 || res.status >= 300) {
      throw Object.assign(new Error(`HTTP ${res.status} for ${method} ${path}`), {code: res.status, body: res.body, headers: res.headers})
    }
    return res.body ? JSON.parse(res.body) : undefined
  }

  /**
   * A GET whose answer is a stream (a followed pod log): each piece of text goes to `onText` as it
   * comes; resolves when the server ends the answer or `signal` aborts, rejects on a non-2xx answer
   * (with `code` and `body`) or a transport error. No timeout: the stream lasts as long as it lasts.
   */
  const rawStream = async (path: string, onText: (text: string) => void, signal: AbortSignal): Promise<void> => {
    const url = new URL(server.replace(/\/$/, '') + path)
    const opts: import('node:https').RequestOptions = {method: 'GET', headers: {Accept: '*/*'}}
    await kc.applyToHTTPSOptions(opts)
    opts.headers = {...(opts.headers as Record<string, string>), Accept: '*/*'}
    const lib = url.protocol === 'https:' ? https : http
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        resolve()
        return
      }
      const req = lib.request(url, {...opts, signal}, (res) => {
        res.setEncoding('utf8')
        const status = res.statusCode ?? 0
        if (status < 200 || status >= 300) {
          let body = ''
          res.on('data', (c: string) => (body += c))
          res.on('end', () => reject(Object.assign(new Error(`HTTP ${status} for GET ${path}`), {code: status, body})))
          res.on('error', reject)
          return
        }
        res.on('data', (c: string) => onText(c))
        res.on('end', () => resolve())
        res.on('error', (error) => (signal.aborted ? resolve() : reject(error)))
      })
      req.on('error', (error) => (signal.aborted ? resolve() : reject(error)))
      req.end()
    })
  }

  return {raw, rawJson, rawStream}
}
