import {Command, Flags, Interfaces} from '@oclif/core'

import {isKedaLabError} from './errors.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

/**
 * The one base command: shared flags, and one `catch()` that turns a KedaLabError
 * into two lines for the user (what happened, how to fix it) instead of a stack trace.
 */
export abstract class BaseCommand extends Command {
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
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (isKedaLabError(error)) {
      this.logToStderr(`Error: ${error.message}`)
      if (error.hint) this.logToStderr(`Fix: ${error.hint}`)
      this.exit(error.exitCode)
    }
    return super.catch(error)
  }
}
