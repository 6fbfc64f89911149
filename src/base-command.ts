import {Command, Flags} from '@oclif/core'

import {isKedaLabError} from './errors.js'

/** What a command prints on stdout under `--json` when it fails (oclif's `{error: …}` shape). */
export interface JsonError {
  error: {name: string; message: string; hint?: string; exitCode: number}
}

/**
 * The one base command: one `catch()` that turns a KedaLabError into two lines for the
 * user (what happened, how to fix it) instead of a stack trace. Under `--json` oclif silences
 * stderr, so the same error is printed as a JSON object on stdout instead, with the same exit code.
 */
export abstract class BaseCommand extends Command {
  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (isKedaLabError(error)) {
      if (this.jsonEnabled()) {
        this.logJson(this.toErrorJson(error))
      } else {
        this.logToStderr(`Error: ${error.message}`)
        if (error.hint) this.logToStderr(`Fix: ${error.hint}`)
      }
      this.exit(error.exitCode)
    }
    // Anything else (a flag oclif could not parse, a bug): oclif prints it, as JSON under --json.
    return super.catch(error)
  }

  /**
   * The error object printed under `--json`, built field by field: oclif's default spreads every
   * enumerable field of the error (a parse error carries the whole CLI configuration), and an
   * error subclass may carry fields (a command line, a cause) that are not meant for output.
   */
  protected override toErrorJson(error: unknown): JsonError {
    const e = (error ?? {}) as Partial<Error> & {hint?: unknown; exitCode?: unknown; oclif?: {exit?: unknown}}
    const exitCode = isKedaLabError(error) ? error.exitCode : typeof e.oclif?.exit === 'number' ? e.oclif.exit : typeof e.exitCode === 'number' ? e.exitCode : 1
    const hint = isKedaLabError(error) ? error.hint : undefined
    return {error: {name: e.name ?? 'Error', message: String(e.message ?? error), ...(hint ? {hint} : {}), exitCode}}
  }
}

/**
 * Base of the commands that act on a cluster: shared `--namespace`, `--monitoring-namespace`,
 * `--context` and `--yes`, each with a KEDA_LAB_* environment variable, and `--json`.
 */
export abstract class ClusterCommand extends BaseCommand {
  static override enableJsonFlag = true

  static override baseFlags = {
    namespace: Flags.string({
      char: 'n',
      description: 'Namespace of the application',
      env: 'KEDA_LAB_NAMESPACE',
      default: 'keda',
      helpGroup: 'GLOBAL',
    }),
    context: Flags.string({
      description: 'kubeconfig context to use (default: the current context)',
      env: 'KEDA_LAB_CONTEXT',
      helpGroup: 'GLOBAL',
    }),
    'monitoring-namespace': Flags.string({
      description: 'Namespace of the monitoring stack',
      env: 'KEDA_LAB_MONITORING_NAMESPACE',
      default: 'keda-monitoring',
      helpGroup: 'GLOBAL',
    }),
    yes: Flags.boolean({
      char: 'y',
      description: 'Do not prompt: take defaults and confirm',
      env: 'KEDA_LAB_YES',
      default: false,
      helpGroup: 'GLOBAL',
    }),
  }
}
