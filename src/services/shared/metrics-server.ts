import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import type {Logger} from 'pino'
import type {Registry} from 'prom-client'

import {KedaLabError} from '../../errors.js'

/** A running metrics endpoint. */
export interface MetricsServer {
  port: number
  /** Stops listening and drops open connections (a scrape needs no draining). */
  close(): Promise<void>
  closeAllConnections(): void
}

/**
 * Serves `GET /metrics` from `registry` and `GET /healthz` (the process is up and its event
 * loop turns) on a port of its own, apart from the service's public port, so that the chart
 * can keep metrics inside the cluster. One for the API, the worker and the webhook.
 */
export async function startMetricsServer(options: {registry: Registry; host: string; port: number; logger?: Logger}): Promise<MetricsServer> {
  const {registry, logger} = options
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, {'content-type': 'application/json', allow: 'GET'}).end('{"error":"method not allowed"}')
    } else if (path === '/metrics') {
      registry
        .metrics()
        .then((body) => response.writeHead(200, {'content-type': registry.contentType}).end(body))
        .catch((error: unknown) => {
          logger?.error({err: error instanceof Error ? error.message : String(error)}, 'metrics collection failed')
          response.writeHead(500, {'content-type': 'text/plain'}).end('metrics unavailable\n')
        })
    } else if (path === '/healthz') {
      response.writeHead(200, {'content-type': 'application/json'}).end('{"ok":true}')
    } else {
      response.writeHead(404, {'content-type': 'application/json'}).end('{"error":"not found: metrics are at GET /metrics"}')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new KedaLabError(`METRICS_PORT ${options.port} is already in use on ${options.host}`, {
              hint: 'set METRICS_PORT to a free port (METRICS_PORT=0 picks one), or stop what uses it',
            })
          : new KedaLabError(`cannot serve metrics on ${options.host}:${options.port}: ${error.message}`, {
              hint: 'check the metrics host and METRICS_PORT',
            }),
      )
    })
    server.listen(options.port, options.host, () => {
      server.removeAllListeners('error')
      // After start-up an error is logged; the metrics endpoint never takes the service down.
      server.on('error', (error) => logger?.error({err: error.message}, 'metrics server error'))
      resolve()
    })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
    closeAllConnections: () => server.closeAllConnections(),
  }
}
