import type {FastifyPluginAsyncTypebox} from '@fastify/type-provider-typebox'

import {Type} from 'typebox'

import {acceptEmptyJsonBody} from '../shared/json-body.js'
import {createAlertMemory} from './alert-memory.js'
import {AlertmanagerPayloadSchema, MaxWorkersQuerySchema} from './alertmanager-schema.js'
import {bearerAuthHook} from './auth.js'
import {deliver, notificationOutcome, sendAnswer} from './delivery.js'
import {type FormatOptions, formatAlertNotification, formatMaxWorkersReached} from './format.js'
import type {Interactions} from './interactions.js'
import type {MessageStore} from './message-store.js'
import type {WebhookMetrics} from './metrics.js'
import type {Notifier} from './notifier.js'

// Where they were first defined; the button reference is part of the plugin's contract.
export {labelsRef, sharedLabels} from './alert-memory.js'

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

type WebhookApp = Parameters<FastifyPluginAsyncTypebox<WebhookPluginOptions>>[0]

/** `GET /alerts/:fingerprint/messages`: the Telegram messages sent about one alert, per chat. */
function messagesRoute(app: WebhookApp, options: WebhookPluginOptions): void {
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
}

/** `POST /alerts`: Alertmanager's notifications, threaded and with buttons when a store is there. */
function alertsRoute(app: WebhookApp, options: WebhookPluginOptions): void {
  const memory = createAlertMemory(options)
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
      for (const alert of payload.alerts) options.metrics.alertsReceived.inc({status: alert.status})
      request.log.info({status: payload.status, alerts: payload.alerts.length, groupKey: payload.groupKey}, 'Alertmanager notification received')
      const texts = formatAlertNotification(payload, undefined, options.format)
      const messages = await memory.withButtons(payload, texts, request.log)
      const replyTo = await memory.threadTargets(payload, request.log)
      // Alertmanager resends a whole notification after a 5xx: chats that already have it are skipped.
      const answer = await deliver(options.notifier, messages, request.log, {
        dedupe: true,
        replyTo,
        onSent: (sent, complete) => memory.rememberSent(payload, sent, complete, request.log),
      })
      return sendAnswer(reply, answer)
    },
  )
}

/** `POST /webhooks/max-workers-reached`: the original system's alert, everything in its query. */
function maxWorkersRoute(app: WebhookApp, options: WebhookPluginOptions): void {
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
      return sendAnswer(reply, await deliver(options.notifier, [formatMaxWorkersReached(request.query)], request.log, {dedupe: false}))
    },
  )
}

/**
 * The webhook as one encapsulated Fastify plugin: bearer authentication (constant-time compare)
 * on every route it declares, `POST /alerts` for Alertmanager and the original system's
 * `POST /webhooks/max-workers-reached`. Its hooks do not leak to routes registered beside it
 * (health probes stay unauthenticated).
 */
export const webhookPlugin: FastifyPluginAsyncTypebox<WebhookPluginOptions> = async (app, options) => {
  app.addHook('onRequest', bearerAuthHook(options.webhookToken))
  // Inside this plugin only (the max-workers endpoint's callers send an empty JSON body; then
  // /alerts fails validation with a clear message).
  acceptEmptyJsonBody(app)
  app.addHook('onResponse', async (request, reply) => {
    options.metrics.notifications.inc({endpoint: request.routeOptions.url ?? 'unknown', outcome: notificationOutcome(reply.statusCode)})
  })
  messagesRoute(app, options)
  alertsRoute(app, options)
  maxWorkersRoute(app, options)
}
