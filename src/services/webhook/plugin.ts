import type {FastifyPluginAsyncTypebox} from '@fastify/type-provider-typebox'

import {createHash} from 'node:crypto'

import {Type} from 'typebox'

import {type Alert, type AlertmanagerPayload, AlertmanagerPayloadSchema, MaxWorkersQuerySchema} from './alertmanager-schema.js'
import {isAuthorized} from './auth.js'
import {type FormatOptions, formatAlertNotification, formatMaxWorkersReached} from './format.js'
import type {Interactions} from './interactions.js'
import type {MessageStore} from './message-store.js'
import type {WebhookMetrics} from './metrics.js'
import {type Notifier, NotifyError, type OutgoingMessage, type SentMessage} from './notifier.js'

/** What the webhook routes need: the expected bearer token, where to send, what to count. */
export interface WebhookPluginOptions {
  /** Secret: the bearer token Alertmanager must present. */
  webhookToken: string
  notifier: Notifier
  metrics: WebhookMetrics
  /** The chats messages go to (for GET /alerts/:fingerprint/messages). */
  chatIds?: readonly string[]
  /** Links in the messages. */
  format?: FormatOptions
  /** Message ids per alert: a resolved notification replies to its firing message. */
  store?: MessageStore
  /** Buttons under firing messages (needs `store` for the labels behind each button). */
  interactions?: Interactions
}

/** Body limit of POST /alerts: room for the schema's 10,000 alerts. */
export const ALERTS_BODY_LIMIT = 8 * 1024 * 1024

/** The reference behind a firing message's buttons: 16 hex digits naming the label set a silence will match. */
export function labelsRef(labels: Record<string, string>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]])
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16)
}

/** Labels every alert shares (with the same value): what one silence for the whole group matches. */
export function sharedLabels(alerts: Alert[]): Record<string, string> {
  const [first, ...rest] = alerts
  if (!first) return {}
  return Object.fromEntries(Object.entries(first.labels).filter(([k, v]) => rest.every((a) => a.labels[k] === v)))
}

/**
 * The webhook as one encapsulated Fastify plugin: bearer authentication (constant-time compare)
 * on every route it declares, `POST /alerts` for Alertmanager and the original system's
 * `POST /webhooks/max-workers-reached`. Its hooks do not leak to routes registered beside it
 * (health probes stay unauthenticated).
 */
export const webhookPlugin: FastifyPluginAsyncTypebox<WebhookPluginOptions> = async (app, options) => {
  const {metrics, notifier} = options

  // onRequest runs before the body is read or parsed: an unauthenticated caller learns nothing
  // about what a valid payload looks like, and costs us no parsing.
  app.addHook('onRequest', async (request, reply) => {
    if (!isAuthorized(request.headers.authorization, options.webhookToken)) {
      // Says which way it failed (never the value), to debug an Alertmanager http_config.
      const header = request.headers.authorization
      request.log.warn(
        {ip: request.ip, auth: header === undefined ? 'missing' : /^bearer\s/i.test(header) ? 'wrong token' : 'not a bearer token'},
        'rejected: missing or wrong bearer token',
      )
      reply.header('www-authenticate', 'Bearer realm="keda-lab-webhook"')
      return reply.code(401).send({
        success: false,
        error: {message: 'Missing or wrong bearer token: send "Authorization: Bearer <WEBHOOK_TOKEN>"'},
      })
    }
  })

  // The max-workers endpoint carries everything in its query; callers often still send
  // `Content-Type: application/json` with an empty body, which Fastify's parser rejects. Inside
  // this plugin only, an empty JSON body is "no body" (then /alerts fails validation with a
  // clear message); anything else goes through Fastify's own (prototype-poisoning-safe) parser.
  const jsonParser = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', {parseAs: 'string'}, (request, body, done) => {
    if (String(body).trim() === '') {
      done(null, undefined)
      return
    }
    jsonParser(request, String(body), done)
  })

  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode
    const outcome =
      status < 300 ? 'delivered' : status === 401 ? 'unauthorized' : status === 502 || status === 503 ? 'telegram_failed' : status < 500 ? 'invalid' : 'error'
    metrics.notifications.inc({endpoint: request.routeOptions.url ?? 'unknown', outcome})
  })

  type Log = {info(obj: object, msg: string): void; warn(obj: object, msg: string): void}

  async function deliver(
    messages: (string | OutgoingMessage)[],
    log: Log,
    dedupe: boolean,
    extra: {replyTo?: Record<string, number>; onSent?: (sent: SentMessage[], complete: boolean) => Promise<void>} = {},
  ) {
    try {
      const report = await notifier.notify(messages, {dedupe, replyTo: extra.replyTo})
      await extra.onSent?.(report.sent, true)
      log.info({messages: report.messages, chats: report.chats, retries: report.retries, skipped: report.skipped}, 'notification sent to Telegram')
      // `threaded`: chats where the message replied to the alert's firing message.
      const threaded = extra.replyTo ? Object.keys(extra.replyTo).length : undefined
      return {
        status: 200,
        body: {success: true, result: {messages: report.messages, chats: report.chats, ...(threaded === undefined ? {} : {threaded})}},
      } as const
    } catch (error) {
      if (error instanceof NotifyError) {
        await extra.onSent?.(error.sent, false)
        return {status: error.statusCode, retryAfter: error.retryAfterSeconds, body: {success: false, error: {message: error.message}}} as const
      }
      throw error
    }
  }

  /**
   * Remembering is a convenience (threading, buttons): when Redis is unavailable the alert is
   * still delivered, only unthreaded or without buttons, and the log says so.
   */
  async function bestEffort<T>(log: Log, what: string, work: (store: MessageStore) => Promise<T>): Promise<T | undefined> {
    const {store} = options
    if (!store) return undefined
    try {
      return await work(store)
    } catch (error) {
      log.warn({error: error instanceof Error ? error.message : String(error)}, `could not ${what}; the message goes out without it`)
      return undefined
    }
  }

  /** Buttons under the last part of a firing notification, acting on the firing alerts' shared labels. */
  async function withButtons(payload: AlertmanagerPayload, texts: string[], log: Log): Promise<(string | OutgoingMessage)[]> {
    const firing = payload.alerts.filter((a) => a.status === 'firing')
    const {interactions} = options
    if (!interactions || firing.length === 0) return texts
    // One alert shares all its labels with itself.
    const labels = sharedLabels(firing)
    if (Object.keys(labels).length === 0) return texts
    const ref = labelsRef(labels)
    const stored = await bestEffort(log, 'remember the labels behind the buttons', async (store) => {
      await store.rememberLabels(ref, labels)
      return true
    })
    if (!stored) return texts
    return texts.map((text, i) => (i === texts.length - 1 ? {text, buttons: interactions.alertButtons(ref)} : text))
  }

  /** Per chat, the firing message a resolved notification replies to (the first resolved alert that has one). */
  async function threadTargets(payload: AlertmanagerPayload, log: Log): Promise<Record<string, number> | undefined> {
    const resolved = payload.alerts.filter((a) => a.status === 'resolved').slice(0, 50)
    const {chatIds} = options
    if (resolved.length === 0 || !chatIds) return undefined
    return bestEffort(log, 'look up the firing messages to reply to', async (store) => {
      const targets: Record<string, number> = {}
      for (const chatId of chatIds) {
        for (const alert of resolved) {
          const id = await store.messageFor(alert.fingerprint, chatId)
          if (id !== undefined) {
            targets[chatId] = id
            break
          }
        }
      }
      return targets
    })
  }

  app.get(
    '/alerts/:fingerprint/messages',
    {
      schema: {
        description:
          'The Telegram messages sent about one alert (by fingerprint), per chat: how `keda-lab alert test` learns that Telegram accepted its alert.',
        params: Type.Object({fingerprint: Type.String({minLength: 1, maxLength: 256})}),
      },
    },
    async (request, reply) => {
      const {fingerprint} = request.params
      const messages: {chatId: string; messageId: number}[] = []
      for (const chatId of options.chatIds ?? []) {
        const messageId = await options.store?.messageFor(fingerprint, chatId)
        if (messageId !== undefined) messages.push({chatId, messageId})
      }
      if (messages.length === 0) {
        return reply.code(404).send({success: false, error: {message: `No message was sent about alert ${fingerprint} (yet)`}})
      }
      return {success: true, result: {fingerprint, messages}}
    },
  )

  app.post(
    '/alerts',
    {
      // An alert storm is one notification with thousands of alerts (up to ~600 bytes each):
      // it must be summarised, not refused, or Alertmanager would retry it forever.
      bodyLimit: ALERTS_BODY_LIMIT,
      schema: {
        description: 'Alertmanager webhook receiver (payload version 4): one Telegram message per notification to every chat.',
        body: AlertmanagerPayloadSchema,
      },
    },
    async (request, reply) => {
      const payload = request.body
      for (const alert of payload.alerts) metrics.alertsReceived.inc({status: alert.status})
      request.log.info({status: payload.status, alerts: payload.alerts.length, groupKey: payload.groupKey}, 'Alertmanager notification received')
      const texts = formatAlertNotification(payload, undefined, options.format)
      const messages = await withButtons(payload, texts, request.log)
      const replyTo = await threadTargets(payload, request.log)
      const firing = payload.alerts.filter((a) => a.status === 'firing')
      const resolved = payload.alerts.filter((a) => a.status === 'resolved')
      // Alertmanager resends a whole notification after a 5xx: chats that already have it are skipped.
      const result = await deliver(messages, request.log, true, {
        replyTo,
        onSent: async (sent, complete) => {
          await bestEffort(request.log, 'remember the message ids', async (store) => {
            const firsts = sent.filter((m) => m.index === 0)
            await store.rememberMessages(
              firsts.flatMap((m) => firing.map((alert) => ({fingerprint: alert.fingerprint, chatId: m.chatId, messageId: m.messageId}))),
            )
            // The episode is over: its next firing starts a new thread. Kept while a chat still
            // waits for Alertmanager's retry of this resolved notification.
            if (complete) await store.forgetMessages(resolved.map((a) => a.fingerprint))
          })
        },
      })
      if ('retryAfter' in result && result.retryAfter) reply.header('retry-after', String(Math.ceil(result.retryAfter)))
      return reply.code(result.status).send(result.body)
    },
  )

  app.post(
    '/webhooks/max-workers-reached',
    {
      schema: {
        description: 'The original system\'s alert: "Max workers reached" for a scaler, namespace and deployment.',
        querystring: MaxWorkersQuerySchema,
      },
    },
    async (request, reply) => {
      request.log.info({...request.query}, 'max-workers-reached notification received')
      // Each call is a new event for the original endpoint's callers: always sent.
      const result = await deliver([formatMaxWorkersReached(request.query)], request.log, false)
      if ('retryAfter' in result && result.retryAfter) reply.header('retry-after', String(Math.ceil(result.retryAfter)))
      return reply.code(result.status).send(result.body)
    },
  )
}
