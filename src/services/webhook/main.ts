import {pino} from 'pino'

import {KedaLabError} from '../../errors.js'
import {buildApp} from './app.js'
import {loadWebhookConfig} from './config.js'
import {type MetricsServer, startMetricsServer} from '../shared/metrics-server.js'
import {createWebhookMetrics} from './metrics.js'
import {createTelegramNotifier} from './notifier.js'
import {describeError} from './redact.js'

/**
 * `keda-lab serve webhook`: env → config → Telegram notifier → app → listen (alerts on PORT,
 * metrics on METRICS_PORT) → wait for SIGTERM/SIGINT → drain and close. Resolves once stopped.
 * A bad environment throws a ConfigError, which the command prints as one line plus a fix.
 */
export async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadWebhookConfig(env)
  const secrets = [config.telegram.botToken, config.webhookToken]
  const logger = pino({
    level: config.logLevel,
    base: {service: 'webhook'},
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: nothing logs headers today, but an Authorization header must never be printed.
    redact: {paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], censor: '[REDACTED]'},
  })
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
  const app = await buildApp({webhookToken: config.webhookToken, notifier, metrics, logger, secrets})

  let metricsServer: MetricsServer | undefined
  try {
    await app.listen({port: config.port, host: config.host})
    metricsServer = await startMetricsServer({registry: metrics.registry, host: config.host, port: config.metricsPort, logger})
  } catch (error) {
    await app.close()
    const code = (error as {code?: string}).code
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const which = app.server.listening || metricsServer ? 'METRICS_PORT' : 'PORT'
      const port = which === 'PORT' ? config.port : config.metricsPort
      throw new KedaLabError(`cannot listen on ${config.host}:${port} (${which}): ${code}`, {
        hint: `free the port or choose another one, like ${which}=${port + 1}`,
      })
    }
    throw error
  }

  logger.info(
    {port: config.port, metricsPort: config.metricsPort, chats: config.telegram.chatIds.length, telegramApi: config.telegram.apiUrl},
    'webhook listening: POST /alerts, POST /webhooks/max-workers-reached; metrics on GET /metrics',
  )
  // Checks the token without blocking start-up: Telegram may be unreachable for a while, and
  // alerts are accepted (and answered 5xx so Alertmanager retries) meanwhile.
  notifier.getMe().then(
    (me) => logger.info({bot: me.username ?? me.id}, 'Telegram accepted the bot token'),
    (error: unknown) => logger.warn({}, `Telegram getMe failed; check TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL: ${describeError(error, secrets)}`),
  )

  // Never crash on a stray rejection; log it (scrubbed) and keep serving.
  const onUnhandled = (reason: unknown) => logger.error({}, `unhandled rejection: ${describeError(reason, secrets)}`)
  process.on('unhandledRejection', onUnhandled)

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop)
      process.off('SIGINT', stop)
      logger.info({signal}, 'shutting down: finishing requests in flight')
      // Fastify's close() stops accepting, answers 503 to new requests and waits for those in
      // flight, which end within the retry budget; past that, whatever is left is cut.
      const hardStop = setTimeout(() => {
        logger.warn({}, 'requests still open after the retry budget: closing their connections')
        app.server.closeAllConnections()
        metricsServer?.closeAllConnections()
      }, config.telegram.retryBudgetMs + 5000)
      hardStop.unref()
      Promise.allSettled([app.close(), metricsServer?.close()]).then(() => {
        clearTimeout(hardStop)
        process.off('unhandledRejection', onUnhandled)
        logger.info({}, 'webhook stopped')
        resolve()
      })
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
}
