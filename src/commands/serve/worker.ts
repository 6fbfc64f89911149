import {BaseCommand} from '../../base-command.js'

export default class ServeWorker extends BaseCommand {
  static override description =
    'Run a worker (BullMQ) that executes queued tasks; this is what KEDA scales. Configured only through environment variables (see the README).'

  static override examples = ['<%= config.bin %> <%= command.id %>']

  async run(): Promise<void> {
    await this.parse()
    const {main} = await import('../../services/worker/main.js')
    await main(process.env)
  }
}
