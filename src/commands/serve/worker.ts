import {BaseCommand} from '../../base-command.js'

export default class ServeWorker extends BaseCommand {
  static override description = 'Run a worker (BullMQ) that executes queued tasks; this is what KEDA scales. Configured only through environment variables (see the README).'

  static override examples = ['<%= config.bin %> <%= command.id %>']

  // The services read their whole configuration from the environment (validated at start-up).
  static override baseFlags = {}

  async run(): Promise<void> {
    const {main} = await import('../../services/worker/main.js')
    await main(process.env)
  }
}
