import {pino} from 'pino'

import {describeRedis} from '../../adapters/redis.js'
import {loadWorkerConfig} from './config.js'
import {startMetricsServer} from '../shared/metrics-server.js'
import {createWorkerMetrics} from './metrics.js'
import {createWorker} from './worker.js'

/** How long after the grace a stuck shutdown is cut short. */
const FORCED_EXIT_AFTER_GRACE_MS = 10_000

/**
 * `keda-lab serve worker`: validates the environment, starts the worker and its metrics
 * endpoint, and stops gracefully on SIGTERM (what Kubernetes and KEDA's scale-down send) or
 * SIGINT. A second signal hands the active tasks back at once instead of waiting for the grace.
 * Resolves when the worker has stopped.
 */
export async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadWorkerConfig(env)
  const logger = pino({
    level: config.logLevel,
    base: {service: 'worker', worker: config.name},
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: the config is never logged whole, but if it were, no password leaves.
    redact: {paths: ['password', 'sentinelPassword', '*.password', '*.sentinelPassword', '*.*.password'], censor: '[redacted]'},
  })
  const metrics = createWorkerMetrics({concurrency: config.concurrency})
  const server = await startMetricsServer({registry: metrics.registry, port: config.metricsPort, host: config.metricsHost, logger})
  const worker = createWorker({config, logger, metrics})

  let firstSignalAt: number | undefined
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (firstSignalAt !== undefined) {
        // Ctrl-C under `keda-lab dev` delivers SIGINT from the terminal and SIGTERM from dev at
        // the same moment: that is one request. A signal a second or more later is a second one.
        if (Date.now() - firstSignalAt < 1000) return
        logger.warn({signal}, 'second signal: handing back the active tasks now')
        worker.handBackNow()
        return
      }
      firstSignalAt = Date.now()
      logger.info({signal}, 'stop requested')
      // Last resort: if closing hangs (e.g. Redis is gone and a hand-back cannot be written),
      // exit anyway; a task left active is then recovered by another worker's stalled check.
      setTimeout(() => {
        logger.error({afterMs: config.shutdownGraceMs + FORCED_EXIT_AFTER_GRACE_MS}, 'shutdown did not finish in time; exiting')
        process.exit(1)
      }, config.shutdownGraceMs + FORCED_EXIT_AFTER_GRACE_MS).unref()
      worker
        .shutdown()
        .then(({handedBack}) => logger.info({handedBack}, 'worker stopped'))
        .catch((error: unknown) => logger.error({reason: String(error)}, 'worker did not stop cleanly'))
        .finally(() => server.close().then(resolve))
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })

  logger.info(
    {
      queue: config.queueName,
      redis: describeRedis(config.redis),
      concurrency: config.concurrency,
      metricsPort: server.port,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: config.stalledIntervalMs,
      shutdownGraceMs: config.shutdownGraceMs,
    },
    'worker starting',
  )
  worker
    .waitUntilReady()
    .then(() => logger.info('worker ready: waiting for tasks'))
    .catch(() => {
      // Errors are logged by the worker's error handler; it keeps reconnecting.
    })
  await stopped
  // Normally nothing is left and the process ends by itself. After dropping the connections of
  // an unreachable Redis, BullMQ's retry loop can linger; this unref'd timer only fires then.
  setTimeout(() => process.exit(0), 1000).unref()
}
