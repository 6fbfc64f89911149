import {type DestinationStream, type Logger, pino} from 'pino'

import {isoTimestamp} from './clock.js'

/** Options of createServiceLogger. */
export interface ServiceLoggerOptions {
  /** `service` field of every line (api, worker, webhook). */
  service: string
  /** pino level name (LOG_LEVEL). */
  level: string
  /** Where lines go; stdout, written asynchronously, when omitted (tests pass a stream). */
  destination?: DestinationStream
}

/**
 * Where a password could sit in a logged object: the Redis configuration on its own, inside a
 * service's configuration, or ioredis options. Exact paths, not wildcards: pino runs a wildcard
 * redaction on every field of every line (measured here at about half the cost of a line), while
 * an exact path costs nothing unless a line carries that top-level key.
 */
export const REDACTED_PATHS = ['password', 'sentinelPassword', 'redis', 'config.redis', 'options', 'redisOptions'].flatMap((prefix) =>
  prefix === 'password' || prefix === 'sentinelPassword' ? [prefix] : [`${prefix}.password`, `${prefix}.sentinelPassword`],
)

/**
 * A service's JSON logger: ISO timestamps, the service name on each line, passwords redacted
 * (belt and braces: no configuration is logged whole), and lines written to stdout
 * asynchronously: a synchronous write(2) per line was the largest single cost of the API's add
 * route (bench/profile.ts). Lines written while a write is in flight go out together in the
 * next one; pino flushes what is left when the process exits.
 */
export function createServiceLogger(options: ServiceLoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: {service: options.service},
      // pino.stdTimeFunctions.isoTime's format, formatted once per millisecond (clock.ts).
      timestamp: isoTimestamp,
      redact: {paths: REDACTED_PATHS, censor: '[redacted]'},
    },
    options.destination ?? pino.destination({dest: 1, sync: false}),
  )
}
