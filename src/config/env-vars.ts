import {z} from 'zod'

/** A TCP port variable with a default; the default is also the example in the error line. */
export const portVar = (fallback: number) =>
  z.coerce
    .number({message: 'must be a number'})
    .int('must be a whole number')
    .min(1, 'must be between 1 and 65535')
    .max(65_535, 'must be between 1 and 65535')
    .default(fallback)
    .describe(String(fallback))

/** A whole-number variable within [min, max] (optionally of a unit, e.g. milliseconds), with a default. */
export const intVar = (min: number, max: number, fallback: number, unit?: string) => {
  const of = unit ? ` of ${unit}` : ''
  return z.coerce
    .number({message: `must be a number${of}`})
    .int(`must be a whole number${of}`)
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback)
    .describe(String(fallback))
}

/** The address a server binds to (all interfaces by default, as a pod needs). */
export const hostVar = () => z.string().trim().min(1, 'must not be empty').default('0.0.0.0').describe('0.0.0.0')

/** pino's log levels. */
export const logLevelVar = () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('info')
