/**
 * The part of Alertmanager's API v2 the chat buttons use: create, expire and list silences, and
 * list the alerts (for `/status`). Plain fetch, bounded by a timeout; errors say what failed
 * without quoting bodies at length.
 */

export interface Silence {
  id: string
  status: {state: 'active' | 'pending' | 'expired'}
  matchers: {name: string; value: string; isRegex: boolean; isEqual?: boolean}[]
  startsAt: string
  endsAt: string
  createdBy: string
  comment: string
}

export interface ActiveAlert {
  fingerprint: string
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  status: {state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]}
}

export interface AlertmanagerClient {
  /** Creates a silence matching exactly these labels; resolves to its id. */
  createSilence(input: {labels: Record<string, string>; endsAt: Date; createdBy: string; comment: string}): Promise<string>
  getSilence(id: string): Promise<Silence | undefined>
  /** Expires a silence (Alertmanager's DELETE). */
  expireSilence(id: string): Promise<void>
  listSilences(): Promise<Silence[]>
  listAlerts(): Promise<ActiveAlert[]>
}

export class AlertmanagerError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AlertmanagerError'
  }
}

/** A client for the Alertmanager at `url` (e.g. http://alertmanager:9093). */
export function createAlertmanagerClient(url: string, options: {timeoutMs?: number; fetch?: typeof fetch} = {}): AlertmanagerClient {
  const base = url.replace(/\/+$/, '')
  const doFetch = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 5000

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response
    try {
      response = await doFetch(`${base}/api/v2${path}`, {
        method,
        headers: body === undefined ? {accept: 'application/json'} : {accept: 'application/json', 'content-type': 'application/json'},
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (error) {
      const name = error instanceof Error ? error.name : 'error'
      throw new AlertmanagerError(
        `Alertmanager at ${base} did not answer ${method} ${path} (${name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'not reachable'})`,
      )
    }
    const text = await response.text()
    if (!response.ok) throw new AlertmanagerError(`Alertmanager answered ${response.status} to ${method} ${path}: ${text.slice(0, 200).trim()}`)
    return (text ? JSON.parse(text) : undefined) as T
  }

  return {
    async createSilence({labels, endsAt, createdBy, comment}) {
      const matchers = Object.entries(labels).map(([name, value]) => ({name, value, isRegex: false, isEqual: true}))
      const result = await call<{silenceID: string}>('POST', '/silences', {
        matchers,
        startsAt: new Date().toISOString(),
        endsAt: endsAt.toISOString(),
        createdBy,
        comment,
      })
      return result.silenceID
    },
    async getSilence(id) {
      try {
        return await call<Silence>('GET', `/silence/${encodeURIComponent(id)}`)
      } catch (error) {
        if (error instanceof AlertmanagerError && / 404 /.test(error.message)) return undefined
        throw error
      }
    },
    async expireSilence(id) {
      await call('DELETE', `/silence/${encodeURIComponent(id)}`)
    },
    async listSilences() {
      return call<Silence[]>('GET', '/silences')
    },
    async listAlerts() {
      return call<ActiveAlert[]>('GET', '/alerts')
    },
  }
}
