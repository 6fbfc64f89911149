import {randomUUID} from 'node:crypto'

import {waitFor} from '../helpers/processes.js'
import {availability, type Load, startLoad} from './load.js'
import {type RedisHa, type RedisHaOptions, redisTransient, startRedisHa} from './redis-ha.js'
import {type ServiceProcess, type Services, startServices} from './services.js'
import {executions, finalStates, ranTwiceConcurrently, recoveredAt} from './verdict.js'

/** How long and how hard a run is: a minute-long outage in `npm run chaos`, seconds in `npm test`. */
export interface ChaosSettings {
  workers: number
  /** Task size (loop iterations): long enough for a worker to be killed mid-task. */
  iterations: number
  submitEveryMs: number
  pollEveryMs: number
  /** Every n-th task is queued with failAt (fails on purpose), so that failures with a reason are part of the load. */
  failEvery: number
  /** Load before the fault, and after the system has recovered. */
  warmupMs: number
  afterMs: number
  /** Scenario 4: how long every worker stays away. */
  workerOutageMs: number
  /** Scenario 2: at least this long paused, and until the Sentinels have failed over. */
  pauseMs: number
  /** Longest wait for the system to recover, and for every accepted task to end. */
  recoverTimeoutMs: number
  drainTimeoutMs: number
  /** Worker environment (lock and stalled-check periods; the shipped defaults when empty). */
  workerEnv: Record<string, string>
  /** Sentinel's down-after-milliseconds. */
  downAfterMs: number
}

/** The full run: the shipped worker defaults (30 s lock and stalled check), a minute without workers. */
export const FULL_SETTINGS: ChaosSettings = {
  workers: 3,
  // About 0.15 s of one core per task (more on a busy machine); 2 tasks/s keeps 3 workers busy
  // about half the time, so the backlog a fault leaves drains quickly.
  iterations: 3_000_000,
  submitEveryMs: 500,
  pollEveryMs: 100,
  failEvery: 10,
  warmupMs: 10_000,
  afterMs: 10_000,
  workerOutageMs: 60_000,
  // Longer than min-replicas-max-lag (10 s), so that setting has its say when the master resumes.
  pauseMs: 12_000,
  recoverTimeoutMs: 180_000,
  drainTimeoutMs: 300_000,
  workerEnv: {},
  downAfterMs: 2000,
}

/**
 * The short version inside `npm test`: the same scenarios in seconds, on a busy 2-core machine.
 * Shorter worker locks (20 s, stalled check every 5 s) so that a killed worker's task is
 * recovered within the test; generous deadlines, no timing assertion.
 */
export const SHORT_SETTINGS: ChaosSettings = {
  workers: 2,
  iterations: 3_000_000,
  // One task a second: well under what two workers do on a busy machine, so backlogs drain fast.
  submitEveryMs: 1000,
  pollEveryMs: 250,
  failEvery: 3,
  warmupMs: 3000,
  afterMs: 2000,
  workerOutageMs: 3000,
  pauseMs: 5000,
  recoverTimeoutMs: 90_000,
  drainTimeoutMs: 120_000,
  // The lock stays well above a failover's length (a lock that expires while Redis fails over lets a
  // second worker start the task: BullMQ's at-least-once), the stalled check frequent enough to bound the test.
  workerEnv: {WORKER_LOCK_DURATION_MS: '20000', WORKER_STALLED_INTERVAL_MS: '5000'},
  downAfterMs: 2000,
}

/** What a scenario may touch while the load runs. */
export interface FaultContext {
  ha: RedisHa
  services: Services
  load: Load
  settings: ChaosSettings
  notes: string[]
  /** The fault hits now (called by a scenario that first waited for something, e.g. a busy worker). */
  markFault(): void
}

export interface Scenario {
  name: string
  /** The design promises no loss and no concurrent double run here. */
  promised: boolean
  redis?: Partial<RedisHaOptions>
  apiEnv?: Record<string, string>
  workerEnv?: Record<string, string>
  /** Injects the fault; returns once the fault itself is over (the process killed, resumed, restarted…). */
  inject(ctx: FaultContext): Promise<void>
  /** Puts back what the fault removed (e.g. restarts a killed Redis node) once the system has recovered. */
  heal?(ctx: FaultContext): Promise<void>
}

/** One row of the report. */
export interface ScenarioResult {
  name: string
  promised: boolean
  accepted: number
  completed: number
  failedOnPurpose: number
  failedOther: number
  failedReasons: string[]
  lost: number
  lostWhy: string[]
  twice: number
  /** The runs of each task that ran twice at once (worker, start, end, how), to diagnose a failure. */
  twiceRuns: string[]
  /** Tasks that ran more than once, one run after another (a crash or hand-back made them start again). */
  rerun: number
  requests: number
  errorRate: number
  errorKinds: Record<string, number>
  longestOutageMs: number
  /** From the fault's start until the system was whole again (see recoveredAt). */
  recoverMs: number
  notes: string[]
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A worker in the middle of a task now (its log has a "task started" without an end), if any. */
function busyWorker(services: Services): ServiceProcess | undefined {
  for (const worker of services.workers()) {
    const open = new Set<string>()
    for (const line of worker.lines) {
      if (!line.taskId) continue
      if (line.msg === 'task started') open.add(line.taskId)
      else if (line.msg === 'task completed' || line.msg === 'task failed' || line.msg?.startsWith('task interrupted for shutdown')) open.delete(line.taskId)
    }
    if (open.size > 0) return worker
  }
  return undefined
}

/** Waits until a worker is in the middle of a task; the fault hits from then on. */
async function waitBusyWorker(ctx: FaultContext): Promise<ServiceProcess> {
  const worker = await waitFor(() => busyWorker(ctx.services), {
    timeoutMs: ctx.settings.recoverTimeoutMs,
    intervalMs: 20,
    what: 'a worker in the middle of a task',
  })
  ctx.markFault()
  return worker
}

/** Kills the master (SIGKILL) and waits for the Sentinels' failover. */
async function killMaster(ctx: FaultContext): Promise<number> {
  const master = await ctx.ha.master()
  await master.kill()
  ctx.notes.push(`master :${master.port} SIGKILL`)
  return master.port
}

/**
 * Scenario 2's measurement beyond the services: a client still connected to the old master
 * (one that has not learnt of the failover, e.g. across a partition) writes while it is paused
 * and right after it resumes. Writes the old master acknowledges and the new master does not
 * hold were acknowledged and then lost.
 */
async function pauseMaster(ctx: FaultContext, waitReplicas = 0): Promise<void> {
  const master = await ctx.ha.master()
  const stale = ctx.ha.client(master.port)
  await stale.ping()
  const acknowledged: string[] = []
  const refused = new Set<string>()
  let writing = true
  let serial = 0
  const writer = (async () => {
    while (writing) {
      const key = `chaos:stale:${++serial}`
      // With waitReplicas, a write counts as acknowledged only once WAIT says replicas hold it (what REDIS_WAIT_REPLICAS makes the API do).
      const write =
        waitReplicas > 0
          ? stale.set(key, '1').then(async () => ((await stale.wait(waitReplicas, 1000)) >= waitReplicas ? 'OK' : 'NOWAIT'))
          : stale.set(key, '1')
      write.then(
        (reply) => (reply === 'OK' ? acknowledged.push(key) : refused.add(reply ?? 'error')),
        (error: Error) => refused.add(error.message.split(' ')[0] ?? 'error'),
      )
      await sleep(20)
    }
  })()
  const pausedAt = Date.now()
  master.signal('SIGSTOP')
  ctx.notes.push(`master :${master.port} SIGSTOP`)
  const newMaster = await ctx.ha.waitForNewMaster(master.port, ctx.settings.recoverTimeoutMs)
  await sleep(Math.max(0, ctx.settings.pauseMs - (Date.now() - pausedAt)))
  master.signal('SIGCONT')
  ctx.notes.push(`SIGCONT after ${((Date.now() - pausedAt) / 1000).toFixed(1)} s`)
  // Keep writing to the old master until the Sentinels have turned it into a replica.
  await waitFor(async () => (await ctx.ha.role(master.port)) === 'slave', {
    timeoutMs: 60_000,
    intervalMs: 100,
    what: 'the old master demoted to replica',
    ignore: redisTransient,
  }).catch(() => ctx.notes.push('old master not demoted within 60 s'))
  writing = false
  await writer
  await sleep(500)
  stale.disconnect()
  const check = ctx.ha.client(newMaster)
  const kept = acknowledged.length > 0 ? await check.exists(...acknowledged) : 0
  check.disconnect()
  ctx.notes.push(
    `stale client on the old master: ${acknowledged.length} writes acknowledged, ${acknowledged.length - kept} of them lost` +
      (refused.size > 0 ? `, others refused (${[...refused].join(', ')})` : ''),
  )
}

/** Every redis-server SIGKILLed at once (a node or zone down), then started again from its own files. */
async function restartAllRedis(ctx: FaultContext): Promise<void> {
  await Promise.all(ctx.ha.nodes.map((node) => node.kill()))
  ctx.notes.push('3 redis-server SIGKILL at once')
  await Promise.all(ctx.ha.nodes.map((node) => node.restart()))
  await ctx.ha.waitHealthy(2, ctx.settings.recoverTimeoutMs)
}

const healMaster = async (ctx: FaultContext) => {
  for (const node of ctx.ha.nodes) if (!node.running()) await node.restart()
  await ctx.ha.waitHealthy(2, ctx.settings.recoverTimeoutMs)
}

/** The scenarios of issue 8, one fault at a time, then combined. */
export function scenarios(): Scenario[] {
  return [
    {
      name: '1 master SIGKILL (Sentinel failover)',
      promised: true,
      async inject(ctx) {
        const old = await killMaster(ctx)
        await ctx.ha.waitForNewMaster(old, ctx.settings.recoverTimeoutMs)
      },
      heal: healMaster,
    },
    {
      name: '2 master SIGSTOP, failover, SIGCONT (min-replicas-to-write 0, chart)',
      promised: true,
      inject: (ctx) => pauseMaster(ctx),
    },
    {
      name: '2b same, min-replicas-to-write 1',
      promised: true,
      redis: {minReplicasToWrite: 1, minReplicasMaxLag: 10},
      inject: (ctx) => pauseMaster(ctx),
    },
    {
      name: '2c same, API with REDIS_WAIT_REPLICAS=1',
      promised: true,
      apiEnv: {REDIS_WAIT_REPLICAS: '1'},
      inject: (ctx) => pauseMaster(ctx, 1),
    },
    {
      name: '3a worker SIGKILL mid-task',
      promised: true,
      async inject(ctx) {
        const worker = await waitBusyWorker(ctx)
        ctx.services.signalWorker(worker, 'SIGKILL')
        ctx.notes.push(`${worker.name} SIGKILL`)
        await worker.exited
        await ctx.services.startWorkers(1)
      },
    },
    {
      name: '3b worker SIGTERM mid-task (grace 0: hand-back)',
      promised: true,
      workerEnv: {WORKER_SHUTDOWN_GRACE_MS: '0'},
      async inject(ctx) {
        const worker = await waitBusyWorker(ctx)
        ctx.services.signalWorker(worker, 'SIGTERM')
        await worker.exited
        const handedBack = worker.lines.filter((l) => l.msg?.startsWith('task handed back')).length
        ctx.notes.push(`${worker.name} SIGTERM: exit ${worker.child.exitCode}, ${handedBack} task(s) handed back`)
        await ctx.services.startWorkers(1)
      },
    },
    {
      name: '4 every worker gone, then back',
      promised: true,
      async inject(ctx) {
        const workers = ctx.services.workers()
        for (const worker of workers) ctx.services.signalWorker(worker, 'SIGTERM')
        await Promise.all(workers.map((w) => w.exited))
        ctx.notes.push(`${workers.length} workers stopped (SIGTERM) for ${ctx.settings.workerOutageMs / 1000} s`)
        await sleep(ctx.settings.workerOutageMs)
        await ctx.services.startWorkers(ctx.settings.workers)
      },
    },
    {
      name: '5 API restarted under load',
      promised: true,
      async inject(ctx) {
        const before = ctx.services.api().child.pid
        const stopAt = Date.now()
        await ctx.services.stopApi()
        const stoppedAt = Date.now()
        await ctx.services.startApi()
        ctx.notes.push(
          `API restarted (pid ${before} SIGTERM, pid ${ctx.services.api().child.pid} started): ` +
            `old one stopped in ${((stoppedAt - stopAt) / 1000).toFixed(1)} s, new one ready ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s later`,
        )
      },
    },
    ...(['everysec', 'always'] as const).map(
      (appendfsync): Scenario => ({
        name: `6 every Redis server SIGKILLed and restarted (AOF ${appendfsync})`,
        promised: true,
        redis: {appendfsync},
        inject: restartAllRedis,
      }),
    ),
    {
      // Control case: the same fault without AOF must show lost tasks, or the harness could not see a loss.
      name: '6c control: the same with AOF off (appendonly no)',
      promised: false,
      redis: {appendonly: false},
      inject: restartAllRedis,
    },
    {
      name: '7 combined: master SIGKILL + worker SIGKILL + API restart',
      promised: true,
      async inject(ctx) {
        const worker = await waitBusyWorker(ctx)
        const old = await killMaster(ctx)
        ctx.services.signalWorker(worker, 'SIGKILL')
        await ctx.services.stopApi()
        ctx.notes.push(`${worker.name} SIGKILL, API SIGTERM`)
        await Promise.all([ctx.services.startApi(), ctx.services.startWorkers(1), ctx.ha.waitForNewMaster(old, ctx.settings.recoverTimeoutMs)])
      },
      heal: healMaster,
    },
  ]
}

/**
 * Runs one scenario on a fresh Redis set and fresh services: load, fault, recovery, more load,
 * then waits for every accepted task to end and reads the workers' execution record.
 */
export async function runScenario(scenario: Scenario, settings: ChaosSettings, log: (line: string) => void = () => {}): Promise<ScenarioResult> {
  const notes: string[] = []
  const ha = await startRedisHa({downAfterMs: settings.downAfterMs, ...scenario.redis})
  let services: Services | undefined
  let load: Load | undefined
  try {
    services = await startServices({
      sentinelsEnv: ha.sentinelsEnv,
      password: ha.password,
      masterName: ha.masterName,
      queueName: `chaos-${randomUUID().slice(0, 8)}`,
      apiEnv: scenario.apiEnv,
      workerEnv: {...settings.workerEnv, ...scenario.workerEnv},
    })
    await Promise.all([services.startApi(), services.startWorkers(settings.workers)])
    load = startLoad({
      apiUrl: services.apiUrl,
      iterations: settings.iterations,
      submitEveryMs: settings.submitEveryMs,
      pollEveryMs: settings.pollEveryMs,
      failEvery: settings.failEvery,
    })
    log(`${scenario.name}: load running`)
    await sleep(settings.warmupMs)
    let faultAt = Date.now()
    const ctx: FaultContext = {ha, services, load, settings, notes, markFault: () => void (faultAt = Date.now())}
    await scenario.inject(ctx)
    const injectedAt = Date.now()
    log(`${scenario.name}: fault injected (${((injectedAt - faultAt) / 1000).toFixed(1)} s)`)
    // The API takes tasks again before anything else is done (bounded: a harness failure otherwise).
    await load.submitUntilAccepted(Date.now() + settings.recoverTimeoutMs)
    if (scenario.heal) await scenario.heal(ctx)
    await sleep(settings.afterMs)
    await load.stop()
    log(`${scenario.name}: load stopped; waiting for the ${load.accepted.length} accepted tasks to end`)
    const ends = await finalStates(services.apiUrl, load.accepted, Date.now() + settings.drainTimeoutMs)
    const runs = executions(services.allWorkers())
    const twice = ranTwiceConcurrently(runs)
    const runCounts = new Map<string, number>()
    for (const run of runs) runCounts.set(run.taskId, (runCounts.get(run.taskId) ?? 0) + 1)
    const failed = ends.filter((e) => e.end === 'failed')
    const lost = ends.filter((e) => e.end === 'lost')
    const api = availability(load.attempts)
    const recoverMs = recoveredAt({faultAt, injectedAt, attempts: load.attempts, runs}) - faultAt
    return {
      name: scenario.name,
      promised: scenario.promised,
      accepted: load.accepted.length,
      completed: ends.filter((e) => e.end === 'completed').length,
      failedOnPurpose: failed.filter((e) => e.onPurpose).length,
      failedOther: failed.filter((e) => !e.onPurpose).length,
      failedReasons: [...new Set(failed.filter((e) => !e.onPurpose).map((e) => e.reason))],
      lost: lost.length,
      lostWhy: [...new Set(lost.map((e) => e.why))],
      twice: twice.length,
      twiceRuns: runs
        .filter((run) => twice.includes(run.taskId))
        .map(
          (run) =>
            `${run.taskId} ${run.worker} ${new Date(run.start).toISOString()} → ${Number.isFinite(run.end) ? new Date(run.end).toISOString() : 'running'} ${run.how}`,
        ),
      rerun: [...runCounts.values()].filter((n) => n > 1).length,
      requests: api.requests,
      errorRate: api.errorRate,
      errorKinds: api.errorKinds,
      longestOutageMs: api.longestOutageMs,
      recoverMs,
      notes,
    }
  } finally {
    await load?.stop()
    await services?.stop()
    await ha.stop()
  }
}

/** The report as a Markdown table (the README's figures come from `npm run chaos`). */
export function formatTable(results: ScenarioResult[]): string {
  const header =
    '| scenario | accepted | completed | failed on purpose | failed otherwise | lost | twice at once | re-run | API errors | longest unavailability | recovered after |'
  const rule = '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${r.accepted} | ${r.completed} | ${r.failedOnPurpose} | ${r.failedOther} | ${r.lost} | ${r.twice} | ${r.rerun} | ` +
      `${(r.errorRate * 100).toFixed(1)} % of ${r.requests} | ${(r.longestOutageMs / 1000).toFixed(1)} s | ${Number.isFinite(r.recoverMs) ? `${(r.recoverMs / 1000).toFixed(1)} s` : 'never'} |`,
  )
  const notes = results.flatMap((r) => {
    const extra = [
      ...r.notes,
      ...(r.failedReasons.length ? [`failed: ${r.failedReasons.join('; ')}`] : []),
      ...(r.lostWhy.length ? [`lost: ${r.lostWhy.join('; ')}`] : []),
      ...(Object.keys(r.errorKinds).length
        ? [
            `errors: ${Object.entries(r.errorKinds)
              .map(([k, v]) => `${k}×${v}`)
              .join(', ')}`,
          ]
        : []),
    ]
    return extra.length ? [`- ${r.name}: ${extra.join('; ')}`] : []
  })
  return [header, rule, ...rows, '', ...notes].join('\n')
}
