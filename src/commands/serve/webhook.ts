import {BaseCommand} from '../../base-command.js'

export default class ServeWebhook extends BaseCommand {
  static override description =
    'Run the webhook that turns Alertmanager notifications into Telegram messages. Configured only through environment variables (see the README).'

  static override examples = ['<%= config.bin %> <%= command.id %>']

  async run(): Promise<void> {
    await this.parse()
    const {main} = await import('../../services/webhook/main.js')
    await main(process.env)
  }
}
