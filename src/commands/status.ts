import {Args, Flags} from '@oclif/core'

import {ClusterCommand} from '../base-command.js'
import {KedaLabError} from '../errors.js'
import type {StatusReport} from '../status/model.js'

export default class Status extends ClusterCommand {
  static override summary = 'One screen of the lab: components, autoscaling, queue and alerts, with a verdict'

  static override description =
    `Reads the cluster once: every component (KEDA, Redis and Sentinels, API, worker, webhook, Prometheus, Alertmanager, Grafana, Loki, Alloy) with ready/desired pods, restarts and version; the worker's ScaledObject and the last scaling of KEDA's HPA; the API's HPA; the queue from the API's /api/queue and the alerts firing now from Alertmanager (both through the API server's service proxy).

Exit codes: 0 healthy, 1 degraded (the reasons are listed), 3 not installed (or no keda-lab dev running, with --local), 4 the cluster or the dev API cannot be reached.

--local [URL] shows a keda-lab dev stack instead: its queue, workers and the autoscaler's decisions (without URL: the running dev stack found on this machine).`

  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --watch',
    '<%= config.bin %> status --json | jq .verdict',
    '<%= config.bin %> status --local',
    '<%= config.bin %> status --local http://127.0.0.1:8000',
  ]

  static override args = {
    url: Args.string({description: 'With --local: the API URL of a keda-lab dev stack (default: the one running on this machine)', required: false}),
  }

  static override flags = {
    watch: Flags.boolean({char: 'w', description: 'Refresh in place until Ctrl-C (plain lines when not a terminal)', default: false}),
    interval: Flags.integer({description: 'Seconds between refreshes with --watch', default: 2, min: 1, max: 3600}),
    local: Flags.boolean({description: 'Show a keda-lab dev stack on this machine instead of the cluster', default: false}),
  }

  async run(): Promise<StatusReport | undefined> {
    const {args, flags} = await this.parse(Status)
    if (flags.watch && this.jsonEnabled()) {
      throw new KedaLabError('--watch and --json cannot be combined', {hint: 'run `keda-lab status --json` in a loop instead', exitCode: 2})
    }
    if (args.url && !flags.local)
      throw new KedaLabError(`unexpected argument ${args.url}`, {hint: `for a keda-lab dev stack: keda-lab status --local ${args.url}`, exitCode: 2})
    const [{renderStatus}, {watchFrame}, {collectStatus}] = await Promise.all([
      import('../status/screen.js'),
      import('../ui/status.js'),
      import('../status/collect.js'),
    ])
    const collect = await collectStatus({
      local: flags.local,
      url: args.url,
      context: flags.context,
      namespace: flags.namespace,
      monitoringNamespace: flags['monitoring-namespace'],
    })
    if (!flags.watch) {
      const report = await collect()
      this.log(renderStatus(report))
      process.exitCode = report.exitCode
      return report
    }
    const {watchStatus} = await import('../status/watch.js')
    const tty = Boolean(process.stdout.isTTY)
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    const last = await watchStatus({
      collect,
      intervalMs: flags.interval * 1000,
      signal: stop.signal,
      // A dropped connection while watching is shown, not fatal: the next refresh may work.
      print: ({report, error, at}) => this.log(watchFrame(report ? renderStatus(report) : `keda-lab status: ${error?.message} (${at.toISOString()})`, tty)),
    }).finally(() => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    })
    process.exitCode = last?.exitCode ?? 4
    return undefined
  }
}
