import {describeRedis} from '../../adapters/redis.js'
import {ConfigError, KedaLabError} from '../../errors.js'
import {buildApp} from './app.js'
import {loadApiConfig} from './config.js'
import {createServiceLogger} from '../shared/logger.js'
import {startMetricsServer} from '../shared/metrics-server.js'
import {createApiMetrics} from './metrics.js'
import {createTaskStore} from './task-store.js'

/** Longest a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000

/**
 * `keda-lab serve api`: validates the environment, connects to Redis, serves the API on PORT
 * and metrics on METRICS_PORT, and on SIGTERM/SIGINT stops taking requests, lets in-flight
 * ones finish, closes the queue and returns (exit code 0).
 *
 * A bad variable is thrown as a ConfigError whose message is one line (variable, problem,
 * example), which the command prints without a stack trace.
 */
export async function main(env: NodeJS.ProcessEnv): Promise<void> {
  let config: ReturnType<typeof loadApiConfig>
  try {
    config = loadApiConfig(env)
  } catch (error) {
    // One line: fold parseEnv's example into the message.
    if (error instanceof ConfigError && error.hint) throw new ConfigError(`${error.message}; ${error.hint}`)
    throw error
  }

  const logger = createServiceLogger({service: 'api', level: config.logLevel})

  const queue = createTaskStore({
    redis: config.redis,
    queueName: config.queueName,
    attempts: config.task.attempts,
    retentionSeconds: config.task.retentionSeconds,
    logger,
  })
  const metrics = createApiMetrics({queue, logger})
  const app = await buildApp({config, queue, logger, metrics})

  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>>
  try {
    await app.listen({host: config.host, port: config.port})
    metricsServer = await startMetricsServer({registry: metrics.registry, host: config.host, port: config.metricsPort, logger})
  } catch (error) {
    await app.close()
    await queue.close()
    if (error instanceof KedaLabError) throw error // the metrics server names METRICS_PORT itself
    const code = (error as NodeJS.ErrnoException).code
    const which = app.server.listening ? `METRICS_PORT ${config.metricsPort}` : `PORT ${config.port}`
    throw new KedaLabError(
      `cannot listen on ${config.host} (${which}): ${code === 'EADDRINUSE' ? 'address already in use' : String((error as Error).message)}`,
      {hint: 'set PORT and METRICS_PORT to free ports, or stop what is using them', cause: error},
    )
  }

  logger.info(
    {
      host: config.host,
      port: config.port,
      metricsPort: metricsServer.port,
      queue: config.queueName,
      redis: describeRedis(config.redis),
      taskIterations: config.task.defaultIterations,
      taskMaxIterations: config.task.maxIterations,
      taskAttempts: config.task.attempts,
      taskRetentionSeconds: config.task.retentionSeconds,
    },
    'API listening (docs at /docs, metrics at /metrics on the metrics port)',
  )

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'))
    process.once('SIGINT', () => resolve('SIGINT'))
  })
  logger.info({signal}, 'shutting down: draining requests, closing the queue')
  const force = setTimeout(() => {
    logger.error('shutdown took too long; exiting')
    process.exit(1)
  }, SHUTDOWN_TIMEOUT_MS)
  force.unref()
  await app.close()
  await metricsServer.close()
  await queue.close()
  clearTimeout(force)
  logger.info('stopped')
  logger.flush()
}
