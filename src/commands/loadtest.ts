import {writeFileSync} from 'node:fs'

import {Args, Flags} from '@oclif/core'

import {ClusterCommand} from '../base-command.js'
import type {LoadSummary} from '../lab/loadtest/records.js'

const SHAPE = 'SHAPE (without --profile)'
const CHECK = 'THRESHOLDS'
const WHERE = 'WHERE IT RUNS'

export default class LoadTest extends ClusterCommand {
  static override summary = "Load the lab's API with the original load tests' profiles, watch it scale, and judge the run with thresholds"

  static override description =
    `Each iteration queues a task (POST /api/tasks/add), waits 2 s, then polls GET /api/tasks/status/:id every second until it is Completed, checking every answer. keda-lab's own engine (its own HTTP/1.1 keep-alive client, HDR histograms; not k6).

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
    const [{loadtestCommand}, {summaryLines}, {createLoadTestView}, {wantsColor}] = await Promise.all([
      import('../lab/loadtest/command.js'),
      import('../ui/loadtest-plain.js'),
      import('../ui/loadtest-view.js'),
      import('../ui/dev-log.js'),
    ])
    const json = this.jsonEnabled()
    const tty = !json && Boolean(process.stdout.isTTY)
    const outcome = await loadtestCommand(
      {
        ...{list: flags.list, export: flags.export as 'k6' | undefined, exportFile: args.file, out: flags.out},
        ...{profile: flags.profile, profileFile: flags['profile-file'], vus: flags.vus, iterations: flags.iterations, rate: flags.rate},
        ...{duration: flags.duration, stages: flags.stages, maxVus: flags['max-vus'], taskIterations: flags['task-iterations'], shard: flags.shard},
        timeScale: flags['time-scale'] === undefined ? undefined : Number(flags['time-scale']),
        ...{thresholds: flags.threshold ?? [], abortOnFail: flags['abort-on-fail'], watchAfter: flags['watch-after'], stopGrace: flags['stop-grace']},
        ...{runner: flags.runner as 'local' | 'cluster', parallel: flags.parallel, version: this.config.version},
        target: {url: flags.target, namespace: flags.namespace, context: flags.context, watch: flags.watch as 'cluster' | undefined},
      },
      {
        createView: ({profile, plannedS}) => {
          const write = (text: string) => process.stdout.write(text)
          const view = createLoadTestView({
            mode: json ? 'json' : tty ? 'tty' : 'plain',
            write,
            columns: () => process.stdout.columns ?? 80,
            color: wantsColor(process.env, tty),
            profile,
            plannedS,
          })
          // Under --json stdout holds the summary alone: lines for people go to stderr.
          return json ? {...view, note: (line) => process.stderr.write(`${line}\n`)} : view
        },
        onInterrupt(handler) {
          process.on('SIGINT', handler)
          process.on('SIGTERM', handler)
          return () => {
            process.off('SIGINT', handler)
            process.off('SIGTERM', handler)
          }
        },
        exit: (code) => process.exit(code),
        writeFile: (path, text) => writeFileSync(path, text),
        stderr: (text) => process.stderr.write(text),
      },
    )
    if (outcome.kind === 'list') for (const line of outcome.lines) this.log(line)
    if (outcome.kind === 'export') this.log(`Wrote profile ${outcome.profile} as a k6 script: ${outcome.file}`)
    if (outcome.kind !== 'run') return outcome.kind === 'list' ? outcome.lines : {file: outcome.file, profile: outcome.profile}
    if (!json) for (const line of summaryLines(outcome.summary, outcome.scalingLines)) this.log(line)
    process.exitCode = outcome.summary.exitCode
    return outcome.summary
  }
}
