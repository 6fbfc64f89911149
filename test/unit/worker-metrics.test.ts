import {afterEach, describe, expect, it} from 'vitest'

import {KedaLabError} from '../../src/errors.js'
import {type MetricsServer, startMetricsServer} from '../../src/services/shared/metrics-server.js'
import {createWorkerMetrics} from '../../src/services/worker/metrics.js'

describe('worker metrics endpoint', () => {
  const servers: MetricsServer[] = []
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()))
  })

  it('serves its own registry on /metrics with every series present from the start, and /healthz', async () => {
    const metrics = createWorkerMetrics({concurrency: 3})
    const server = await startMetricsServer({registry: metrics.registry, port: 0, host: '127.0.0.1'})
    servers.push(server)
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`)
    expect(response.headers.get('content-type')).toContain('text/plain')
    const body = await response.text()
    for (const result of ['completed', 'failed', 'handed_back']) {
      expect(body).toContain(`keda_lab_worker_tasks_processed_total{result="${result}"} 0`)
      expect(body).toContain(`keda_lab_worker_task_duration_seconds_count{result="${result}"} 0`)
    }
    expect(body).toMatch(/^keda_lab_worker_busy 0$/m)
    expect(body).toMatch(/^keda_lab_worker_concurrency 3$/m)
    expect(body).toContain('process_cpu_user_seconds_total')
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${server.port}/nope`)).status).toBe(404)
    // Two workers in one process (tests, `dev`) do not share series.
    const other = createWorkerMetrics({concurrency: 1})
    other.processed.inc({result: 'completed'})
    expect(await metrics.registry.getSingleMetricAsString('keda_lab_worker_tasks_processed_total')).toContain('{result="completed"} 0')
  })

  it('turns a busy port into one actionable error', async () => {
    const metrics = createWorkerMetrics({concurrency: 1})
    const first = await startMetricsServer({registry: metrics.registry, port: 0, host: '127.0.0.1'})
    servers.push(first)
    const error = await startMetricsServer({registry: metrics.registry, port: first.port, host: '127.0.0.1'}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KedaLabError)
    expect((error as KedaLabError).message).toBe(`METRICS_PORT ${first.port} is already in use on 127.0.0.1`)
    expect((error as KedaLabError).hint).toMatch(/METRICS_PORT=0/)
  })
})
