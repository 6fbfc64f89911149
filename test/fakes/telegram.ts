/**
 * A loopback fake of the Telegram Bot API, for tests only: a `node:http` server on a free port on
 * 127.0.0.1 that answers `POST|GET /bot<token>/<method>` like api.telegram.org does.
 *
 * - Parses `application/x-www-form-urlencoded` (what node-telegram-bot-api 2.x sends), JSON and
 *   query-string parameters.
 * - Implements `getMe` and `sendMessage`; any other method gets Telegram's 404 envelope.
 * - `sendMessage` checks like Telegram: chat_id and text required, `parse_mode=HTML` text must
 *   parse (only Telegram's tags and the entities &lt; &gt; &amp; &quot; &#N;), and the text after
 *   parsing must be at most 4096 characters.
 * - `token` (optional): requests with another token get Telegram's 401 "Unauthorized".
 * - `failNext(n, {status: 429, retryAfter: 1})` or `failNext(n, {status: 502})`: the next n calls
 *   (of `method`, default sendMessage) fail that way, then it answers normally again;
 *   `clearFailures()` drops the ones not used up. `slowNext(n, ms)` delays the next n answers.
 * - Every call is recorded in `calls` (method, token, chat_id, text, parse_mode, time, status).
 *
 * Usage:
 *   const telegram = await startFakeTelegram({token})
 *   process.env.TELEGRAM_API_URL = telegram.url   // the apiRoot
 *   ... telegram.sentMessages() ...
 *   await telegram.close()
 */
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

/** One request the fake received. */
export interface TelegramCall {
  method: string
  /** The token from the URL path (tests assert on it; it is a test token). */
  token: string
  /** All parameters, as received (strings from form bodies, JSON values from JSON bodies). */
  params: Record<string, unknown>
  chat_id?: string
  text?: string
  parse_mode?: string
  /** Date.now() when the request arrived. */
  at: number
  /** HTTP status the fake answered. */
  status: number
}

/** How the next calls fail: 429 (with `retry_after`), 5xx, or any Telegram error code. */
export interface TelegramFailure {
  status: number
  /** Seconds, sent as `parameters.retry_after` (429 only; default 1). */
  retryAfter?: number
  description?: string
  /** Method the failure applies to; default `sendMessage`. */
  method?: string
}

export interface FakeTelegram {
  /** The Bot API root to configure (TELEGRAM_API_URL / apiRoot), e.g. http://127.0.0.1:34567 */
  url: string
  port: number
  calls: TelegramCall[]
  /** The sendMessage calls that succeeded, in arrival order. */
  sentMessages(): TelegramCall[]
  /** Makes the next `count` calls of `failure.method` (default sendMessage) fail. */
  failNext(count: number, failure: TelegramFailure): void
  /** Forgets failures and delays not yet used up. */
  clearFailures(): void
  /** Delays the answer to the next `count` calls by `delayMs` (to test client timeouts). */
  slowNext(count: number, delayMs: number): void
  /** Resolves once at least `count` calls of `method` (default any) arrived. */
  waitForCalls(count: number, options?: {method?: string; timeoutMs?: number}): Promise<TelegramCall[]>
  close(): Promise<void>
}

export interface FakeTelegramOptions {
  /** When set, only this token is accepted; others get 401 Unauthorized. */
  token?: string
  /** Bot identity returned by getMe. */
  username?: string
}

const TELEGRAM_LIMIT = 4096
const ALLOWED_TAGS = new Set([
  'b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a', 'tg-emoji', 'code', 'pre', 'blockquote',
])

/**
 * Parses Telegram-flavoured HTML the way the Bot API insists on: every `<` starts a supported
 * tag, every `&` starts a supported entity, tags nest properly. Returns the visible text.
 */
export function parseTelegramHtml(html: string): {ok: true; text: string} | {ok: false; error: string} {
  const stack: string[] = []
  let text = ''
  let i = 0
  while (i < html.length) {
    const c = html[i]!
    if (c === '<') {
      const tag = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:="[^"<>]*")?)*)\s*>/.exec(html.slice(i))
      if (!tag) return {ok: false, error: `Can't find end of the tag starting at byte offset ${i}`}
      const [whole, closing, rawName] = tag
      const name = rawName!.toLowerCase()
      if (!ALLOWED_TAGS.has(name)) return {ok: false, error: `Unsupported start tag "${name}" at byte offset ${i}`}
      if (closing) {
        if (stack.pop() !== name) return {ok: false, error: `Unmatched end tag at byte offset ${i}, expected "</${stack.at(-1) ?? ''}>", found "</${name}>"`}
      } else stack.push(name)
      i += whole.length
    } else if (c === '&') {
      const entity = /^&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/.exec(html.slice(i))
      if (!entity) return {ok: false, error: `Unsupported HTML entity or bare "&" at byte offset ${i}`}
      const name = entity[1]!
      text +=
        name === 'lt' ? '<' : name === 'gt' ? '>' : name === 'amp' ? '&' : name === 'quot' ? '"'
        : String.fromCodePoint(name.startsWith('#x') ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1)))
      i += entity[0].length
    } else if (c === '>') {
      return {ok: false, error: `Bare ">" at byte offset ${i}: escape it as &gt;`}
    } else {
      text += c
      i++
    }
  }
  if (stack.length > 0) return {ok: false, error: `Can't find end tag corresponding to start tag "${stack.at(-1)}"`}
  return {ok: true, text}
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function parseParams(req: IncomingMessage, body: string, query: URLSearchParams): Record<string, unknown> {
  const params: Record<string, unknown> = Object.fromEntries(query)
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (body.length === 0) return params
  if (type === 'application/json') return {...params, ...(JSON.parse(body) as Record<string, unknown>)}
  if (type === 'application/x-www-form-urlencoded') return {...params, ...Object.fromEntries(new URLSearchParams(body))}
  throw new Error(`unsupported content-type ${type}`)
}

/** Starts the fake on a free port of 127.0.0.1. */
export async function startFakeTelegram(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const calls: TelegramCall[] = []
  const failures: (TelegramFailure & {remaining: number})[] = []
  const waiters = new Set<() => void>()
  const delays: number[] = []
  let messageId = 0

  function answer(res: ServerResponse, status: number, body: object): number {
    res.writeHead(status, {'content-type': 'application/json'})
    res.end(JSON.stringify(body))
    return status
  }
  const fail = (res: ServerResponse, code: number, description: string, parameters?: object) =>
    answer(res, code, {ok: false, error_code: code, description, ...(parameters ? {parameters} : {})})

  function handle(method: string, token: string, params: Record<string, unknown>, res: ServerResponse): number {
    if (options.token !== undefined && token !== options.token) return fail(res, 401, 'Unauthorized')
    const failure = failures.find((f) => f.remaining > 0 && (f.method ?? 'sendMessage') === method)
    if (failure) {
      failure.remaining--
      if (failure.status === 429) {
        const retryAfter = failure.retryAfter ?? 1
        return fail(res, 429, failure.description ?? `Too Many Requests: retry after ${retryAfter}`, {retry_after: retryAfter})
      }
      return fail(res, failure.status, failure.description ?? (failure.status >= 500 ? 'Internal Server Error' : 'Bad Request'))
    }
    const botId = Number(token.split(':')[0]) || 1
    if (method === 'getMe') {
      return answer(res, 200, {ok: true, result: {id: botId, is_bot: true, first_name: 'keda-lab fake', username: options.username ?? 'keda_lab_fake_bot'}})
    }
    if (method === 'sendMessage') {
      const chatId = params.chat_id === undefined ? '' : String(params.chat_id)
      const text = params.text === undefined ? '' : String(params.text)
      if (chatId === '') return fail(res, 400, 'Bad Request: chat_id is empty')
      if (text === '') return fail(res, 400, 'Bad Request: message text is empty')
      let visible = text
      if (String(params.parse_mode ?? '').toUpperCase() === 'HTML') {
        const parsed = parseTelegramHtml(text)
        if (!parsed.ok) return fail(res, 400, `Bad Request: can't parse entities: ${parsed.error}`)
        visible = parsed.text
      }
      if (visible.length > TELEGRAM_LIMIT) return fail(res, 400, 'Bad Request: message is too long')
      return answer(res, 200, {
        ok: true,
        result: {message_id: ++messageId, date: Math.floor(Date.now() / 1000), chat: {id: Number(chatId) || chatId, type: 'private'}, text: visible},
      })
    }
    return fail(res, 404, 'Not Found')
  }

  const server = createServer((req, res) => {
    const at = Date.now()
    const url = new URL(req.url ?? '/', 'http://fake')
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname)
    readBody(req)
      .then(async (body) => {
        const delay = delays.shift()
        if (delay) await new Promise((resolve) => setTimeout(resolve, delay))
        if (res.destroyed) return
        if (!match) {
          answer(res, 404, {ok: false, error_code: 404, description: 'Not Found'})
          return
        }
        const [, token, method] = match as unknown as [string, string, string]
        let params: Record<string, unknown>
        try {
          params = parseParams(req, body, url.searchParams)
        } catch (error) {
          const status = fail(res, 400, `Bad Request: ${(error as Error).message}`)
          calls.push({method, token, params: {}, at, status})
          return
        }
        const status = handle(method, token, params, res)
        calls.push({
          method,
          token,
          params,
          chat_id: params.chat_id === undefined ? undefined : String(params.chat_id),
          text: params.text === undefined ? undefined : String(params.text),
          parse_mode: params.parse_mode === undefined ? undefined : String(params.parse_mode),
          at,
          status,
        })
      })
      .catch(() => {
        if (!res.headersSent) answer(res, 500, {ok: false, error_code: 500, description: 'Internal Server Error'})
      })
      .finally(() => {
        for (const wake of waiters) wake()
      })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    sentMessages: () => calls.filter((c) => c.method === 'sendMessage' && c.status === 200),
    failNext(count, failure) {
      failures.push({...failure, remaining: count})
    },
    clearFailures() {
      failures.length = 0
      delays.length = 0
    },
    slowNext(count, delayMs) {
      for (let i = 0; i < count; i++) delays.push(delayMs)
    },
    async waitForCalls(count, {method, timeoutMs = 10_000} = {}) {
      const matching = () => calls.filter((c) => method === undefined || c.method === method)
      if (matching().length >= count) return matching()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`fake Telegram: expected ${count} ${method ?? ''} call(s) within ${timeoutMs} ms, got ${matching().length}`))
        }, timeoutMs)
        function check() {
          if (matching().length >= count) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve(matching())
          }
        }
        waiters.add(check)
      })
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
