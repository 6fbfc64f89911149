import type {Logger} from 'pino'
import {collectDefaultMetrics, Counter, Gauge, Histogram, Registry} from 'prom-client'

import {QUEUE_STATES, type TaskStore} from './task-store.js'

/** Which API queued a task (label of the tasks-enqueued counter). */
export type EnqueueApi = 'legacy' | 'modern'

/** The API's Prometheus metrics, in a registry of its own. */
export interface ApiMetrics {
  readonly registry: Registry
  /** Records one HTTP request; `route` is the route pattern (bounded cardinality), never the raw URL. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void
  taskEnqueued(api: EnqueueApi): void
}

/**
 * Metric names, for dashboards and alert rules:
 * - `keda_lab_api_http_request_duration_seconds{method,route,status_code}` histogram
 * - `keda_lab_api_tasks_enqueued_total{api}` counter
 * - `keda_lab_queue_jobs{queue,state}` gauge, read from Redis at scrape time
 * - `keda_lab_queue_workers{queue}` gauge, read from Redis at scrape time
 * - the default process metrics (`process_*`, `nodejs_*`)
 */
export function createApiMetrics(options: {queue: TaskStore; logger?: Logger}): ApiMetrics {
  const {queue, logger} = options
  const registry = new Registry()
  collectDefaultMetrics({register: registry})

  const duration = new Histogram({
    name: 'keda_lab_api_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const enqueued = new Counter({
    name: 'keda_lab_api_tasks_enqueued_total',
    help: 'Tasks queued by the API, by API (legacy = POST /api/tasks/add, modern = POST /api/tasks)',
    labelNames: ['api'] as const,
    registers: [registry],
  })
  new Gauge({
    name: 'keda_lab_queue_jobs',
    help: 'Jobs in the task queue per BullMQ state, read from Redis at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      // A failed read must not report stale depths as current: drop the series until Redis answers.
      this.reset()
      try {
        const counts = await queue.counts()
        for (const state of QUEUE_STATES) this.set({queue: queue.queueName, state}, counts[state])
      } catch (error) {
        logger?.debug({err: error instanceof Error ? error.message : String(error)}, 'queue depth not collected')
      }
    },
  })
  new Gauge({
    name: 'keda_lab_queue_workers',
    help: 'Workers connected to the task queue, read from Redis at scrape time',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      this.reset()
      try {
        this.set({queue: queue.queueName}, await queue.workers())
      } catch {
        // Redis down: no value rather than a wrong one.
      }
    },
  })
  // Pre-create the counter's series so that rate() sees the first increment.
  enqueued.inc({api: 'legacy'}, 0)
  enqueued.inc({api: 'modern'}, 0)

  // One child per label set, kept: observing through it skips hashing the labels on every request.
  const series = new Map<string, ReturnType<typeof duration.labels>>()

  return {
    registry,
    observeRequest(method, route, statusCode, seconds) {
      const key = `${method} ${statusCode} ${route}`
      let child = series.get(key)
      if (!child) {
        child = duration.labels({method, route, status_code: String(statusCode)})
        series.set(key, child)
      }
      child.observe(seconds)
    },
    taskEnqueued(api) {
      enqueued.inc({api})
    },
  }
}
