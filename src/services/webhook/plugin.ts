import type {FastifyPluginAsyncTypebox} from '@fastify/type-provider-typebox'

import {AlertmanagerPayloadSchema, MaxWorkersQuerySchema} from './alertmanager-schema.js'
import {isAuthorized} from './auth.js'
import {formatAlertNotification, formatMaxWorkersReached} from './format.js'
import type {WebhookMetrics} from './metrics.js'
import {type Notifier, NotifyError} from './notifier.js'

/** What the webhook routes need: the expected bearer token, where to send, what to count. */
export interface WebhookPluginOptions {
  /** Secret: the bearer token Alertmanager must present. */
  webhookToken: string
  notifier: Notifier
  metrics: WebhookMetrics
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
      request.log.warn({ip: request.ip, auth: header === undefined ? 'missing' : /^bearer\s/i.test(header) ? 'wrong token' : 'not a bearer token'}, 'rejected: missing or wrong bearer token')
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

  async function deliver(messages: string[], log: {info(obj: object, msg: string): void}, dedupe: boolean) {
    try {
      const report = await notifier.notify(messages, {dedupe})
      log.info({messages: report.messages, chats: report.chats, retries: report.retries, skipped: report.skipped}, 'notification sent to Telegram')
      return {status: 200, body: {success: true, result: {messages: report.messages, chats: report.chats}}} as const
    } catch (error) {
      if (error instanceof NotifyError) {
        return {status: error.statusCode, retryAfter: error.retryAfterSeconds, body: {success: false, error: {message: error.message}}} as const
      }
      throw error
    }
  }

  app.post(
    '/alerts',
    {
      schema: {
        description: "Alertmanager webhook receiver (payload version 4): one Telegram message per notification to every chat.",
        body: AlertmanagerPayloadSchema,
      },
    },
    async (request, reply) => {
      const payload = request.body
      for (const alert of payload.alerts) metrics.alertsReceived.inc({status: alert.status})
      request.log.info(
        {status: payload.status, alerts: payload.alerts.length, groupKey: payload.groupKey},
        'Alertmanager notification received',
      )
      // Alertmanager resends a whole notification after a 5xx: chats that already have it are skipped.
      const result = await deliver(formatAlertNotification(payload), request.log, true)
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
