/** Retrying the API server's transient answers (429, 5xx), honouring Retry-After. */
/** The HTTP status of a client-node ApiException (or of our raw-request errors), if any. */
export function httpStatusOf(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof (error as {code: unknown}).code === 'number') {
    return (error as {code: number}).code
  }
  return undefined
}

/** How the adapter retries the API server's transient answers. */
export interface RetryPolicy {
  /** Attempts in all, the first included; default 7. */
  attempts: number
  /** First back-off in ms, doubled each time; default 250. */
  baseMs: number
  /** Longest single wait in ms (a larger Retry-After is capped to it); default 8000. */
  maxMs: number
}

export const DEFAULT_RETRY: RetryPolicy = {attempts: 7, baseMs: 250, maxMs: 8000}

/**
 * Is this answer worth another try? 429 (e.g. "storage is (re)initializing" right after an API
 * server starts, or priority-and-fairness throttling) and 5xx from the API server itself.
 */
export function isTransient(error: unknown): boolean {
  const status = httpStatusOf(error)
  return status === 429 || (status !== undefined && status >= 500 && status <= 599)
}

/** The Retry-After of an ApiException (or of our raw errors), in ms, when the API server sent one. */
export function retryAfterMs(error: unknown): number | undefined {
  const headers = error && typeof error === 'object' && 'headers' in error ? (error as {headers: unknown}).headers : undefined
  if (!headers || typeof headers !== 'object') return undefined
  const value = (headers as Record<string, unknown>)['retry-after'] ?? (headers as Record<string, unknown>)['Retry-After']
  const seconds = Number(Array.isArray(value) ? value[0] : value)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}

/**
 * Runs `call`, retrying transient API answers with exponential back-off (honouring Retry-After,
 * capped). Anything else — and the last transient answer — is thrown as is.
 */
export async function withRetry<T>(
  call: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call()
    } catch (error) {
      if (attempt >= policy.attempts || !isTransient(error)) throw error
      const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1))
      await sleep(Math.min(policy.maxMs, retryAfterMs(error) ?? backoff))
    }
  }
}
