import type {z} from 'zod'

import {ConfigError} from '../errors.js'

/**
 * Validates `env` against a zod object schema whose keys are environment variable names.
 * The first problem becomes one ConfigError line naming the variable, what is wrong with
 * the value and an example (taken from the field's `.describe()` text).
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(env)
  if (result.success) return result.data
  const [issue] = result.error.issues
  if (!issue) throw new Error('zod reported a failed parse without an issue')
  const variable = String(issue.path[0] ?? '(environment)')
  const field = schema.shape[variable] as z.ZodType | undefined
  const example = field?.description
  const raw = env[variable]
  const got = raw === undefined ? 'is not set' : `is ${JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw)}`
  // Secrets never go into error messages: only say that the value is wrong.
  const shown = /PASSWORD|TOKEN|SECRET/.test(variable) && raw !== undefined ? 'has an invalid value' : got
  throw new ConfigError(`${variable} ${shown}: ${issue.message}`, example ? `set it like ${variable}=${example}` : undefined)
}
