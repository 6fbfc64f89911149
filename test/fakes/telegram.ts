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
 * - Every call is recorded in `calls` (method, token, chat_id, text, parse_mode, time, status),
 *   with `reply_to_message_id` (from `reply_parameters` or the older top-level field) and the
 *   parsed `reply_markup`.
 * - Buttons and commands, like Telegram delivers them: `pressButton({chatId, messageId, data, from})`
 *   queues a `callback_query` update (the message it carries is the one the fake stored) and
 *   `sendCommand({chatId, text, from})` a `message` update. They are handed out by `getUpdates`
 *   (long polling: `offset` confirms, `timeout` waits, a second concurrent caller makes the first
 *   answer 409 Conflict like Telegram), or POSTed to the URL given to `setWebhook` with its
 *   `X-Telegram-Bot-Api-Secret-Token`. `getUpdates` while a webhook is set is 409, as on Telegram.
 * - `editMessageReplyMarkup` / `editMessageText` change the stored message (400 when it does not
 *   exist); `answerCallbackQuery` needs a callback id the fake issued. Inline keyboards are checked:
 *   `callback_data` 1-64 bytes.
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
  /** The message this one replies to (`reply_parameters.message_id` or `reply_to_message_id`). */
  reply_to_message_id?: number
  /** The parsed `reply_markup` (inline keyboard), when sent. */
  reply_markup?: InlineKeyboard
  /** The id the fake gave the message (successful sendMessage). */
  message_id?: number
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

export interface InlineKeyboard {
  inline_keyboard: {text: string; callback_data: string}[][]
}

/** A Telegram user, as the fake puts it in updates. */
export interface FakeUser {
  id: number
  first_name: string
  last_name?: string
  username?: string
}

/** A message as the fake stores it (what the chat would show). */
export interface StoredMessage {
  chatId: string
  messageId: number
  text: string
  replyTo?: number
  replyMarkup?: InlineKeyboard
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
  /** Messages the fake stored (sent and then edited), by chat and id. */
  message(chatId: string, messageId: number): StoredMessage | undefined
  /** A person presses an inline button: queues a callback_query update; resolves to its callback id. */
  pressButton(press: {chatId: string; messageId: number; data: string; from?: FakeUser}): string
  /** A person writes in a chat (e.g. "/silences"): queues a message update. */
  sendCommand(command: {chatId: string; text: string; from?: FakeUser}): void
  /** The answerCallbackQuery calls, by callback id. */
  callbackAnswer(callbackId: string): TelegramCall | undefined
  /** Updates not yet confirmed by getUpdates' offset (or not yet delivered to the webhook). */
  pendingUpdates(): number
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
const ALLOWED_TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a', 'tg-emoji', 'code', 'pre', 'blockquote'])

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
        name === 'lt'
          ? '<'
          : name === 'gt'
            ? '>'
            : name === 'amp'
              ? '&'
              : name === 'quot'
                ? '"'
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

function replyTarget(params: Record<string, unknown>): number | undefined {
  const parameters =
    typeof params.reply_parameters === 'string'
      ? (JSON.parse(params.reply_parameters) as {message_id?: unknown})
      : (params.reply_parameters as {message_id?: unknown} | undefined)
  const id = parameters?.message_id ?? params.reply_to_message_id
  return id === undefined ? undefined : Number(id)
}

function allowsNoReply(params: Record<string, unknown>): boolean {
  const parameters =
    typeof params.reply_parameters === 'string'
      ? (JSON.parse(params.reply_parameters) as {allow_sending_without_reply?: unknown})
      : (params.reply_parameters as {allow_sending_without_reply?: unknown} | undefined)
  return String(parameters?.allow_sending_without_reply ?? params.allow_sending_without_reply) === 'true'
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

function safe<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}

/** Starts the fake on a free port of 127.0.0.1. */
export async function startFakeTelegram(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const calls: TelegramCall[] = []
  const failures: (TelegramFailure & {remaining: number})[] = []
  const waiters = new Set<() => void>()
  const delays: number[] = []
  let messageId = 0
  const messages = new Map<string, StoredMessage>()
  const updates: {update_id: number; [key: string]: unknown}[] = []
  let updateId = 1000
  let callbackSeq = 0
  const issuedCallbacks = new Set<string>()
  let webhook: {url: string; secret?: string} | undefined
  /** The pending getUpdates call, answered when an update arrives, its timeout ends, or another caller comes. */
  let poll: {res: ServerResponse; offset: number; timer: NodeJS.Timeout; record: (status: number) => void} | undefined
  const defaultUser: FakeUser = {id: 777, first_name: 'Ada', last_name: 'Lovelace', username: 'ada'}
  const msgKey = (chatId: string, id: number) => `${chatId}/${id}`

  function parseJsonParam<T>(value: unknown): T | undefined {
    if (value === undefined || value === '') return undefined
    if (typeof value === 'string') return JSON.parse(value) as T
    return value as T
  }

  /** Checks an inline keyboard like Telegram; returns an error description or the keyboard. */
  function checkKeyboard(value: unknown): InlineKeyboard | string | undefined {
    const markup = parseJsonParam<InlineKeyboard>(value)
    if (markup === undefined) return undefined
    if (!Array.isArray(markup.inline_keyboard)) return 'Bad Request: reply markup is not an inline keyboard'
    for (const row of markup.inline_keyboard) {
      if (!Array.isArray(row)) return "Bad Request: can't parse inline keyboard button: row is not an array"
      for (const button of row) {
        if (typeof button.text !== 'string' || button.text === '') return 'Bad Request: text buttons are unallowed in the inline keyboard'
        const size = Buffer.byteLength(String(button.callback_data ?? ''))
        if (size < 1 || size > 64) return 'Bad Request: BUTTON_DATA_INVALID'
      }
    }
    return markup
  }

  function confirm(offset: number) {
    while (updates.length > 0 && updates[0]!.update_id < offset) updates.shift()
  }

  function answerPoll() {
    if (!poll) return
    const current = poll
    const ready = updates.filter((u) => u.update_id >= current.offset)
    if (ready.length === 0) return
    poll = undefined
    clearTimeout(current.timer)
    current.record(answer(current.res, 200, {ok: true, result: ready}))
  }

  async function pushToWebhook() {
    if (!webhook) return
    while (webhook && updates.length > 0) {
      const update = updates[0]!
      try {
        const response = await fetch(webhook.url, {
          method: 'POST',
          headers: {'content-type': 'application/json', ...(webhook.secret ? {'x-telegram-bot-api-secret-token': webhook.secret} : {})},
          body: JSON.stringify(update),
        })
        if (!response.ok) return // Telegram retries later; tests see it as pending
        updates.shift()
      } catch {
        return
      }
    }
  }

  function enqueue(update: Record<string, unknown>) {
    updates.push({update_id: ++updateId, ...update})
    answerPoll()
    void pushToWebhook()
  }

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
    if (method === 'sendMessage' || method === 'editMessageText') {
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
      const keyboard = checkKeyboard(params.reply_markup)
      if (typeof keyboard === 'string') return fail(res, 400, keyboard)
      if (method === 'editMessageText') {
        const stored = messages.get(msgKey(chatId, Number(params.message_id)))
        if (!stored) return fail(res, 400, 'Bad Request: message to edit not found')
        stored.text = text
        stored.replyMarkup = keyboard
        return answer(res, 200, {ok: true, result: {message_id: stored.messageId, chat: {id: Number(chatId) || chatId}, text: visible}})
      }
      const replyTo = replyTarget(params)
      if (replyTo !== undefined && !messages.has(msgKey(chatId, replyTo)) && !allowsNoReply(params)) {
        return fail(res, 400, 'Bad Request: message to be replied not found')
      }
      const id = ++messageId
      messages.set(msgKey(chatId, id), {chatId, messageId: id, text, replyTo, replyMarkup: keyboard})
      return answer(res, 200, {
        ok: true,
        result: {message_id: id, date: Math.floor(Date.now() / 1000), chat: {id: Number(chatId) || chatId, type: 'private'}, text: visible},
      })
    }
    if (method === 'editMessageReplyMarkup') {
      const stored = messages.get(msgKey(String(params.chat_id ?? ''), Number(params.message_id)))
      if (!stored) return fail(res, 400, 'Bad Request: message to edit not found')
      const keyboard = checkKeyboard(params.reply_markup)
      if (typeof keyboard === 'string') return fail(res, 400, keyboard)
      stored.replyMarkup = keyboard
      return answer(res, 200, {ok: true, result: {message_id: stored.messageId, chat: {id: Number(stored.chatId) || stored.chatId}, text: stored.text}})
    }
    if (method === 'answerCallbackQuery') {
      const id = String(params.callback_query_id ?? '')
      if (!issuedCallbacks.has(id)) return fail(res, 400, 'Bad Request: query is too old and response timeout expired or query ID is invalid')
      issuedCallbacks.delete(id)
      return answer(res, 200, {ok: true, result: true})
    }
    if (method === 'setWebhook') {
      const url = String(params.url ?? '')
      if (!/^https?:\/\//.test(url)) return fail(res, 400, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook')
      webhook = {url, secret: params.secret_token === undefined ? undefined : String(params.secret_token)}
      void pushToWebhook()
      return answer(res, 200, {ok: true, result: true, description: 'Webhook was set'})
    }
    if (method === 'deleteWebhook') {
      webhook = undefined
      return answer(res, 200, {ok: true, result: true, description: 'Webhook was deleted'})
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
        if (
          method === 'getUpdates' &&
          (options.token === undefined || token === options.token) &&
          !failures.some((f) => f.remaining > 0 && f.method === 'getUpdates')
        ) {
          const record = (status: number) => calls.push({method, token, params, at, status})
          if (webhook) {
            record(fail(res, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"))
            return
          }
          if (poll) {
            const earlier = poll
            poll = undefined
            clearTimeout(earlier.timer)
            earlier.record(fail(earlier.res, 409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'))
          }
          const offset = Number(params.offset ?? 0)
          confirm(offset)
          const timeoutMs = Math.min(Number(params.timeout ?? 0), 50) * 1000
          const timer = setTimeout(() => {
            if (poll?.res === res) poll = undefined
            if (!res.writableEnded) record(answer(res, 200, {ok: true, result: []}))
          }, timeoutMs)
          poll = {res, offset, timer, record}
          res.on('close', () => {
            if (poll?.res === res) {
              clearTimeout(timer)
              poll = undefined
            }
          })
          answerPoll()
          return
        }
        const before = messageId
        const status = handle(method, token, params, res)
        calls.push({
          message_id: messageId !== before ? messageId : undefined,
          method,
          token,
          params,
          chat_id: params.chat_id === undefined ? undefined : String(params.chat_id),
          text: params.text === undefined ? undefined : String(params.text),
          parse_mode: params.parse_mode === undefined ? undefined : String(params.parse_mode),
          reply_to_message_id: safe(() => replyTarget(params)),
          reply_markup: safe(() => parseJsonParam<InlineKeyboard>(params.reply_markup)),
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
    message: (chatId, id) => messages.get(msgKey(chatId, id)),
    pressButton({chatId, messageId: id, data, from = defaultUser}) {
      const stored = messages.get(msgKey(chatId, id))
      const callbackId = `cb-${++callbackSeq}`
      issuedCallbacks.add(callbackId)
      enqueue({
        callback_query: {
          id: callbackId,
          from: {is_bot: false, ...from},
          chat_instance: `ci-${chatId}`,
          // A press in a chat the bot never wrote to still names that chat (a stranger's own copy).
          message: {message_id: id, date: Math.floor(Date.now() / 1000), chat: {id: Number(chatId) || chatId, type: 'private'}, text: stored?.text ?? ''},
          data,
        },
      })
      return callbackId
    },
    sendCommand({chatId, text, from = defaultUser}) {
      enqueue({
        message: {
          message_id: ++messageId,
          date: Math.floor(Date.now() / 1000),
          chat: {id: Number(chatId) || chatId, type: 'private'},
          from: {is_bot: false, ...from},
          text,
        },
      })
    },
    callbackAnswer: (callbackId) => calls.find((c) => c.method === 'answerCallbackQuery' && String(c.params.callback_query_id) === callbackId),
    pendingUpdates: () => updates.length,
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
      if (poll) clearTimeout(poll.timer)
      poll = undefined
      webhook = undefined
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
