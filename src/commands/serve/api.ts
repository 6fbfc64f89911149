import {BaseCommand} from '../../base-command.js'

export default class ServeApi extends BaseCommand {
  static override description =
    'Run the API service (Fastify): queues long CPU-bound tasks and reports their progress; metrics on a separate port. Configured only through environment variables (see the README).'

  static override examples = ['<%= config.bin %> <%= command.id %>']

  async run(): Promise<void> {
    await this.parse()
    const {main} = await import('../../services/api/main.js')
    await main(process.env)
  }
}
