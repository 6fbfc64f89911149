import {Flags} from '@oclif/core'

import {ClusterCommand} from '../../base-command.js'

export default class AlertTest extends ClusterCommand {
  static override description =
    'Send a test alert and report whether Telegram accepted it: through the installed Alertmanager (API server service proxy), or with --local through a running `keda-lab dev` webhook. --resolve follows with the resolved message. Exits 1 when Telegram did not accept it.'

  static override examples = [
    '<%= config.bin %> alert test',
    '<%= config.bin %> alert test --resolve --json',
    '<%= config.bin %> alert test --local http://127.0.0.1:34567',
  ]

  static override flags = {
    local: Flags.string({description: 'The webhook URL a running `keda-lab dev` prints (instead of the cluster)', env: 'KEDA_LAB_WEBHOOK_URL'}),
    'webhook-token': Flags.string({
      description: "The dev webhook's bearer token (with --local; default: the one in the running keda-lab dev's state file)",
      env: 'WEBHOOK_TOKEN',
    }),
    resolve: Flags.boolean({description: 'Follow with the resolved notification', default: false}),
    timeout: Flags.integer({description: 'Seconds to wait for Telegram to accept each message', env: 'KEDA_LAB_TIMEOUT', default: 60, min: 1}),
  }

  async run() {
    const {flags} = await this.parse(AlertTest)
    const {runAlertTest, describeAlertTest} = await import('../../lab/alert/test-alert.js')
    let target: Parameters<typeof runAlertTest>[0]['target']
    if (flags.local) {
      const [{resolveLocalWebhook}, {findDevStates}] = await Promise.all([import('../../lab/alert/local-target.js'), import('../../status/dev-state.js')])
      target = {kind: 'local', ...resolveLocalWebhook({url: flags.local, token: flags['webhook-token'], states: findDevStates(process.env)})}
    } else {
      const {createKube} = await import('../../adapters/kube/index.js')
      target = {
        kind: 'cluster',
        kube: await createKube({context: flags.context}),
        namespace: flags.namespace,
        monitoringNamespace: flags['monitoring-namespace'],
      }
    }
    const result = await runAlertTest({target, resolve: flags.resolve, timeoutMs: flags.timeout * 1000})
    for (const line of describeAlertTest(result)) this.log(line)
    // Not this.exit(1): under --json oclif would print the exit as an error object after the report.
    if (!result.ok) process.exitCode = 1
    return result
  }
}
