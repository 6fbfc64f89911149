import {ConfigError} from '../../src/errors.js'

/** The ConfigError a config loader throws for `env`; fails the test when it throws nothing. */
export function configErrorOf(load: (env: NodeJS.ProcessEnv) => unknown, env: NodeJS.ProcessEnv): ConfigError {
  try {
    load(env)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected a ConfigError')
}
