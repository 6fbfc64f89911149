import type {FastifyReply} from 'fastify'

import type {RouteLog} from './alert-memory.js'
import {type Notifier, NotifyError, type OutgoingMessage, type SentMessage} from './notifier.js'

/** What a notification route answers once Telegram was tried: 200, or 502/503 (with Retry-After) so the caller retries. */
export type DeliveryAnswer =
  | {status: 200; body: {success: true; result: {messages: number; chats: number; threaded?: number}}}
  | {status: 502 | 503; retryAfter?: number; body: {success: false; error: {message: string}}}

/** How deliver() sends. */
export interface DeliverOptions {
  /** Skip chats that already have the message (Alertmanager's retry of a notification). */
  dedupe: boolean
  /** Per chat, the message the first one replies to. */
  replyTo?: Record<string, number>
  /** Called with what Telegram accepted, also after a failure (`complete` false then). */
  onSent?: (sent: SentMessage[], complete: boolean) => Promise<void>
}

/**
 * Sends the messages and turns the outcome into the route's answer. A NotifyError (Telegram
 * unreachable or refusing after the retries) is an answer, not an exception; anything else is a
 * bug and goes to the error handler (500).
 */
export async function deliver(notifier: Notifier, messages: (string | OutgoingMessage)[], log: RouteLog, options: DeliverOptions): Promise<DeliveryAnswer> {
  try {
    const report = await notifier.notify(messages, {dedupe: options.dedupe, replyTo: options.replyTo})
    await options.onSent?.(report.sent, true)
    log.info({messages: report.messages, chats: report.chats, retries: report.retries, skipped: report.skipped}, 'notification sent to Telegram')
    // `threaded`: chats where the message replied to the alert's firing message.
    const threaded = options.replyTo ? Object.keys(options.replyTo).length : undefined
    return {status: 200, body: {success: true, result: {messages: report.messages, chats: report.chats, ...(threaded === undefined ? {} : {threaded})}}}
  } catch (error) {
    if (error instanceof NotifyError) {
      await options.onSent?.(error.sent, false)
      return {status: error.statusCode, retryAfter: error.retryAfterSeconds, body: {success: false, error: {message: error.message}}}
    }
    throw error
  }
}

/** Sends a DeliveryAnswer, with `Retry-After` (whole seconds, rounded up) when Telegram asked to wait. */
export function sendAnswer(reply: FastifyReply, answer: DeliveryAnswer): FastifyReply {
  if ('retryAfter' in answer && answer.retryAfter) reply.header('retry-after', String(Math.ceil(answer.retryAfter)))
  return reply.code(answer.status).send(answer.body)
}

/** The `outcome` label of the notifications counter for a response status. */
export function notificationOutcome(status: number): 'delivered' | 'unauthorized' | 'telegram_failed' | 'invalid' | 'error' {
  if (status < 300) return 'delivered'
  if (status === 401) return 'unauthorized'
  if (status === 502 || status === 503) return 'telegram_failed'
  return status < 500 ? 'invalid' : 'error'
}
