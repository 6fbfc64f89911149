import {Flags} from '@oclif/core'

import {ClusterCommand} from '../base-command.js'

export default class Doctor extends ClusterCommand {
  static override description =
    'Check a running lab: KEDA reaches Redis, Prometheus scrapes the services and loaded the alert rules, Grafana reaches its datasources, logs reach Loki, the Telegram token is valid, no namespace stuck in Terminating, no leftovers. Exits 1 when a check fails.'

  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json', '<%= config.bin %> doctor --context minikube -n keda']

  static override flags = {
    'telegram-api-url': Flags.string({
      description: 'Telegram Bot API root used to check the token',
      env: 'TELEGRAM_API_URL',
      default: 'https://api.telegram.org',
      hidden: true,
    }),
    'log-window': Flags.integer({description: 'Minutes of logs to look for in Loki', env: 'KEDA_LAB_LOG_WINDOW', default: 15, min: 1}),
  }

  async run() {
    const {flags} = await this.parse(Doctor)
    const [{createKube}, {createTelegram}, {createReleaseManager}, doctor, {formatCheckResult}] = await Promise.all([
      import('../adapters/kube/index.js'),
      import('../adapters/telegram.js'),
      import('../lab/uninstall/releases.js'),
      import('../lab/doctor/checks.js'),
      import('../ui/checks.js'),
    ])
    const report = await doctor.runDoctor(
      {
        kube: await createKube({context: flags.context}),
        releases: createReleaseManager({kubeContext: flags.context}),
        namespace: flags.namespace,
        monitoringNamespace: flags['monitoring-namespace'],
        telegram: createTelegram({apiUrl: flags['telegram-api-url']}),
        expectedAlerts: await doctor.loadExpectedAlerts(),
        services: doctor.DEFAULT_SERVICES,
        logWindowMs: flags['log-window'] * 60_000,
        stuckAfterMs: 120_000,
        now: Date.now,
      },
      (result) => this.log(formatCheckResult(result)),
    )
    if (!report.ok) {
      if (!this.jsonEnabled()) this.logToStderr(`${report.checks.filter((c) => c.status === 'fail').length} check(s) failed`)
      // Not this.exit(): under --json oclif would print the exit as an error object after the report.
      process.exitCode = report.exitCode
    }
    return report
  }
}
