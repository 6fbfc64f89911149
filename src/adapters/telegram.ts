/**
 * The Telegram edge used by `install`: checks a bot token with the Bot API's `getMe` when Telegram is
 * reachable, and says "skipped" (not "invalid") when it is not — an install on an air-gapped machine
 * must not be blocked by an unreachable api.telegram.org. The token never appears in a result or an error.
 */
export interface TelegramOptions {
  /** Bot API root; `TELEGRAM_API_URL` in tests points it at a loopback fake. */
  apiUrl?: string
  /** How long to wait for Telegram before calling it unreachable. */
  timeoutMs?: number
  fetch?: typeof globalThis.fetch
}

export type TokenCheck = {status: 'valid'; username: string} | {status: 'invalid'; reason: string} | {status: 'unreachable'; reason: string}

export interface Telegram {
  checkToken(token: string): Promise<TokenCheck>
}

export const DEFAULT_TELEGRAM_API_URL = 'https://api.telegram.org'

/** Creates the Telegram checker (plain fetch: no need to load the bot library for one call). */
export function createTelegram(options: TelegramOptions = {}): Telegram {
  const apiUrl = (options.apiUrl ?? DEFAULT_TELEGRAM_API_URL).replace(/\/+$/, '')
  const doFetch = options.fetch ?? globalThis.fetch
  return {
    async checkToken(token) {
      let response: Response
      try {
        response = await doFetch(`${apiUrl}/bot${token}/getMe`, {
          signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
        })
      } catch (error) {
        // Only the error's kind is kept: fetch errors may quote the URL, which contains the token.
        const name = error instanceof Error ? error.name : 'error'
        return {
          status: 'unreachable',
          reason: name === 'TimeoutError' ? `no answer from ${apiUrl} within ${options.timeoutMs ?? 5000} ms` : `${apiUrl} is not reachable`,
        }
      }
      let body: {ok?: boolean; result?: {username?: string}; description?: string} = {}
      try {
        body = (await response.json()) as typeof body
      } catch {
        // a non-JSON answer is treated by its status below
      }
      if (response.ok && body.ok) return {status: 'valid', username: body.result?.username ?? 'unknown'}
      if (response.status === 401 || response.status === 404) {
        return {status: 'invalid', reason: `Telegram rejected the token (${response.status} ${body.description ?? 'Unauthorized'})`}
      }
      return {status: 'unreachable', reason: `Telegram answered ${response.status}${body.description ? ` (${body.description})` : ''}`}
    },
  }
}
