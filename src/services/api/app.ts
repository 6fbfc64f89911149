import type {TypeBoxTypeProvider} from '@fastify/type-provider-typebox'

import type {IncomingMessage, ServerResponse} from 'node:http'

import Fastify, {type FastifyBaseLogger, type FastifyInstance, type FastifyTypeProvider, LogController, type RawServerDefault} from 'fastify'
import type {Logger} from 'pino'

import {acceptEmptyJsonBody} from '../shared/json-body.js'
import {registerDocs} from './docs.js'
import {clientErrorHandler, createErrorHandler, createFrameworkErrors, createNotFound, formatValidation} from './http-errors.js'
import type {ApiMetrics} from './metrics.js'
import type {RouteDeps} from './route-deps.js'
import {createRouteTable} from './route-table.js'
import {healthRoutes} from './routes/health.js'
import {legacyTaskRoutes} from './routes/legacy-tasks.js'
import {ErrorBody, errorBody} from './routes/schemas.js'
import {taskRoutes} from './routes/tasks.js'

/** Dependencies of buildApp: configuration, the task store (`queue`), optional metrics and logger. */
export interface BuildAppOptions extends Omit<RouteDeps, 'notFound'> {
  /** pino logger (JSON on stdout in production); silent when omitted. */
  logger?: Logger
  /** Largest accepted request body in bytes (default 1 MiB, then 413). */
  bodyLimit?: number
}

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
 * JSON is UTF-8 by definition (RFC 8259 registers no charset parameter for application/json), and
 * the original system's clients compare the header with exactly `application/json`, as FastAPI
 * sends it. Fastify always appends `; charset=utf-8` to a serialized body, so this takes it off.
 */
const FASTIFY_JSON = 'application/json; charset=utf-8'

/**
 * The hooks every request passes: 503 once the app is closing (`return503OnClosing` is off so that
 * this answer has the API's error shape), the bare JSON content type, and the request metrics.
 * Callback-style hooks: they run on every request, and this avoids a promise per hook.
 */
export function addRequestHooks<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L, P>,
  metrics: Pick<ApiMetrics, 'observeRequest'> | undefined,
): void {
  let draining = false
  app.addHook('preClose', async () => {
    draining = true
  })
  app.addHook('onRequest', (_request, reply, done) => {
    if (!draining) return done()
    reply.code(503).header('connection', 'close').send(errorBody('Service Unavailable: the API is shutting down.'))
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (reply.getHeader('content-type') === FASTIFY_JSON) reply.header('content-type', 'application/json')
    done(null, payload)
  })
  if (metrics) {
    app.addHook('onResponse', (request, reply, done) => {
      metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
      done()
    })
  }
}

/**
 * Builds the API (legacy contract, modern API, queue and health routes, OpenAPI document at
 * `/openapi.json` and Swagger UI at `/docs`) without listening: tests call `inject()`,
 * `main()` calls `listen()`.
 */
export async function buildApp(options: BuildAppOptions) {
  const {config, queue, metrics} = options
  const bodyLimit = options.bodyLimit ?? 1024 * 1024
  const perRequestLogger = options.logger?.isLevelEnabled('debug') ?? false
  // Every route, as it is declared, so that a known path asked with another method is a 405.
  const routes = createRouteTable()
  const notFound = createNotFound(routes)
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit,
    clientErrorHandler,
    // A child logger per request (a `reqId` on its lines) only where the per-request lines are
    // logged (debug): at info a request logs at most one line (a queued task's id), and the
    // child cost more than that line (bench/profile.ts).
    childLoggerFactory: (logger, bindings, childOptions) => (perRequestLogger ? logger.child(bindings, childOptions) : logger),
    logController: new DebugAccessLog(),
    // Answered by our own hook (addRequestHooks), in the common error shape.
    return503OnClosing: false,
    ajv: {customOptions: {coerceTypes: false, removeAdditional: false, allErrors: false}},
    schemaErrorFormatter: formatValidation,
    frameworkErrors: createFrameworkErrors(notFound),
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.addSchema(ErrorBody)
  app.addHook('onRoute', (route) => routes.add(route.url, route.method))
  acceptEmptyJsonBody(app)
  addRequestHooks(app, metrics)
  app.setErrorHandler(createErrorHandler({bodyLimit, notFound}))
  app.setNotFoundHandler(notFound)

  // The document first: it documents the routes registered after it.
  await registerDocs(app)
  const deps: RouteDeps = {config, queue, metrics, notFound}
  await app.register(legacyTaskRoutes, deps)
  await app.register(taskRoutes, deps)
  await app.register(healthRoutes, deps)
  return app
}

/** The Fastify instance buildApp returns. */
export type ApiApp = Awaited<ReturnType<typeof buildApp>>
