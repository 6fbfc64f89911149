import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client'

/** How a task attempt ended, as counted by keda_lab_worker_tasks_processed_total. */
export type TaskResult = 'completed' | 'failed' | 'handed_back'

/** The worker's Prometheus metrics, in a registry of its own. */
export interface WorkerMetrics {
  registry: Registry
  /** Seconds a task attempt ran, by result. */
  duration: Histogram<'result'>
  /** Task attempts by result. */
  processed: Counter<'result'>
  /** Seconds from enqueue to the start of a task's first attempt. */
  wait: Histogram
  /** Tasks running right now in this worker (0..concurrency). */
  busy: Gauge
  /** Configured concurrency, so that busy / concurrency is the worker's utilisation. */
  concurrency: Gauge
}

/** Creates the worker's metrics (plus Node's default process metrics) in a fresh registry. */
export function createWorkerMetrics(options: {concurrency: number; registry?: Registry}): WorkerMetrics {
  const registry = options.registry ?? new Registry()
  collectDefaultMetrics({register: registry})
  const registers = [registry]
  const metrics: WorkerMetrics = {
    registry,
    duration: new Histogram({
      name: 'keda_lab_worker_task_duration_seconds',
      help: 'Time a task attempt ran in this worker, by result (completed, failed, handed_back)',
      labelNames: ['result'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 7.5, 10, 15, 30, 60, 120, 300],
      registers,
    }),
    processed: new Counter({
      name: 'keda_lab_worker_tasks_processed_total',
      help: 'Task attempts finished by this worker, by result (completed, failed, handed_back)',
      labelNames: ['result'],
      registers,
    }),
    wait: new Histogram({
      name: 'keda_lab_worker_task_wait_seconds',
      help: "Time from enqueue to the start of a task's first attempt",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300, 900],
      registers,
    }),
    busy: new Gauge({name: 'keda_lab_worker_busy', help: 'Tasks this worker is running now', registers}),
    concurrency: new Gauge({name: 'keda_lab_worker_concurrency', help: 'Tasks this worker may run at once', registers}),
  }
  for (const result of ['completed', 'failed', 'handed_back'] as const) {
    // Present from the start at 0, so that rate() and alerts see the series before the first task.
    metrics.processed.inc({result}, 0)
    metrics.duration.zero({result})
  }
  metrics.concurrency.set(options.concurrency)
  return metrics
}
