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

/**
 * The exit code of every command that needs a cluster and has none: no kubeconfig, no current
 * context, or an API server that does not answer. `status` documents it as "the cluster cannot
 * be reached"; scripts can tell it apart from a failure of the command itself (1).
 */
export const EXIT_NO_CLUSTER = 4

/** There is no cluster to talk to (see EXIT_NO_CLUSTER); `reason` tells a missing kubeconfig from a silent API server. */
export class NoClusterError extends KedaLabError {
  readonly reason: 'no-kubeconfig' | 'no-context' | 'unreachable'

  constructor(message: string, options: {reason: NoClusterError['reason']; hint?: string; cause?: unknown}) {
    super(message, {hint: options.hint, cause: options.cause, exitCode: EXIT_NO_CLUSTER})
    this.name = 'NoClusterError'
    this.reason = options.reason
  }
}
