import {writeFileSync} from 'node:fs'

import {Args, Flags} from '@oclif/core'

import {ClusterCommand} from '../base-command.js'
import {KedaLabError} from '../errors.js'
import type {LoadSummary} from '../lab/loadtest/records.js'

const SHAPE = 'SHAPE (without --profile)'
const CHECK = 'THRESHOLDS'
const WHERE = 'WHERE IT RUNS'

export default class LoadTest extends ClusterCommand {
  static override summary = "Load the lab's API with the original load tests' profiles, watch it scale, and judge the run with thresholds"

  static override description =
    `Each iteration queues a task (POST /api/tasks/add), waits 2 s, then polls GET /api/tasks/status/:id every second until it is Completed, checking every answer. keda-lab's own engine (undici, HDR histograms; not k6).

Target: --target URL; else the keda-lab dev running on this machine; else the installed lab (its LoadBalancer address, or a port-forward opened for the run). The first line says which and why.

Exit codes: 0 ok, 99 a threshold failed, 130 stopped with Ctrl-C (the summary of what ran is still printed), 2 bad flags, 3 no target, 4 target unreachable.`

  static override examples = [
    '<%= config.bin %> loadtest --list',
    '<%= config.bin %> loadtest --profile ramp',
    "<%= config.bin %> loadtest --profile smoke --threshold 'checks>99.9%' --threshold 'add.p95<200ms'",
    '<%= config.bin %> loadtest --rate 5/s --duration 1m --max-vus 200',
    '<%= config.bin %> loadtest --stages "30s:10,1m:20,30s:0" --task-iterations 20000000',
    '<%= config.bin %> loadtest --profile backlog --time-scale 0.1 --out ./report',
    '<%= config.bin %> loadtest --profile shared-50 --runner cluster --parallel 4 --threshold "add.p95<200ms"',
    '<%= config.bin %> loadtest --profile ramp --export k6 ramp.js',
  ]

  static override args = {
    file: Args.string({description: 'With --export k6: the script to write', required: false}),
  }

  static override flags = {
    profile: Flags.string({char: 'p', description: 'A named profile (see --list)'}),
    list: Flags.boolean({description: 'List the profiles, one line each, and exit', default: false}),
    'profile-file': Flags.string({description: 'A profile in a YAML or JSON file (executor: ramping-vus, stages: …)'}),
    vus: Flags.integer({description: 'VUs (closed model)', min: 1, helpGroup: SHAPE}),
    iterations: Flags.integer({description: 'Iterations in all, shared by the VUs', min: 1, helpGroup: SHAPE}),
    rate: Flags.string({
      description: 'Open model: iterations started per second, e.g. 5/s (with --duration, or the start rate with --stages)',
      helpGroup: SHAPE,
    }),
    duration: Flags.string({description: 'How long, e.g. 30s, 2m', helpGroup: SHAPE}),
    stages: Flags.string({description: 'Ramp: "30s:10,1m:20" (VUs; rates like 30s:5/s with --rate)', helpGroup: SHAPE}),
    'max-vus': Flags.integer({description: 'Open model: iterations in flight at most; what cannot start is counted as dropped', min: 1, helpGroup: SHAPE}),
    'time-scale': Flags.string({description: "Multiply the profile's durations and the scenario's pauses (0.1: ten times shorter)"}),
    'task-iterations': Flags.integer({description: 'Task size: queue through the typed route POST /api/tasks {iterations}', min: 0}),
    threshold: Flags.string({
      char: 't',
      description: "Fail with exit code 99 unless this holds, e.g. 'add.p95<200ms', 'checks>99.9%', 'workers.max>=4'",
      multiple: true,
      helpGroup: CHECK,
    }),
    'abort-on-fail': Flags.boolean({description: 'Stop the run as soon as a threshold fails', default: false, helpGroup: CHECK}),
    target: Flags.string({description: 'The API URL (default: the running keda-lab dev, else the installed lab)'}),
    watch: Flags.string({
      description: "With --target: watch the scaling in the cluster (--namespace, --context) too, not only the API's queue",
      options: ['cluster'],
    }),
    shard: Flags.string({description: 'Run shard INDEX/COUNT of the load (its slice of the iterations or of the rate)'}),
    'watch-after': Flags.string({
      description: 'After the load, keep watching the scaling this long (stops once the queue is empty and workers are back)',
      default: '2m',
    }),
    'stop-grace': Flags.string({description: 'After Ctrl-C, how long iterations in flight get to finish before the summary', default: '3s'}),
    out: Flags.string({description: 'Write summary.json, the per-second time series and report.html to this folder'}),
    runner: Flags.string({
      description: "local: from this process; cluster: from inside the cluster, an Indexed Job of --parallel pods in the lab's image, merged into one report",
      options: ['local', 'cluster'],
      default: 'local',
      helpGroup: WHERE,
    }),
    parallel: Flags.integer({description: 'With --runner cluster: pods, each a slice of the iterations or of the rate', min: 1, default: 2, helpGroup: WHERE}),
    export: Flags.string({
      description: 'Write the profile as a k6 script to FILE instead of running it (keda-lab never runs k6)',
      options: ['k6'],
      helpGroup: WHERE,
    }),
  }

  async run(): Promise<LoadSummary | string[] | {file: string; profile: string}> {
    const {flags, args} = await this.parse(LoadTest)
    const {listProfiles} = await import('../lab/loadtest/profiles.js')
    if (flags.list) {
      for (const line of listProfiles()) this.log(line)
      return listProfiles()
    }
    const {runLoadTestCommand, prepareLoadTest, localRunDeps} = await import('../lab/loadtest/command.js')
    const [{describeScalingFacts}, {createReportWriter}, {summaryLines}, {createLoadTestView}, {wantsColor}] = await Promise.all([
      import('../lab/loadtest/facts.js'),
      import('../lab/loadtest/report.js'),
      import('../ui/loadtest-plain.js'),
      import('../ui/loadtest-view.js'),
      import('../ui/dev-log.js'),
    ])
    const timeScale = flags['time-scale'] === undefined ? undefined : Number(flags['time-scale'])
    const options = {
      ...{profile: flags.profile, profileFile: flags['profile-file'], vus: flags.vus, iterations: flags.iterations, rate: flags.rate, duration: flags.duration},
      ...{stages: flags.stages, maxVus: flags['max-vus'], timeScale, taskIterations: flags['task-iterations'], shard: flags.shard},
      ...{
        thresholds: flags.threshold ?? [],
        abortOnFail: flags['abort-on-fail'],
        watchAfter: flags['watch-after'],
        stopGrace: flags['stop-grace'],
        version: this.config.version,
      },
      target: {url: flags.target, namespace: flags.namespace, context: flags.context, watch: flags.watch as 'cluster' | undefined},
    }
    if (flags.export || args.file) {
      if (!flags.export || !args.file)
        throw new KedaLabError('--export k6 needs the script file after it', {hint: 'e.g. keda-lab loadtest --profile ramp --export k6 ramp.js', exitCode: 2})
      const {writeK6Export} = await import('../lab/loadtest/k6-export.js')
      const written = writeK6Export(options, args.file, {writeFile: (path, text) => writeFileSync(path, text)})
      this.log(`Wrote profile ${written.profile} as a k6 script: ${written.file}`)
      return written
    }
    const prepared = prepareLoadTest(options) // every flag checked before anything is opened
    const report = flags.out ? createReportWriter(flags.out) : undefined
    const json = this.jsonEnabled()
    const tty = !json && Boolean(process.stdout.isTTY)
    const view = createLoadTestView({
      mode: json ? 'json' : tty ? 'tty' : 'plain',
      write: (text) => process.stdout.write(text),
      columns: () => process.stdout.columns ?? 80,
      color: wantsColor(process.env, tty),
      profile: prepared.load.name,
      plannedS: prepared.plannedS,
    })
    // In a terminal a line printed during the run goes above the live frame (view.note), not into it.
    const info = (line: string) => (json ? process.stderr.write(`${line}\n`) : view.note(line))
    const stop = new AbortController()
    const onSigint = () => {
      if (stop.signal.aborted) process.exit(130) // the second Ctrl-C: at once
      stop.abort()
      info(`Stopping: no new iterations; those in flight get ${flags['stop-grace']}, then the summary of what ran (Ctrl-C again to quit at once).`)
    }
    process.on('SIGINT', onSigint)
    process.on('SIGTERM', onSigint)
    const cluster = async () => {
      const {runClusterLoadTest} = await import('../lab/loadtest/cluster-runner.js')
      const {createKube} = await import('../adapters/kube/index.js')
      const kube = await createKube({context: flags.context})
      return (await runClusterLoadTest({...options, parallel: flags.parallel, namespace: flags.namespace}, {kube, info, signal: stop.signal})).summary
    }
    const run = async () =>
      runLoadTestCommand(options, {
        ...(await localRunDeps()),
        info,
        signal: stop.signal,
        onRecord(record) {
          report?.record(record)
          view.update(record)
        },
      }).finally(() => view.stop())
    const summary = await (flags.runner === 'cluster' ? cluster() : run()).finally(() => {
      process.off('SIGINT', onSigint)
      process.off('SIGTERM', onSigint)
    })
    if (report) info(`Report: ${report.finish(summary).html}`)
    if (!json) for (const line of summaryLines(summary, describeScalingFacts(summary.scaling))) this.log(line)
    process.exitCode = summary.exitCode
    return summary
  }
}
