import {Args} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {chartRepoFlag} from '../../lab/install/flags.js'

export default class ChartsPull extends BaseCommand {
  static override summary = 'Download every pinned third-party chart into a folder, for installs without access to the chart repositories'
  static override description =
    `Runs \`helm pull --version <pin>\` for KEDA, redis-ha, kube-prometheus-stack, Loki and Alloy at the versions this keda-lab installs, and writes keda-lab-charts.json (versions and sha256 of the archives) beside them. Copy the folder to the machine that installs and run \`keda-lab install --charts DIR\`: install checks the versions against its pins and the archives against their digests.`

  static override examples = [
    '<%= config.bin %> charts pull ./charts',
    '<%= config.bin %> charts pull ./charts --chart-repo kedacore=https://mirror.example.com/kedacore',
  ]

  static override enableJsonFlag = true

  static override args = {
    dir: Args.string({description: 'Folder to write the chart archives and keda-lab-charts.json to (created if missing)', required: true}),
  }

  static override flags = {
    'chart-repo': chartRepoFlag,
  }

  async run() {
    const {args, flags} = await this.parse(ChartsPull)
    const {resolve} = await import('node:path')
    const {createHelm} = await import('../../adapters/helm.js')
    const {chartRepoValues, pullCharts} = await import('../../lab/chart-sources.js')
    const dir = resolve(args.dir)
    const manifest = await pullCharts({
      dir,
      chartRepos: chartRepoValues(flags['chart-repo'], process.env),
      helm: createHelm({env: process.env}),
      onChart: (c) => this.log(`${c.chart} ${c.version}  ${c.file}  sha256:${c.sha256}`),
    })
    this.log(`Pulled ${manifest.charts.length} charts into ${dir} (manifest: keda-lab-charts.json). Install with: keda-lab install --charts ${args.dir}`)
    return {dir, ...manifest}
  }
}
