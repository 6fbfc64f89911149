import {createHash} from 'node:crypto'

import {Api, NetworkError, ParseError, TelegramApiError, TimeoutError} from 'node-telegram-bot-api'

import {describeError, redact} from './redact.js'

/** What happened to one Telegram message attempt, for the `result` label of the messages counter. */
export type DeliveryResult = 'sent' | 'failed' | 'retried'

/** Sends formatted messages to the configured chats. The routes only know this interface. */
export interface Notifier {
  /**
   * Sends `messages`, in order, to every chat. Resolves when every chat got every message;
   * rejects with a NotifyError when any chat could not be served within the retry budget.
   */
  notify(messages: (string | OutgoingMessage)[], options?: NotifyOptions): Promise<NotifyReport>
}

/** A message with what Telegram shows around it: inline buttons, and the message it replies to. */
export interface OutgoingMessage {
  text: string
  /** Rows of inline buttons; `data` is the (signed) callback data. */
  buttons?: InlineButton[][]
}

export interface InlineButton {
  text: string
  data: string
}

/** Telegram's `reply_markup` for rows of callback buttons. */
export function inlineKeyboard(rows: InlineButton[][]): {inline_keyboard: {text: string; callback_data: string}[][]} {
  return {inline_keyboard: rows.map((row) => row.map((b) => ({text: b.text, callback_data: b.data})))}
}

export interface NotifyOptions {
  /**
   * Skip a message a chat already received within the dedupe window. Used for Alertmanager
   * notifications: after a partial failure (one chat served, another not) the webhook answers
   * 5xx, Alertmanager sends the same notification again, and only the chats that missed it
   * should get it.
   */
  dedupe?: boolean
  /** The first message to each chat replies to this message id in that chat (threading), when the chat has one. */
  replyTo?: Record<string, number>
}

/** One message Telegram accepted. */
export interface SentMessage {
  chatId: string
  /** Index in the `messages` given to notify(). */
  index: number
  messageId: number
}

export interface NotifyReport {
  chats: number
  messages: number
  /** Attempts that failed and were tried again. */
  retries: number
  /** Messages not sent again because the chat already had them (dedupe). */
  skipped: number
  /** Every message Telegram accepted, with its id (for threading and buttons). */
  sent: SentMessage[]
}

/**
 * Telegram could not be reached or refused the message after the retries. `statusCode` is what
 * the webhook answers so that Alertmanager retries: 503 (with Retry-After) when Telegram asked us
 * to slow down, 502 otherwise. The message is safe to log and return: it never holds the token.
 */
export class NotifyError extends Error {
  readonly statusCode: 502 | 503
  readonly retryAfterSeconds?: number
  /** The messages that did go out before the failure (their ids are still worth remembering). */
  readonly sent: SentMessage[]

  constructor(message: string, statusCode: 502 | 503, retryAfterSeconds?: number, sent: SentMessage[] = []) {
    super(message)
    this.name = 'NotifyError'
    this.statusCode = statusCode
    this.retryAfterSeconds = retryAfterSeconds
    this.sent = sent
  }
}

/** The subset of a pino logger the notifier writes to. */
export interface NotifierLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface TelegramNotifierOptions {
  /** Secret. Goes only into the library, which puts it in the request URL. */
  botToken: string
  chatIds: readonly string[]
  /** Bot API root, e.g. https://api.telegram.org or a loopback fake. */
  apiUrl: string
  /** Per-attempt timeout. */
  timeoutMs: number
  /** Total time one notify() may spend, retries and waits included. */
  retryBudgetMs: number
  /** Attempts per message and chat, the first one included. */
  maxAttempts: number
  /** First backoff delay for 5xx/network errors; doubles each retry (with jitter). Default 250 ms. */
  backoffMs?: number
  logger: NotifierLogger
  /** Called once per attempt outcome (metrics). */
  onDelivery?: (result: DeliveryResult) => void
  /**
   * How long a delivered message is remembered for `dedupe`. Default 2 minutes: long enough
   * for Alertmanager's retries of one notification, shorter than any sensible repeat_interval
   * (a reminder of a still-firing alert carries the same text and must not be swallowed).
   * 0 turns deduplication off.
   */
  dedupeWindowMs?: number
}

/** A Telegram notifier that also answers getMe (the install's token check and the startup log use it). */
export interface TelegramNotifier extends Notifier {
  getMe(): Promise<{id: number; username?: string}>
}

export interface Failure {
  transient: boolean
  /** Telegram's 429 retry_after, in seconds. */
  retryAfterSeconds?: number
  /** Safe to log: secrets removed. */
  description: string
}

/**
 * Creates the Telegram notifier on node-telegram-bot-api 2.x's `Api` (no polling: the webhook
 * only sends). The library's own retry is switched off (`maxRetries: 0`) and done here instead,
 * because here every retry is counted in the metrics, and the whole notification — all chats,
 * all retries, all 429 waits — is bounded by one budget shorter than Alertmanager's timeout.
 */
/**
 * Which messages each chat already received, for `notify`'s `dedupe`: (chat, text) pairs, each
 * remembered for `windowMs` after its delivery. Memory is bounded: expired entries go first, and
 * beyond `maxEntries` the oldest ones go too.
 */
export function createDeliveryMemory(windowMs: number, options: {now?: () => number; maxEntries?: number} = {}) {
  const now = options.now ?? Date.now
  const maxEntries = options.maxEntries ?? 10_000
  /** sha256(chat, text) → when the memory of that delivery expires; insertion order = expiry order. */
  const delivered = new Map<string, number>()
  const keyOf = (chatId: string, text: string) => createHash('sha256').update(chatId).update('\0').update(text).digest('base64')
  return {
    /** Whether `chatId` received `text` within the window. */
    has(chatId: string, text: string): boolean {
      return (delivered.get(keyOf(chatId, text)) ?? 0) > now()
    },
    remember(chatId: string, text: string): void {
      const at = now()
      for (const [k, expires] of delivered) {
        if (expires > at && delivered.size < maxEntries) break
        delivered.delete(k)
      }
      const key = keyOf(chatId, text)
      delivered.delete(key) // re-inserted at the end, keeping the map in expiry order
      delivered.set(key, at + windowMs)
    },
    get size(): number {
      return delivered.size
    },
  }
}

/** What a failed Telegram call means for the retry loop; the description never holds a secret. */
export function classifyFailure(error: unknown, timeoutMs: number, secrets: readonly string[]): Failure {
  if (error instanceof TelegramApiError) {
    return {
      transient: error.errorCode === 429 || error.errorCode >= 500,
      retryAfterSeconds: error.errorCode === 429 ? (error.retryAfter ?? 1) : undefined,
      description: redact(`Telegram answered ${error.errorCode}: ${error.description}`, secrets),
    }
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError' || error instanceof TimeoutError)) {
    return {transient: true, description: `Telegram did not answer within ${timeoutMs} ms`}
  }
  if (error instanceof NetworkError || error instanceof ParseError) {
    return {transient: true, description: describeError(error, secrets)}
  }
  return {transient: false, description: describeError(error, secrets)}
}

/** Telegram's sendMessage parameters: HTML, no link preview, the buttons, and the reply when there is one. */
export function sendMessageParams(chatId: string, message: OutgoingMessage, replyTo?: number) {
  return {
    chat_id: chatId,
    text: message.text,
    parse_mode: 'HTML' as const,
    link_preview_options: {is_disabled: true},
    ...(message.buttons && message.buttons.length > 0 ? {reply_markup: inlineKeyboard(message.buttons)} : {}),
    // A deleted original must not block the message: send it unthreaded then.
    ...(replyTo === undefined ? {} : {reply_parameters: {message_id: replyTo, allow_sending_without_reply: true}}),
  }
}

/**
 * The error of a notification some chats did not get: 503 with the longest Retry-After Telegram
 * asked for when it rate-limited any chat, else 502; the first chat's reason in the message.
 */
export function notifyError(failures: readonly (Failure | undefined)[], chats: number, sent: SentMessage[]): NotifyError {
  const retryAfter = Math.max(0, ...failures.map((f) => f?.retryAfterSeconds ?? 0))
  return new NotifyError(
    `Telegram did not accept the message for ${failures.length} of ${chats} chat(s): ${failures[0]?.description ?? 'unknown error'}`,
    retryAfter > 0 ? 503 : 502,
    retryAfter > 0 ? retryAfter : undefined,
    sent,
  )
}

export function createTelegramNotifier(options: TelegramNotifierOptions): TelegramNotifier {
  const secrets = [options.botToken]
  const api = new Api(options.botToken, {apiRoot: options.apiUrl, maxRetries: 0, timeoutMs: options.timeoutMs})
  const backoffMs = options.backoffMs ?? 250
  const onDelivery = options.onDelivery ?? (() => {})
  const dedupeWindowMs = options.dedupeWindowMs ?? 120_000
  const delivered = createDeliveryMemory(dedupeWindowMs)
  const classify = (error: unknown, timeoutMs: number) => classifyFailure(error, timeoutMs, secrets)

  async function sendOne(chatId: string, message: OutgoingMessage, deadline: number, replyTo?: number): Promise<{retries: number; messageId: number}> {
    for (let attempt = 1; ; attempt++) {
      const timeoutMs = Math.max(1, Math.min(options.timeoutMs, deadline - Date.now()))
      let failure: Failure
      try {
        const sent = await api.sendMessage(sendMessageParams(chatId, message, replyTo), AbortSignal.timeout(timeoutMs))
        onDelivery('sent')
        return {retries: attempt - 1, messageId: (sent as {message_id: number}).message_id}
      } catch (error) {
        failure = classify(error, timeoutMs)
      }
      const wait = failure.retryAfterSeconds === undefined ? jittered(backoffMs * 2 ** (attempt - 1)) : failure.retryAfterSeconds * 1000
      const outOfTime = Date.now() + wait >= deadline
      if (!failure.transient || attempt >= options.maxAttempts || outOfTime) {
        onDelivery('failed')
        const why = !failure.transient ? 'not retryable' : outOfTime ? 'retry budget exhausted' : `gave up after ${attempt} attempts`
        options.logger.error({chatId, attempt, reason: why}, `Telegram sendMessage failed: ${failure.description}`)
        throw Object.assign(new Error(failure.description), {failure})
      }
      onDelivery('retried')
      options.logger.warn({chatId, attempt, waitMs: Math.round(wait)}, `Telegram sendMessage failed, retrying: ${failure.description}`)
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  return {
    async notify(messages, notifyOptions = {}) {
      const dedupe = (notifyOptions.dedupe ?? false) && dedupeWindowMs > 0
      let skipped = 0
      const sent: SentMessage[] = []
      const deadline = Date.now() + options.retryBudgetMs
      // Chats in parallel (one slow chat does not eat the others' budget); parts of one
      // notification in order within a chat, stopping at the first part that fails.
      const results = await Promise.allSettled(
        options.chatIds.map(async (chatId) => {
          let retries = 0
          let replyTo = notifyOptions.replyTo?.[chatId]
          for (const [index, entry] of messages.entries()) {
            const message = typeof entry === 'string' ? {text: entry} : entry
            if (dedupe && delivered.has(chatId, message.text)) {
              skipped++
              continue
            }
            const result = await sendOne(chatId, message, deadline, replyTo)
            replyTo = undefined
            retries += result.retries
            sent.push({chatId, index, messageId: result.messageId})
            if (dedupe) delivered.remember(chatId, message.text)
          }
          return retries
        }),
      )
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as {failure?: Failure}).failure] : []))
      if (failures.length > 0) throw notifyError(failures, options.chatIds.length, sent)
      const retries = results.reduce((sum, r) => sum + (r.status === 'fulfilled' ? r.value : 0), 0)
      if (skipped > 0) options.logger.info({skipped}, 'skipped messages the chats already received (a retried notification)')
      return {chats: options.chatIds.length, messages: messages.length, retries, skipped, sent}
    },

    async getMe() {
      try {
        const me = await api.getMe(AbortSignal.timeout(options.timeoutMs))
        return {id: me.id, username: me.username}
      } catch (error) {
        throw new Error(classify(error, options.timeoutMs).description)
      }
    },
  }
}

/** 50–100 % of `ms`, so that many webhooks retrying together do not hit Telegram in lockstep. */
function jittered(ms: number): number {
  return Math.min(ms, 10_000) * (0.5 + Math.random() * 0.5)
}
