import {BaseCommand} from '../../base-command.js'

export default class ServeWebhook extends BaseCommand {
  static override description = 'Run the webhook that turns Alertmanager notifications into Telegram messages. Configured only through environment variables (see the README).'

  static override examples = ['<%= config.bin %> <%= command.id %>']

  // The services read their whole configuration from the environment (validated at start-up).
  static override baseFlags = {}

  async run(): Promise<void> {
    const {main} = await import('../../services/webhook/main.js')
    await main(process.env)
  }
}
