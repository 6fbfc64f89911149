import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type {TypeBoxTypeProvider} from '@fastify/type-provider-typebox'
import Fastify, {type FastifyError, type FastifyReply, type FastifyRequest, type FastifySchemaValidationError, LogController} from 'fastify'
import type {Logger} from 'pino'

import type {ApiConfig} from './config.js'
import type {ApiMetrics} from './metrics.js'
import {healthRoutes} from './routes/health.js'
import {legacyTaskRoutes} from './routes/legacy-tasks.js'
import {ErrorBody, errorBody} from './routes/schemas.js'
import {taskRoutes} from './routes/tasks.js'
import {RedisUnavailableError, type TaskStore} from './task-store.js'

/** The part of the configuration the routes use (task sizes). */
export interface AppConfig {
  task: Pick<ApiConfig['task'], 'defaultIterations' | 'maxIterations'>
}

/** What every route plugin receives (`metrics` is optional so tests can leave it out). */
export interface RouteDeps {
  config: AppConfig
  queue: TaskStore
  metrics?: ApiMetrics
}

/** Dependencies of buildApp: configuration, the task store (`queue`), optional metrics and logger. */
export interface BuildAppOptions extends RouteDeps {
  /** pino logger (JSON on stdout in production); silent when omitted. */
  logger?: Logger
  /** Largest accepted request body in bytes (default 1 MiB, then 413). */
  bodyLimit?: number
}

/** Version shown in the OpenAPI document. */
const API_VERSION = '1.0.0'

/**
 * Fastify's per-request lines ("incoming request", "request completed") at debug level: at
 * load they would drown the task lines (which carry taskId) at info. LOG_LEVEL=debug shows them.
 */
class DebugAccessLog extends LogController {
  override incomingRequest(request: Parameters<LogController['incomingRequest']>[0]): void {
    request.log.debug({req: request}, 'incoming request')
  }

  override requestCompleted(...[error, request, reply]: Parameters<LogController['requestCompleted']>): void {
    if (error) reply.log.error({res: reply, err: error, responseTime: reply.elapsedTime}, 'request errored')
    else request.log.debug({res: reply, responseTime: reply.elapsedTime}, 'request completed')
  }
}

/**
 * Turns Ajv's first error into one message naming the field, e.g.
 * "body.iterations must be <= 1000" or "body.colour is not a known field".
 */
function formatValidation(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0]
  if (!first) return new Error(`${dataVar} is invalid`)
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const field = path ? `${dataVar}.${path}` : dataVar
  const params = first.params as Record<string, unknown>
  if (first.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return new Error(`${field}.${params.additionalProperty} is not a known field`)
  }
  return new Error(`${field} ${first.message ?? 'is invalid'}`)
}

/** 404 body: anything under /api/tasks/ is an unknown task, the rest an unknown route. */
function notFoundBody(method: string, url: string) {
  const path = url.split('?')[0] ?? '/'
  if (path.startsWith('/api/tasks/')) return errorBody('Task not found.')
  const shown = path.length > 80 ? `${path.slice(0, 80)}…` : path
  return errorBody(`Route ${method} ${shown} not found. The API is described at /docs.`)
}

/**
 * Builds the API (legacy contract, modern API, queue and health routes, OpenAPI document at
 * `/openapi.json` and Swagger UI at `/docs`) without listening: tests call `inject()`,
 * `main()` calls `listen()`.
 */
export async function buildApp(options: BuildAppOptions) {
  const {config, queue, metrics} = options
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    logController: new DebugAccessLog(),
    // Answered by our own hook below, in the common error shape.
    return503OnClosing: false,
    ajv: {customOptions: {coerceTypes: false, removeAdditional: false, allErrors: false}},
    schemaErrorFormatter: formatValidation,
    // A parameter longer than the router accepts (a 10k-character "id") or a malformed
    // percent-encoding is, for the client, still an unknown task or route: 404 like the rest.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH' || error.code === 'FST_ERR_BAD_URL') {
        return reply.code(404).send(notFoundBody(request.method, request.url))
      }
      request.log.error({err: error}, 'request failed')
      return reply.code(500).send(errorBody('Internal Server Error'))
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.addSchema(ErrorBody)

  // An empty body with Content-Type: application/json means "no body" (POST /api/tasks takes
  // an optional one); anything else goes to Fastify's own parser (400 on invalid JSON, 413 when too large).
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', {parseAs: 'string'}, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') {
      done(null, undefined)
      return
    }
    parseJson(request, body as string, done)
  })

  let draining = false
  app.addHook('preClose', async () => {
    draining = true
  })
  // Callback-style hooks: they run on every request, and this avoids a promise per hook.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!draining) return done()
    reply.code(503).header('connection', 'close').send(errorBody('Service Unavailable: the API is shutting down.'))
  })

  if (metrics) {
    app.addHook('onResponse', (request, reply, done) => {
      metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
      done()
    })
  }

  let lastUnavailableLog = 0
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof RedisUnavailableError) {
      // One warning per few seconds, not one per request: an outage under load would flood the logs.
      const now = Date.now()
      if (now - lastUnavailableLog > 5000) {
        lastUnavailableLog = now
        request.log.warn({err: error.message}, 'Redis unavailable: answering 503')
      } else request.log.debug({err: error.message}, 'Redis unavailable: answering 503')
      return reply.code(503).header('retry-after', '1').send(errorBody('Service Unavailable: the task queue (Redis) is not reachable. Retry shortly.'))
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    if (status >= 500) {
      request.log.error({err: error}, 'request failed')
      return reply.code(status).send(errorBody('Internal Server Error'))
    }
    let message = error.message
    if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) message = `Invalid JSON body: ${error.message}`
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `Request body is too large (limit ${app.initialConfig.bodyLimit} bytes).`
    return reply.code(status).send(errorBody(message))
  })

  app.setNotFoundHandler((request, reply) => reply.code(404).send(notFoundBody(request.method, request.url)))

  // Swagger first: it documents the routes registered after it.
  await app.register(swagger, {
    // Name shared schemas by their $id ("ErrorBody") instead of "def-0" in the document.
    refResolver: {buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`)},
    openapi: {
      info: {
        title: 'keda-lab API',
        version: API_VERSION,
        description:
          'Queues CPU-bound tasks on BullMQ and reports their progress. Errors of every route have one shape: {"success": false, "error": {"message": "..."}}.',
      },
      tags: [
        {name: 'legacy', description: "The original system's contract, unchanged"},
        {name: 'tasks', description: 'Modern task API'},
        {name: 'queue', description: 'Queue state'},
        {name: 'health', description: 'Probes'},
      ],
    },
  })
  await app.register(swaggerUi, {routePrefix: '/docs'})
  app.get('/openapi.json', {schema: {hide: true}}, async () => app.swagger())

  const deps: RouteDeps = {config, queue, metrics}
  await app.register(legacyTaskRoutes, deps)
  await app.register(taskRoutes, deps)
  await app.register(healthRoutes, deps)
  return app
}

/** The Fastify instance buildApp returns. */
export type ApiApp = Awaited<ReturnType<typeof buildApp>>
