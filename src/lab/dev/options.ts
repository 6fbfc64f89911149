/**
 * What `keda-lab dev` is given (options and I/O edges) and returns, checked before anything
 * starts, and how a child process is run from them: this same CLI, with the user's environment
 * minus what dev sets itself.
 */
import {ConfigError} from '../../errors.js'
import {type AutoscaleOptions, validateAutoscaleOptions} from '../autoscale.js'
import {autoscaleRule, type DevAutoscale} from './autoscale-settings.js'
import type {ProcessSpec} from './supervisor.js'

/** Everything `keda-lab dev` needs to know, already parsed from flags and environment. */
export interface DevOptions {
  /** Workers to start (ignored with `autoscale`, which starts `minWorkers`). */
  workers: number
  /** Use this Redis instead of starting `redis-server`. */
  redisUrl?: string
  /** Keep the local Redis's append-only file here across runs (default: a temporary folder). */
  dataDir?: string
  /** API port; 0 picks a free one. */
  apiPort: number
  queue: string
  /** Task size given to the API and the worker (TASK_ITERATIONS); undefined keeps their default. */
  taskIterations?: number
  logLevel: string
  /** When set, the webhook is started too. */
  telegram?: {token: string; chatIds: string}
  /** Scale the workers like KEDA and its HPA would (autoscale-settings.ts). */
  autoscale?: DevAutoscale
  /** How to run this CLI in a child process: `process.execPath` and the entry script. */
  cli: {command: string; args: string[]}
  /** Environment the children start from (the user's environment). */
  env: NodeJS.ProcessEnv
  /** Colour the prefixes. */
  color: boolean
  /** Grace period for a stopping worker or service before SIGKILL (default 10 s). */
  stopGraceMs?: number
}

/** The I/O edges of the run, passed in so that a caller (or a test) controls them. */
export interface DevDeps {
  /** Writes one line to the terminal. */
  print(line: string): void
  /** Subscribes to SIGINT/SIGTERM/SIGHUP; returns an unsubscribe function. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void
  /** Calls `handler` once the process that started dev is gone (parent-watch.ts); returns an unsubscribe function. */
  onParentGone?(handler: (pid: number) => void): () => void
}

/** How the run ended (a crash is thrown as a KedaLabError instead). */
export interface DevResult {
  /** The signal that stopped it (SIGTERM when its parent went away). */
  signal: NodeJS.Signals
  /** Names of the processes that were running and were stopped. */
  stopped: string[]
  /** Tasks left queued in a temporary Redis and discarded with it; undefined when none was discarded or they could not be counted. */
  discardedTasks?: number
}

/** The env variables a child must not inherit from the user: dev sets its own or they would conflict. */
const NOT_INHERITED = ['PORT', 'METRICS_PORT', 'REDIS_SENTINELS', 'REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD', 'WORKER_CONCURRENCY']

/** Checks what can be checked before anything starts; returns the autoscale rule, if any. */
export function validateDevOptions(options: DevOptions): AutoscaleOptions | undefined {
  const rule = options.autoscale ? autoscaleRule(options.autoscale) : undefined
  if (rule) {
    const problem = validateAutoscaleOptions(rule)
    if (problem) throw new ConfigError(`--autoscale: ${problem}`, 'keda-lab dev --autoscale --min-workers 1 --max-workers 5 --tasks-per-worker 2')
  }
  if (options.redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(options.redisUrl)) {
    throw new ConfigError('--redis-url must be a redis:// or rediss:// URL', 'keda-lab dev --redis-url redis://127.0.0.1:6379')
  }
  if (options.redisUrl !== undefined && options.dataDir !== undefined) {
    throw new ConfigError('--data-dir is the folder of the Redis dev starts; with --redis-url that Redis keeps its own data', 'leave out one of them')
  }
  if (options.telegram && !options.telegram.chatIds.trim()) {
    throw new ConfigError('a Telegram bot token is set but no chat id', 'add --telegram-chat-ids 123456789 (or TELEGRAM_CHAT_IDS=123456789)')
  }
  return rule
}

/** The children's environment without REDIS_URL (set once Redis is known). */
export function baseEnv(options: DevOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...options.env}
  for (const key of NOT_INHERITED) delete env[key]
  env.QUEUE_NAME = options.queue
  env.LOG_LEVEL = options.logLevel
  if (options.taskIterations !== undefined) env.TASK_ITERATIONS = String(options.taskIterations)
  return env
}

/** `keda-lab serve <service>`, run the way this CLI was run. */
export function serve(options: DevOptions, service: 'api' | 'worker' | 'webhook'): Pick<ProcessSpec, 'command' | 'args'> {
  return {command: options.cli.command, args: [...options.cli.args, 'serve', service]}
}
