/**
 * What a `keda-lab dev` run tells: the state file's content (for `status --local`, `alert test
 * --local` and loadtest's watcher), the banner once everything runs, what became of the queued
 * tasks at the end, and why a crash stopped it.
 */
import {describeRedis} from '../../adapters/redis.js'
import {KedaLabError} from '../../errors.js'
import type {DevState} from '../../status/dev-state.js'
import {countQueued, type RedisDataDir} from './local-redis.js'
import type {DevOptions} from './options.js'
import {RESTART_WINDOW_MS} from './restarts.js'
import {type Crash, describeExit, type StopReason} from './run-end.js'
import type {Services} from './start.js'
import type {WorkerPool} from './workers.js'

/** The state file's content, read afresh at each write (workers come and go). */
export function devStateOf(options: DevOptions, services: Services, workers: Pick<WorkerPool, 'live'>, startedAt: string) {
  let desiredWorkers = options.autoscale?.minWorkers
  const state = (): Omit<DevState, 'decisions'> => ({
    pid: process.pid,
    apiUrl: services.apiUrl,
    queue: options.queue,
    startedAt,
    workers: workers.live().map((p) => p.name),
    // The file is the user's alone (0600 in a 0700 folder): `alert test --local` reads the token here.
    ...(services.webhook ? {webhook: {url: services.webhook.url, token: services.webhook.token}} : {}),
    ...(options.autoscale
      ? {
          autoscale: {
            minWorkers: options.autoscale.minWorkers,
            maxWorkers: options.autoscale.maxWorkers,
            tasksPerWorker: options.autoscale.tasksPerWorker,
            pollingIntervalMs: options.autoscale.pollingIntervalMs,
          },
          desiredWorkers,
        }
      : {}),
  })
  /** What the autoscaler last asked for (loadtest's watcher draws it beside the workers). */
  const desire = (n: number) => {
    desiredWorkers = n
  }
  return Object.assign(state, {desire})
}

/** The lines printed once everything runs: where each part is and how to stop. */
export function bannerLines(
  options: Pick<DevOptions, 'queue'>,
  services: Services,
  workers: Pick<WorkerPool, 'metricsPorts'>,
  redis: {url: string; data?: RedisDataDir},
): string[] {
  const {apiUrl, webhook} = services
  const redisWhere = !redis.data
    ? ''
    : redis.data.temporary
      ? ' (started here; append-only file in a temporary folder, removed at the end: --data-dir DIR keeps it)'
      : ` (started here; append-only file kept in ${redis.data.dir})`
  return [
    'keda-lab dev is running; Ctrl-C stops everything',
    `  API       ${apiUrl}  (POST /api/tasks/add, POST /api/tasks, GET /api/queue)`,
    `  Docs      ${apiUrl}/docs  (OpenAPI: ${apiUrl}/openapi.json)`,
    `  Metrics   api http://127.0.0.1:${services.apiMetricsPort}/metrics` +
      [...workers.metricsPorts()].map(([name, port]) => `, ${name} http://127.0.0.1:${port}/metrics`).join('') +
      (webhook ? `, webhook http://127.0.0.1:${webhook.metricsPort}/metrics` : ''),
    `  Redis     ${describeRedis({mode: 'standalone', url: redis.url})}${redisWhere}  queue "${options.queue}"`,
    webhook
      ? `  Webhook   ${webhook.url}/alerts  (bearer token: ${webhook.tokenFrom})`
      : '  Webhook   not started (set --telegram-token and --telegram-chat-ids to start it)',
  ]
}

/**
 * Counts the tasks still queued in the Redis dev started, once the workers have handed theirs
 * back, and says what becomes of them: discarded with a temporary folder, or kept in --data-dir.
 * Returns the number discarded (undefined when none, or when they could not be counted).
 */
export async function reportQueued(redis: {url: string; data?: RedisDataDir}, queue: string, say: (line: string) => void): Promise<number | undefined> {
  if (!redis.data) return undefined
  let queued: number
  try {
    queued = await countQueued(redis.url, queue)
  } catch (error) {
    say(
      redis.data.temporary
        ? `could not count the queued tasks before stopping Redis (${(error as Error).message}); any there were are discarded with its temporary folder`
        : `could not count the queued tasks (${(error as Error).message}); Redis keeps them in ${redis.data.dir}`,
    )
    return undefined
  }
  if (queued === 0) return undefined
  if (!redis.data.temporary) {
    say(`${queued} queued task(s) kept in ${redis.data.dir}: \`keda-lab dev --data-dir ${redis.data.dir}\` runs them`)
    return undefined
  }
  say(`discarded ${queued} queued task(s) with the temporary Redis; \`keda-lab dev --data-dir DIR\` keeps them for the next run`)
  return queued
}

/** The crash that ended the run, if a crash did. */
export function crashOf(reason: StopReason | undefined): Crash | undefined {
  return reason?.kind === 'crash' ? reason.crash : undefined
}

/** The line said when a crash stops everything. */
export function describeCrash(crash: Crash): string {
  return crash.restarts
    ? `${crash.name} (pid ${crash.pid}) exited unexpectedly again (${describeExit(crash.exit)}) after ${crash.restarts} restart(s) within ${RESTART_WINDOW_MS / 1000} s; stopping everything`
    : `${crash.name} (pid ${crash.pid}) exited unexpectedly (${describeExit(crash.exit)}); stopping everything`
}

/** The error the run ends with after a crash: what kept exiting, and where its own lines are. */
export function crashError(crash: Crash): KedaLabError {
  const what = crash.restarts
    ? `${crash.name} keeps exiting (${crash.restarts} restart(s) within ${RESTART_WINDOW_MS / 1000} s, last: ${describeExit(crash.exit)})`
    : `${crash.name} exited unexpectedly (${describeExit(crash.exit)})`
  return new KedaLabError(`${what}, so keda-lab dev stopped everything`, {
    hint: `read the lines prefixed [${crash.name}] above, fix the cause, and run keda-lab dev again`,
  })
}
