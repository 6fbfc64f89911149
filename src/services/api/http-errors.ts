import {STATUS_CODES} from 'node:http'
import type {Socket} from 'node:net'

import type {FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError} from 'fastify'

import type {NotFound} from './route-deps.js'
import type {RouteTable} from './route-table.js'
import {errorBody} from './routes/schemas.js'
import {RedisUnavailableError} from './task-redis.js'

/**
 * Turns Ajv's first error into one message naming the field, e.g.
 * "body.iterations must be <= 1000" or "body.colour is not a known field".
 */
export function formatValidation(errors: FastifySchemaValidationError[], dataVar: string): Error {
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

const shorten = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…` : text)

/** 404 body: anything under /api/tasks/ is an unknown task, the rest an unknown route. */
export function notFoundBody(method: string, path: string) {
  if (path.startsWith('/api/tasks/')) return errorBody('Task not found.')
  return errorBody(`Route ${method} ${shorten(path)} not found. The API is described at /docs.`)
}

/** The answer to a request no route takes: 405 with `Allow` when `routes` knows the path under other methods, else 404. */
export function createNotFound(routes: Pick<RouteTable, 'match'>): NotFound {
  return (request, reply) => {
    const path = request.url.split('?')[0] ?? '/'
    const known = routes.match(path)
    // Sent as bytes with the type set: Fastify's router errors (a parameter over its length limit)
    // answer outside the hooks, so the app's content-type hook would not see them.
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
}

/**
 * Fastify's router errors: a parameter longer than the router accepts (a 10k-character "id") or a
 * malformed percent-encoding is, for the client, still an unknown task or route: 404 like the rest.
 */
export function createFrameworkErrors(notFound: NotFound) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH' || error.code === 'FST_ERR_BAD_URL') return notFound(request, reply)
    request.log.error({err: error}, 'request failed')
    return reply.code(500).send(errorBody('Internal Server Error'))
  }
}

/**
 * The API's one error handler: 503 with Retry-After while Redis is unavailable (logged once per
 * 5 s at warn, the rest at debug: an outage under load would flood the logs), 4xx with their
 * message, 5xx saying only "Internal Server Error" (the details go to the log).
 */
export function createErrorHandler(options: {bodyLimit: number; notFound: NotFound; now?: () => number}) {
  const now = options.now ?? Date.now
  let lastUnavailableLog = 0
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // No route has this path and method: what the request carried (a body Fastify could not
    // parse, a method such as QUERY that needs a Content-Type) does not matter, the route does.
    if (request.is404) return options.notFound(request, reply)
    if (error instanceof RedisUnavailableError) {
      const at = now()
      if (at - lastUnavailableLog > 5000) {
        lastUnavailableLog = at
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
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `Request body is too large (limit ${options.bodyLimit} bytes).`
    return reply.code(status).send(errorBody(message))
  }
}

/**
 * Node's HTTP parser refuses a request line or headers over its limit (16 KiB: a 100,000-character
 * task id) before Fastify sees the request; Fastify's default answer has its own shape. This one
 * answers in the API's error shape, over the raw socket as Node's parser leaves it.
 */
const answered = new WeakSet<Socket>()

/** Fastify's `clientErrorHandler`: the API's error shape for what Node's HTTP parser refuses. */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
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
