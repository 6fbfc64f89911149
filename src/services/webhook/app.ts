import type {TypeBoxTypeProvider} from '@fastify/type-provider-typebox'
import Fastify, {type FastifyError, type FastifyRequest} from 'fastify'
import type {Logger} from 'pino'

import {tokensMatch} from './auth.js'
import type {FormatOptions} from './format.js'
import type {Interactions} from './interactions.js'
import type {MessageStore} from './message-store.js'
import type {WebhookMetrics} from './metrics.js'
import {createWebhookMetrics} from './metrics.js'
import type {Notifier} from './notifier.js'
import {webhookPlugin} from './plugin.js'
import {describeError} from './redact.js'
import type {TelegramUpdate} from './telegram-bot.js'

export interface BuildAppOptions {
  /** Secret: the bearer token Alertmanager must send. */
  webhookToken: string
  notifier: Notifier
  /** Defaults to a fresh registry without process metrics. */
  metrics?: WebhookMetrics
  /** A pino logger; none means no logging (unit tests). */
  logger?: Logger
  /** Extra secrets to scrub from logged error descriptions (the bot token). */
  secrets?: string[]
  /** The chats messages go to. */
  chatIds?: readonly string[]
  /** Grafana and Prometheus links in the messages. */
  format?: FormatOptions
  /** Message ids per alert (threading) and the labels behind buttons. */
  store?: MessageStore
  /** Buttons and commands. */
  interactions?: Interactions
  /**
   * Telegram's webhook for updates (a lab with a public URL): `POST /telegram/updates`, accepted
   * only with Telegram's `X-Telegram-Bot-Api-Secret-Token` header equal to `secretToken`.
   */
  telegramUpdates?: {secretToken: string; handle: (update: TelegramUpdate) => Promise<void>}
}

const PAYLOAD_HINT = 'expected the JSON Alertmanager webhook payload, version "4"'

/** Turns an Ajv validation error into one line that names the field or query parameter. */
function validationMessage(error: FastifyError, request: FastifyRequest): string {
  const first = error.validation?.[0]
  const context = error.validationContext ?? 'body'
  const isAlerts = request.routeOptions.url === '/alerts'
  const suffix = isAlerts ? ` (${PAYLOAD_HINT})` : ''
  if (!first) return `Invalid request: ${error.message}${suffix}`
  const where = first.instancePath.replace(/^\//, '').replace(/\//g, '.')
  if (first.keyword === 'required') {
    const missing = String((first.params as {missingProperty?: string}).missingProperty ?? '?')
    if (context === 'querystring') return `Missing query parameter "${missing}"`
    return `Invalid payload: missing field "${where ? `${where}.` : ''}${missing}"${suffix}`
  }
  const allowed = (first.params as {allowedValues?: unknown[]; allowedValue?: unknown}).allowedValues
  const constant = (first.params as {allowedValue?: unknown}).allowedValue
  const detail = allowed
    ? `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`
    : constant !== undefined
      ? `must be ${JSON.stringify(constant)}`
      : first.message
  if (context === 'querystring') return `Invalid query parameter "${where}": ${detail}`
  return `Invalid payload: field "${where || '(body)'}" ${detail}${suffix}`
}

/**
 * Builds the webhook application: health probes (no auth) plus the encapsulated webhook plugin
 * (bearer auth, `POST /alerts`, `POST /webhooks/max-workers-reached`). Never listens: main.ts
 * does, tests use `inject()` or listen on a free port themselves.
 */
export async function buildApp(options: BuildAppOptions) {
  const secrets = [options.webhookToken, ...(options.secrets ?? [])]
  const metrics = options.metrics ?? createWebhookMetrics({defaultMetrics: false})
  const app = Fastify({
    ...(options.logger ? {loggerInstance: options.logger} : {logger: false}),
    bodyLimit: 1024 * 1024,
    // Alertmanager retries on its own; a stuck connection should not hold a socket for long.
    requestTimeout: 60_000,
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      return reply.code(400).send({success: false, error: {message: validationMessage(error, request)}})
    }
    const statusCode = error.statusCode ?? 500
    if (statusCode < 500) {
      const hint = request.routeOptions.url === '/alerts' && statusCode !== 401 ? ` (${PAYLOAD_HINT})` : ''
      return reply.code(statusCode).send({success: false, error: {message: `${error.message}${hint}`}})
    }
    // Details go to the log (secrets scrubbed), never to the caller.
    request.log.error({error: describeError(error, secrets)}, 'request failed')
    return reply.code(500).send({success: false, error: {message: 'Internal Server Error'}})
  })

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      success: false,
      error: {message: `Route ${request.method} ${request.url.split('?')[0]} not found: alerts go to POST /alerts`},
    }),
  )

  // Shutdown drains requests in flight (a notification may be waiting out a 429). Their answers
  // say `Connection: close`, or the caller's keep-alive socket would hold close() open forever.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })

  // Probes come every few seconds (the kubelet, keda-lab dev's start-up): their request lines
  // would bury the alerts in the log at info, so they are logged from warn (a failure) only.
  const probe = {logLevel: 'warn' as const}
  app.get('/healthz', probe, async () => ({status: 'ok'}))
  // No dependency makes the webhook unready: an unreachable Telegram is answered with 5xx per
  // request (so Alertmanager retries), not by taking the pod out of its Service.
  app.get('/readyz', probe, async () => ({status: 'ok'}))

  const updates = options.telegramUpdates
  if (updates) {
    app.post('/telegram/updates', {bodyLimit: 256 * 1024}, async (request, reply) => {
      const presented = request.headers['x-telegram-bot-api-secret-token']
      if (typeof presented !== 'string' || !tokensMatch(presented, updates.secretToken)) {
        request.log.warn({ip: request.ip}, 'rejected a Telegram update without the secret token')
        return reply.code(401).send({success: false, error: {message: 'Missing or wrong X-Telegram-Bot-Api-Secret-Token'}})
      }
      const update = request.body as TelegramUpdate | undefined
      if (!update || typeof update !== 'object' || typeof update.update_id !== 'number') {
        return reply.code(400).send({success: false, error: {message: 'Invalid update: expected a Telegram Update object with update_id'}})
      }
      // Telegram redelivers on a non-2xx answer; a failure is logged and answered 200 (a press is single-use anyway).
      await updates.handle(update).catch((error: unknown) => request.log.error({error: describeError(error, secrets)}, 'Telegram update failed'))
      return {success: true}
    })
  }

  await app.register(webhookPlugin, {
    webhookToken: options.webhookToken,
    notifier: options.notifier,
    metrics,
    chatIds: options.chatIds,
    format: options.format,
    store: options.store,
    interactions: options.interactions,
  })
  return app
}

/** The Fastify instance buildApp returns. */
export type WebhookApp = Awaited<ReturnType<typeof buildApp>>
