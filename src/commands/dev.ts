import {Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {KedaLabError} from '../errors.js'
import {MAX_TASK_ITERATIONS} from '../services/shared/tasks.js'

const AUTOSCALE = 'AUTOSCALE (local imitation of KEDA)'
const TELEGRAM = 'TELEGRAM (starts the webhook)'

export default class Dev extends BaseCommand {
  static override summary = 'Run the whole lab on this machine: Redis, the API, workers and the webhook, without a cluster'

  static override description =
    `Starts redis-server on a free port (unless --redis-url), the API, N workers and, when a Telegram bot token is set, the alert webhook, as child processes; prints their URLs and streams their logs prefixed with [redis], [api], [worker-1]…; Ctrl-C (or SIGTERM, SIGHUP, or the process that started it going away) stops everything it started and says how many queued tasks a temporary Redis took with it (--data-dir keeps them).

A child that exits on its own is restarted the same way (same port and name), saying why: a crashed worker comes back, and while Redis restarts the API stays up and answers 503 (the local Redis keeps an append-only file in a temporary folder, so the queue survives). The first restart is immediate, then after 1, 2, 4, 8 s; a child that exits during start-up, or more than 5 times within 60 s, stops the whole run with a message naming it.

--autoscale adds and removes local worker processes by the rule the chart's ScaledObject gives KEDA: desired = ceil((LLEN bull:<queue>:wait + LLEN bull:<queue>:active) / --tasks-per-worker), within [--min-workers, --max-workers], checked every --polling-interval; scale-up and scale-down follow the HPA behaviour install gives KEDA's HPA (--worker-scale-up, --worker-scale-down: windows and policies, Kubernetes' defaults when not given, so a scale-down waits 300 s unless e.g. --worker-scale-down window=30s) and goes to zero (with --min-workers 0) only after the queue was idle for --cooldown; removed workers get SIGTERM. It is a local imitation of KEDA for seeing the idea work, not a replacement for it.`

  static override examples = [
    {description: 'API on :8000, one worker, a local Redis', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Three workers on an existing Redis', command: '<%= config.bin %> <%= command.id %> --workers 3 --redis-url redis://127.0.0.1:6379'},
    {
      description: 'Autoscale between 1 and 4 workers, 2 tasks per worker, back down after 30 s instead of 300 s',
      command: '<%= config.bin %> <%= command.id %> --autoscale --min-workers 1 --max-workers 4 --tasks-per-worker 2 --worker-scale-down window=30s',
    },
    {
      description: 'Small tasks (about a second each) and alerts to Telegram',
      command: 'TELEGRAM_BOT_TOKEN=… <%= config.bin %> <%= command.id %> --task-iterations 20000000 --telegram-chat-ids 123456789',
    },
  ]

  static override flags = {
    workers: Flags.integer({char: 'w', description: 'Worker processes to start (with --autoscale: --min-workers instead)', default: 1, min: 0, max: 64}),
    'redis-url': Flags.string({description: 'Use this Redis (redis://[:password@]host:port) instead of starting redis-server', exclusive: ['data-dir']}),
    'data-dir': Flags.string({
      description:
        "Folder for the local Redis's append-only file, kept across runs (created if missing); without it the queue lives in a temporary folder removed at the end",
    }),
    'api-port': Flags.integer({description: 'Port of the API (0 picks a free one)', env: 'KEDA_LAB_API_PORT', default: 8000, min: 0, max: 65_535}),
    queue: Flags.string({description: 'BullMQ queue name', default: 'tasks'}),
    'task-iterations': Flags.integer({
      description:
        'Task size for this run (TASK_ITERATIONS of the API and workers); 20000000 takes about a second of one core here, the default 100000000 about five',
      min: 0,
      max: MAX_TASK_ITERATIONS,
    }),
    'log-level': Flags.option({
      options: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
      description: 'Log level of the services',
      default: 'info',
    })(),
    autoscale: Flags.boolean({description: 'Scale local workers by the queue length, like KEDA', default: false, helpGroup: AUTOSCALE}),
    'min-workers': Flags.integer({description: 'Fewest workers (0 allows scale to zero)', default: 1, min: 0, max: 64, helpGroup: AUTOSCALE}),
    'max-workers': Flags.integer({description: 'Most workers', default: 5, min: 1, max: 64, helpGroup: AUTOSCALE}),
    'tasks-per-worker': Flags.integer({
      description: 'Waiting+active tasks per worker (the ScaledObject target)',
      default: 2,
      min: 1,
      max: 10_000,
      helpGroup: AUTOSCALE,
    }),
    'polling-interval': Flags.integer({
      description: 'Seconds between queue readings (KEDA pollingInterval; the chart uses 5)',
      default: 5,
      min: 1,
      max: 3600,
      helpGroup: AUTOSCALE,
    }),
    cooldown: Flags.integer({
      description: 'Seconds the queue must stay empty before scaling to zero, with --min-workers 0 (KEDA cooldownPeriod; the chart uses 60)',
      default: 60,
      min: 0,
      max: 3600,
      helpGroup: AUTOSCALE,
    }),
    'worker-scale-up': Flags.string({
      description:
        "Scale-up rules of the workers' HPA, as install's --worker-scale-up: window=<s>s, <n>pods/<s>s, <n>%/<s>s, select=max|min|disabled (default: Kubernetes', no window, max(+4, +100 %) per 15 s)",
      helpGroup: AUTOSCALE,
    }),
    'worker-scale-down': Flags.string({
      description:
        "Scale-down rules of the workers' HPA, as install's --worker-scale-down, e.g. \"window=30s,1pods/15s\" (default: Kubernetes', a 300 s window, 100 % per 15 s)",
      helpGroup: AUTOSCALE,
    }),
    'stabilization-window': Flags.integer({
      description: 'Seconds of the scale-down stabilisation window: the same as --worker-scale-down window=<seconds>s',
      min: 0,
      max: 3600,
      exclusive: ['worker-scale-down'],
      deprecated: {message: '--stabilization-window is deprecated: use --worker-scale-down window=<seconds>s (the name install uses)'},
      // Kept so that existing command lines still work; help shows only the name install uses.
      hidden: true,
      helpGroup: AUTOSCALE,
    }),
    'telegram-token': Flags.string({description: 'Telegram bot token (never printed)', env: 'TELEGRAM_BOT_TOKEN', helpGroup: TELEGRAM}),
    'telegram-chat-ids': Flags.string({description: 'Comma-separated chat ids to send alerts to', env: 'TELEGRAM_CHAT_IDS', helpGroup: TELEGRAM}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Dev)
    // The children run this same CLI the same way: the script node was started with (bin/run.js,
    // or bin/dev.js on the sources) after node's own options.
    const script = process.argv[1]
    if (script === undefined) {
      throw new KedaLabError('dev cannot tell which script started it (process.argv has no script path)', {
        hint: 'run it as `keda-lab dev` (or `node bin/run.js dev`), not from node -e or a REPL',
      })
    }
    const [{runDev}, {wantsColor}, {watchParent, parentFromProc}, {readFileSync}] = await Promise.all([
      import('../lab/dev/run-dev.js'),
      import('../ui/dev-log.js'),
      import('../lab/dev/parent-watch.js'),
      import('node:fs'),
    ])
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
    // A closed terminal (SIGHUP) makes every later write fail with EIO or EPIPE; unhandled, that
    // error would end the process before it stops its children and removes Redis's folder.
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
    await runDev(
      {
        workers: flags.workers,
        redisUrl: flags['redis-url'],
        dataDir: flags['data-dir'],
        apiPort: flags['api-port'],
        queue: flags.queue,
        taskIterations: flags['task-iterations'],
        logLevel: flags['log-level'],
        telegram: flags['telegram-token'] ? {token: flags['telegram-token'], chatIds: flags['telegram-chat-ids'] ?? ''} : undefined,
        autoscale: flags.autoscale
          ? {
              minWorkers: flags['min-workers'],
              maxWorkers: flags['max-workers'],
              tasksPerWorker: flags['tasks-per-worker'],
              pollingIntervalMs: flags['polling-interval'] * 1000,
              cooldownMs: flags.cooldown * 1000,
              scaleUp: flags['worker-scale-up'],
              // The deprecated --stabilization-window N is --worker-scale-down window=Ns (exclusive with it).
              scaleDown: flags['stabilization-window'] === undefined ? flags['worker-scale-down'] : `window=${flags['stabilization-window']}s`,
            }
          : undefined,
        cli: {command: process.execPath, args: [...process.execArgv, script]},
        env: process.env,
        color: wantsColor(process.env, Boolean(process.stdout.isTTY)),
      },
      {
        print: (line) => {
          try {
            this.log(line)
          } catch {
            // the terminal is gone: keep stopping
          }
        },
        onSignal(handler) {
          for (const s of signals) process.on(s, handler)
          return () => {
            for (const s of signals) process.off(s, handler)
          }
        },
        onParentGone: (handler) =>
          watchParent({ownParent: () => process.ppid, parentOf: parentFromProc((path) => readFileSync(path, 'utf8')), onGone: handler}),
      },
    )
  }
}
