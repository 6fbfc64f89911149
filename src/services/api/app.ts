import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type {TypeBoxTypeProvider} from '@fastify/type-provider-typebox'
import {readFileSync} from 'node:fs'
import {STATUS_CODES} from 'node:http'
import type {Socket} from 'node:net'
import {join} from 'node:path'

import Fastify, {type FastifyError, type FastifyReply, type FastifyRequest, type FastifySchemaValidationError, LogController} from 'fastify'
import type {Logger} from 'pino'

import {bundledAsset} from '../../config/package.js'
import {healthRoutes} from './routes/health.js'
import {legacyTaskRoutes} from './routes/legacy-tasks.js'
import {createRouteTable} from './route-table.js'
import {ErrorBody, errorBody} from './routes/schemas.js'
import {taskRoutes} from './routes/tasks.js'
import {type NotFound, OPTIONAL_BODY, type RouteDeps} from './route-deps.js'
import {RedisUnavailableError} from './task-redis.js'

/** Dependencies of buildApp: configuration, the task store (`queue`), optional metrics and logger. */
export interface BuildAppOptions extends Omit<RouteDeps, 'notFound'> {
  /** pino logger (JSON on stdout in production); silent when omitted. */
  logger?: Logger
  /** Largest accepted request body in bytes (default 1 MiB, then 413). */
  bodyLimit?: number
}

/**
 * Where Swagger UI's static files are. From the sources, in @fastify/swagger-ui's own folder (its
 * default); in the bundle that package is not installed, so its folder is copied into dist/ and
 * named here (the plugin's `baseDir` and `logo` options, meant for bundlers).
 */
function swaggerUiAssets(): {baseDir?: string; logo?: {type: string; content: Buffer}} {
  const bundled = bundledAsset('@fastify/swagger-ui/static')
  if (!bundled) return {}
  return {baseDir: bundled, logo: {type: 'image/svg+xml', content: readFileSync(join(bundled, 'logo.svg'))}}
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
function notFoundBody(method: string, path: string) {
  if (path.startsWith('/api/tasks/')) return errorBody('Task not found.')
  return errorBody(`Route ${method} ${shorten(path)} not found. The API is described at /docs.`)
}

const shorten = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…` : text)

/**
 * JSON is UTF-8 by definition (RFC 8259 registers no charset parameter for application/json), and
 * the original system's clients compare the header with exactly `application/json`, as FastAPI
 * sends it. Fastify always appends `; charset=utf-8` to a serialized body, so this takes it off.
 */
const FASTIFY_JSON = 'application/json; charset=utf-8'

/**
 * Node's HTTP parser refuses a request line or headers over its limit (16 KiB: a 100,000-character
 * task id) before Fastify sees the request; Fastify's default answer has its own shape. This one
 * answers in the API's error shape, over the raw socket as Node's parser leaves it.
 */
const answered = new WeakSet<Socket>()

function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return
  answered.add(socket)
  let status = 400
  let message = 'Malformed HTTP request.'
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 431
    message = 'The request line and headers are too large (16 KiB at most). Task ids are UUIDs: check the URL.'
  } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408
    message = 'The request was not received in time.'
  }
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = JSON.stringify(errorBody(message))
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
  // Read and drop what the client is still sending (the rest of a 100 KB URL): closing a socket
  // with unread input resets the connection, and the client would lose the answer.
  socket.resume()
  setTimeout(() => socket.destroy(), 5000).unref()
}

/**
 * Builds the API (legacy contract, modern API, queue and health routes, OpenAPI document at
 * `/openapi.json` and Swagger UI at `/docs`) without listening: tests call `inject()`,
 * `main()` calls `listen()`.
 */
export async function buildApp(options: BuildAppOptions) {
  const {config, queue, metrics} = options
  const perRequestLogger = options.logger?.isLevelEnabled('debug') ?? false
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    clientErrorHandler,
    // A child logger per request (a `reqId` on its lines) only where the per-request lines are
    // logged (debug): at info a request logs at most one line (a queued task's id), and the
    // child cost more than that line (bench/profile.ts).
    childLoggerFactory: (logger, bindings, childOptions) => (perRequestLogger ? logger.child(bindings, childOptions) : logger),
    logController: new DebugAccessLog(),
    // Answered by our own hook below, in the common error shape.
    return503OnClosing: false,
    ajv: {customOptions: {coerceTypes: false, removeAdditional: false, allErrors: false}},
    schemaErrorFormatter: formatValidation,
    // A parameter longer than the router accepts (a 10k-character "id") or a malformed
    // percent-encoding is, for the client, still an unknown task or route: 404 like the rest.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH' || error.code === 'FST_ERR_BAD_URL') return notFound(request, reply)
      request.log.error({err: error}, 'request failed')
      return reply.code(500).send(errorBody('Internal Server Error'))
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.addSchema(ErrorBody)

  // Every route, as it is declared, so that a known path asked with another method is a 405.
  const routes = createRouteTable()
  app.addHook('onRoute', (route) => routes.add(route.url, route.method))
  const notFound: NotFound = (request, reply) => {
    const path = request.url.split('?')[0] ?? '/'
    const known = routes.match(path)
    // Sent as bytes with the type set: Fastify's router errors (a parameter over its length limit)
    // answer outside the hooks, so the content-type hook below would not see them.
    const send = (code: number, body: object) =>
      reply
        .code(code)
        .header('content-type', 'application/json')
        .send(Buffer.from(JSON.stringify(body)))
    if (known && !known.methods.includes(request.method)) {
      const allow = known.methods.join(', ')
      reply.header('allow', allow)
      return send(405, errorBody(`Method ${request.method} is not allowed on ${shorten(path)}; use ${allow}.`))
    }
    return send(404, notFoundBody(request.method, path))
  }

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

  let lastUnavailableLog = 0
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // No route has this path and method: what the request carried (a body Fastify could not
    // parse, a method such as QUERY that needs a Content-Type) does not matter, the route does.
    if (request.is404) return notFound(request, reply)
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

  app.setNotFoundHandler(notFound)

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
    // @fastify/swagger marks every request body required; a route whose body is optional says so.
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject
      const {openapiObject} = document
      for (const operations of Object.values(openapiObject.paths ?? {})) {
        for (const operation of Object.values(operations as Record<string, Record<string, unknown>>)) {
          if (operation?.[OPTIONAL_BODY] !== true) continue
          delete operation[OPTIONAL_BODY]
          ;(operation.requestBody as {required?: boolean}).required = false
        }
      }
      return openapiObject
    },
  })
  // Swagger UI in a plugin of its own, so that one hook can point its Explore box at /openapi.json
  // (@fastify/swagger-ui hard-codes its own copy, /docs/json).
  await app.register(async (ui) => {
    ui.addHook('onSend', (request, _reply, payload, done) => {
      if (typeof payload === 'string' && request.url.endsWith('/swagger-initializer.js')) {
        done(null, payload.replace("url: resolveUrl('./json')", "url: new URL('/openapi.json', window.location.href).href"))
      } else done(null, payload)
    })
    await ui.register(swaggerUi, {routePrefix: '/docs', ...swaggerUiAssets()})
  })
  app.get('/openapi.json', {schema: {hide: true}}, async () => app.swagger())

  const deps: RouteDeps = {config, queue, metrics, notFound}
  await app.register(legacyTaskRoutes, deps)
  await app.register(taskRoutes, deps)
  await app.register(healthRoutes, deps)
  return app
}

/** The Fastify instance buildApp returns. */
export type ApiApp = Awaited<ReturnType<typeof buildApp>>
