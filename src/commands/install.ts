import {Flags} from '@oclif/core'

import {ClusterCommand} from '../base-command.js'
import {answerFlags, chartSourceFlags, valuesFlag} from '../lab/install/flags.js'

export default class Install extends ClusterCommand {
  static override summary = 'Install the KEDA autoscaling lab into a Kubernetes cluster (a second run upgrades it)'
  static override description =
    `Installs KEDA, Redis with Sentinels, monitoring (Prometheus, Alertmanager, Grafana, Loki, Alloy) and the keda-lab application, after pre-flight checks. Asks its questions in a terminal; every answer is also a flag, a KEDA_LAB_* variable and a --values key (precedence: flag > env > --values > prompt > default). Without a terminal it never prompts. Generated secrets (Redis password, webhook token, Grafana admin password) are kept across runs; KEDA_LAB_REDIS_PASSWORD, KEDA_LAB_WEBHOOK_TOKEN and KEDA_LAB_GRAFANA_ADMIN_PASSWORD set them instead.`

  static override examples = [
    '<%= config.bin %> install',
    '<%= config.bin %> install --yes --telegram-token $TOKEN --telegram-chat-id 123456789',
    '<%= config.bin %> install --yes --no-webhook --no-monitoring --no-redis-persistence',
    '<%= config.bin %> install --values lab.yaml --dry-run',
    '<%= config.bin %> install --image ghcr.io/you/keda-lab:0.1.0 --expose Ingress --ingress-host lab.example.com',
    '<%= config.bin %> install --charts ./charts   # charts from `keda-lab charts pull ./charts`, no chart repository needed',
  ]

  static override flags = {
    ...answerFlags(),
    values: valuesFlag,
    ...chartSourceFlags,
    output: Flags.string({char: 'o', description: 'Folder for the rendered values files (default: ./.keda-lab/<context>)', env: 'KEDA_LAB_OUTPUT'}),
    'dry-run': Flags.boolean({
      description: 'Print the exact plan (commands and rendered files, secrets masked) and change nothing',
      env: 'KEDA_LAB_DRY_RUN',
      default: false,
    }),
  }

  async run() {
    const {flags} = await this.parse(Install)
    const {runInstall} = await import('../lab/install/run.js')
    const {chartRepoValues} = await import('../lab/chart-sources.js')
    const {canPrompt, createPrompter} = await import('../ui/prompts.js')
    const json = this.jsonEnabled()
    const interactive = canPrompt({yes: flags.yes, json})
    return runInstall({
      flags,
      env: process.env,
      namespace: flags.namespace,
      monitoringNamespace: flags['monitoring-namespace'],
      context: flags.context,
      yes: flags.yes,
      json,
      dryRun: flags['dry-run'],
      valuesPath: flags.values,
      output: flags.output,
      chartsDir: flags.charts,
      chartRepos: chartRepoValues(flags['chart-repo'], process.env),
      cwd: process.cwd(),
      prompter: interactive ? await createPrompter() : undefined,
      mode: json ? 'silent' : process.stdout.isTTY ? 'tty' : 'plain',
      log: (text) => this.log(text),
    })
  }
}
