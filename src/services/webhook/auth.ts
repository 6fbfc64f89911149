import {createHash, timingSafeEqual} from 'node:crypto'

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
