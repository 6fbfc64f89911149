import {Command, Flags, Interfaces} from '@oclif/core'

import {isKedaLabError} from './errors.js'

/**
 * The one base command: one `catch()` that turns a KedaLabError into two lines for the
 * user (what happened, how to fix it) instead of a stack trace.
 */
export abstract class BaseCommand extends Command {
  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (isKedaLabError(error)) {
      this.logToStderr(`Error: ${error.message}`)
      if (error.hint) this.logToStderr(`Fix: ${error.hint}`)
      this.exit(error.exitCode)
    }
    return super.catch(error)
  }
}

export type ClusterFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof ClusterCommand)['baseFlags'] & T['flags']>

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
