import {Flags} from '@oclif/core'

import {ClusterCommand} from '../base-command.js'
import {answerFlags, chartSourceFlags, valuesFlag} from '../lab/install/flags.js'

export default class Render extends ClusterCommand {
  static override summary = 'Write (or print) every manifest and values file `install` would apply, for GitOps'
  static override description =
    `Renders the keda-lab app chart with \`helm template\` and the values files of the third-party charts (KEDA, redis-ha, kube-prometheus-stack, Loki, Alloy) from the same answers as \`install\` (flags, KEDA_LAB_* variables, --values). Needs helm, not a cluster. Secrets are never rendered: the files reference the Secrets \`install\` creates.`

  static override examples = [
    '<%= config.bin %> render',
    '<%= config.bin %> render --output gitops/keda-lab --values lab.yaml',
    '<%= config.bin %> render --stdout --no-monitoring --no-webhook',
  ]

  static override flags = {
    ...answerFlags(),
    values: valuesFlag,
    ...chartSourceFlags,
    output: Flags.string({char: 'o', description: 'Folder to write to (default: ./.keda-lab/render)', env: 'KEDA_LAB_OUTPUT', exclusive: ['stdout']}),
    stdout: Flags.boolean({description: 'Print everything to stdout instead of writing files', default: false}),
  }

  async run() {
    const {flags} = await this.parse(Render)
    const {runRender} = await import('../lab/install/render-manifests.js')
    const {chartRepoValues} = await import('../lab/chart-sources.js')
    return runRender({
      flags,
      env: process.env,
      namespace: flags.namespace,
      monitoringNamespace: flags['monitoring-namespace'],
      valuesPath: flags.values,
      output: flags.output,
      stdout: flags.stdout,
      chartsDir: flags.charts,
      chartRepos: chartRepoValues(flags['chart-repo'], process.env),
      cwd: process.cwd(),
      log: (text) => this.log(text),
    })
  }
}
