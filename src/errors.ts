/**
 * An error the user can act on: what happened, and how to fix it.
 * The base command prints `message` and `hint` as two lines, never a stack trace.
 */
export class KedaLabError extends Error {
  readonly hint?: string
  readonly exitCode: number

  constructor(message: string, options: {hint?: string; exitCode?: number; cause?: unknown} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'KedaLabError'
    this.hint = options.hint
    this.exitCode = options.exitCode ?? 1
  }
}

/** A configuration value (environment variable, flag or values file) is missing or wrong. */
export class ConfigError extends KedaLabError {
  constructor(message: string, hint?: string) {
    super(message, {hint, exitCode: 78}) // EX_CONFIG
    this.name = 'ConfigError'
  }
}

export function isKedaLabError(error: unknown): error is KedaLabError {
  return error instanceof KedaLabError
}
