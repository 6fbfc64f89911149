import {createHash} from 'node:crypto'

import type {FastifyInstance} from 'fastify'
import {type Logger, pino} from 'pino'

import {describeRedis, redisOptions} from '../../adapters/redis.js'
import {KedaLabError} from '../../errors.js'
import {createAlertmanagerClient} from './alertmanager-client.js'
import {buildApp} from './app.js'
import {callbackKey} from './callback-data.js'
import {loadWebhookConfig} from './config.js'
import {createInteractions, type Interactions} from './interactions.js'
import {createMemoryMessageStore, createRedisMessageStore, type MessageStore} from './message-store.js'
import {type MetricsServer, startMetricsServer} from '../shared/metrics-server.js'
import {createWebhookMetrics, type WebhookMetrics} from './metrics.js'
import {createTelegramNotifier} from './notifier.js'
import {describeError} from './redact.js'
import {clusterStatusReader, statusReport} from './status.js'
import {createTelegramBot, type TelegramBot} from './telegram-bot.js'
import {type Poller, startPolling} from './updates.js'

type WebhookConfig = ReturnType<typeof loadWebhookConfig>

/**
 * Where message ids per alert and the labels behind buttons are kept: in Redis when configured
 * (survives a restart, shared by replicas), else in this process.
 */
export async function openMessageStore(
  config: Pick<WebhookConfig, 'redis' | 'retentionSeconds'>,
  logger: Pick<Logger, 'info' | 'warn'>,
  secrets: string[],
): Promise<{store: MessageStore; redis?: import('ioredis').Redis}> {
  if (!config.redis) return {store: createMemoryMessageStore(config.retentionSeconds)}
  const {Redis} = await import('ioredis')
  // Fail fast: remembering is best effort, an alert must not wait for an unreachable Redis.
  const redis = new Redis(redisOptions(config.redis, {maxRetriesPerRequest: 1, commandTimeout: 2000}))
  redis.on('error', (error: Error) => logger.warn({}, `Redis: ${describeError(error, secrets)}`))
  logger.info({redis: describeRedis(config.redis)}, 'message ids kept in Redis')
  return {store: createRedisMessageStore(redis, config.retentionSeconds), redis}
}

/**
 * Listens on PORT, then starts the metrics server; a port that is taken or not allowed becomes a
 * KedaLabError naming the variable to change (the app is closed first).
 */
export async function listenOrExplain(
  app: Pick<FastifyInstance, 'listen' | 'close' | 'server'>,
  startMetrics: () => Promise<MetricsServer>,
  config: Pick<WebhookConfig, 'host' | 'port' | 'metricsPort'>,
): Promise<MetricsServer> {
  let metricsServer: MetricsServer | undefined
  try {
    await app.listen({port: config.port, host: config.host})
    metricsServer = await startMetrics()
    return metricsServer
  } catch (error) {
    // Asked before the close: afterwards the app's server never listens, and a port error of the
    // metrics server would be named PORT. (startMetricsServer names METRICS_PORT in its own error.)
    const which = app.server.listening || metricsServer ? 'METRICS_PORT' : 'PORT'
    await app.close()
    const code = (error as {code?: string}).code
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const port = which === 'PORT' ? config.port : config.metricsPort
      throw new KedaLabError(`cannot listen on ${config.host}:${port} (${which}): ${code}`, {
        hint: `free the port or choose another one, like ${which}=${port + 1}`,
      })
    }
    throw error
  }
}

/**
 * How button presses and commands reach the webhook: long polling (under a lease shared through
 * Redis), or Telegram's own webhook pointed at TELEGRAM_WEBHOOK_URL. Returns the poller to stop.
 */
async function receiveUpdates(deps: {
  config: WebhookConfig
  bot: TelegramBot
  store: MessageStore
  interactions: Interactions
  updatesSecret: string
  logger: Logger
  secrets: string[]
}): Promise<Poller | undefined> {
  const {config, bot, logger, secrets} = deps
  if (config.telegram.updates === 'polling') {
    // getUpdates is refused while a Telegram webhook is set (an earlier run with a public URL).
    await bot.deleteWebhook().catch((error: unknown) => logger.warn({}, `deleteWebhook failed: ${describeError(error, secrets)}`))
    if (!config.redis)
      logger.warn({}, 'polling Telegram without Redis: run one replica only (Telegram allows one poller), or set REDIS_URL so replicas share a lease')
    return startPolling({
      bot,
      store: deps.store,
      handle: deps.interactions.handleUpdate,
      timeoutSeconds: config.telegram.pollTimeoutSeconds,
      logger,
      botToken: config.telegram.botToken,
    })
  }
  if (config.telegram.updates === 'webhook' && config.telegram.webhookUrl) {
    bot.setWebhook(config.telegram.webhookUrl, deps.updatesSecret).then(
      () => logger.info({url: config.telegram.webhookUrl}, 'Telegram sends button presses and commands to this webhook'),
      (error: unknown) => logger.error({}, `setWebhook failed; buttons will not work: ${describeError(error, secrets)}`),
    )
  }
  return undefined
}

/**
 * Resolves once SIGTERM or SIGINT came and everything is closed: Fastify's close() stops
 * accepting, answers 503 to new requests and waits for those in flight, which end within the
 * retry budget; past `hardStopAfterMs`, whatever is left is cut.
 */
function stopOnSignal(deps: {
  app: Pick<FastifyInstance, 'close' | 'server'>
  metricsServer: MetricsServer
  poller: Poller | undefined
  store: MessageStore
  logger: Pick<Logger, 'info' | 'warn'>
  hardStopAfterMs: number
}): Promise<void> {
  const {app, metricsServer, poller, store, logger} = deps
  return new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop)
      process.off('SIGINT', stop)
      logger.info({signal}, 'shutting down: finishing requests in flight')
      const hardStop = setTimeout(() => {
        logger.warn({}, 'requests still open after the retry budget: closing their connections')
        app.server.closeAllConnections()
        metricsServer.closeAllConnections()
      }, deps.hardStopAfterMs)
      hardStop.unref()
      Promise.allSettled([app.close(), metricsServer.close(), poller?.stop()])
        .then(() => store.close())
        .then(() => {
          clearTimeout(hardStop)
          resolve()
        })
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
}

/** The webhook's JSON logger; an Authorization header is never printed, whatever logs it. */
function webhookLogger(level: string): Logger {
  return pino({
    level,
    base: {service: 'webhook'},
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: nothing logs headers today, but an Authorization header must never be printed.
    redact: {paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], censor: '[REDACTED]'},
  })
}

/**
 * The buttons and commands in the chat, when Alertmanager's address is known and updates are on:
 * silences go to Alertmanager, `/status` reads Alertmanager, the queue and (with a cluster) the lab.
 */
function buttonsAndCommands(deps: {
  config: WebhookConfig
  bot: TelegramBot
  store: MessageStore
  redis: Parameters<typeof statusReport>[0]['redis']
  logger: Logger
  metrics: WebhookMetrics
}): Interactions | undefined {
  const {config, bot, store, redis, logger, metrics} = deps
  if (!config.alertmanagerUrl || config.telegram.updates === 'off') return undefined
  const alertmanager = createAlertmanagerClient(config.alertmanagerUrl)
  const lab = config.clusterStatus ? clusterStatusReader(config.clusterStatus) : undefined
  return createInteractions({
    bot,
    alertmanager,
    store,
    key: callbackKey(config.webhookToken),
    allowedChatIds: config.telegram.chatIds,
    maxAgeSeconds: config.callbackMaxAgeSeconds,
    logger,
    botToken: config.telegram.botToken,
    status: () => statusReport({alertmanager, redis, queueName: config.queueName, lab}),
    onOutcome: (kind, outcome) => metrics.telegramUpdates.inc({kind, outcome}),
  })
}

/**
 * `keda-lab serve webhook`: env → config → Telegram notifier → app → listen (alerts on PORT,
 * metrics on METRICS_PORT) → wait for SIGTERM/SIGINT → drain and close. Resolves once stopped.
 * A bad environment throws a ConfigError, which the command prints as one line plus a fix.
 */
export async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadWebhookConfig(env)
  const secrets = [config.telegram.botToken, config.webhookToken]
  const logger = webhookLogger(config.logLevel)
  const metrics = createWebhookMetrics()
  const notifier = createTelegramNotifier({
    botToken: config.telegram.botToken,
    chatIds: config.telegram.chatIds,
    apiUrl: config.telegram.apiUrl,
    timeoutMs: config.telegram.timeoutMs,
    retryBudgetMs: config.telegram.retryBudgetMs,
    maxAttempts: config.telegram.maxAttempts,
    dedupeWindowMs: config.telegram.dedupeWindowMs,
    logger,
    onDelivery: (result) => metrics.telegramMessages.inc({result}),
  })
  const {store, redis} = await openMessageStore(config, logger, secrets)

  const bot = createTelegramBot({botToken: config.telegram.botToken, apiUrl: config.telegram.apiUrl, timeoutMs: config.telegram.timeoutMs})
  const interactions = buttonsAndCommands({config, bot, store, redis, logger, metrics})
  // Telegram's secret_token allows [A-Za-z0-9_-]; derived from the webhook token so replicas agree.
  const updatesSecret = createHash('sha256').update(`keda-lab telegram updates\0${config.webhookToken}`).digest('hex')
  const app = await buildApp({
    webhookToken: config.webhookToken,
    notifier,
    metrics,
    logger,
    secrets,
    chatIds: config.telegram.chatIds,
    format: config.links,
    store,
    interactions,
    telegramUpdates: interactions && config.telegram.updates === 'webhook' ? {secretToken: updatesSecret, handle: interactions.handleUpdate} : undefined,
  })

  const metricsServer = await listenOrExplain(
    app,
    () => startMetricsServer({registry: metrics.registry, host: config.host, port: config.metricsPort, logger}),
    config,
  )

  logger.info(
    {
      port: config.port,
      metricsPort: config.metricsPort,
      chats: config.telegram.chatIds.length,
      telegramApi: config.telegram.apiUrl,
      buttons: config.telegram.updates,
      store: config.redis ? 'redis' : 'memory',
    },
    'webhook listening: POST /alerts, POST /webhooks/max-workers-reached; metrics on GET /metrics',
  )
  // Checks the token without blocking start-up: Telegram may be unreachable for a while, and
  // alerts are accepted (and answered 5xx so Alertmanager retries) meanwhile.
  notifier.getMe().then(
    (me) => logger.info({bot: me.username ?? me.id}, 'Telegram accepted the bot token'),
    (error: unknown) => logger.warn({}, `Telegram getMe failed; check TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL: ${describeError(error, secrets)}`),
  )

  const poller = interactions ? await receiveUpdates({config, bot, store, interactions, updatesSecret, logger, secrets}) : undefined

  // Never crash on a stray rejection; log it (scrubbed) and keep serving.
  const onUnhandled = (reason: unknown) => logger.error({}, `unhandled rejection: ${describeError(reason, secrets)}`)
  process.on('unhandledRejection', onUnhandled)

  await stopOnSignal({app, metricsServer, poller, store, logger, hardStopAfterMs: config.telegram.retryBudgetMs + 5000})
  process.off('unhandledRejection', onUnhandled)
  logger.info({}, 'webhook stopped')
}
