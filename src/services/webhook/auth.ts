import {createHash, timingSafeEqual} from 'node:crypto'

import type {onRequestAsyncHookHandler} from 'fastify'

/**
 * Compares a presented token with the expected one in constant time. Both are hashed first, so
 * `timingSafeEqual` always gets equal-length buffers and a wrong guess's length leaks nothing.
 */
export function tokensMatch(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest()
  const b = createHash('sha256').update(expected, 'utf8').digest()
  // The explicit length check keeps an empty expected token from ever matching an empty header.
  return timingSafeEqual(a, b) && expected.length > 0
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}

/** True when the request's Authorization header carries the expected bearer token. */
export function isAuthorized(header: string | string[] | undefined, expected: string): boolean {
  const token = bearerToken(header)
  return token !== undefined && tokensMatch(token, expected)
}

/** Which way a refused Authorization header failed (never its value): what the log says, to debug an Alertmanager http_config. */
export function rejectionReason(header: string | string[] | undefined): 'missing' | 'wrong token' | 'not a bearer token' {
  if (header === undefined) return 'missing'
  return /^bearer\s/i.test(String(header)) ? 'wrong token' : 'not a bearer token'
}

/**
 * The webhook's onRequest hook: 401 with `WWW-Authenticate` unless the request carries `token`.
 * onRequest runs before the body is read or parsed: an unauthenticated caller learns nothing
 * about what a valid payload looks like, and costs us no parsing.
 */
export function bearerAuthHook(token: string): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const header = request.headers.authorization
    if (isAuthorized(header, token)) return
    request.log.warn({ip: request.ip, auth: rejectionReason(header)}, 'rejected: missing or wrong bearer token')
    reply.header('www-authenticate', 'Bearer realm="keda-lab-webhook"')
    return reply.code(401).send({
      success: false,
      error: {message: 'Missing or wrong bearer token: send "Authorization: Bearer <WEBHOOK_TOKEN>"'},
    })
  }
}
