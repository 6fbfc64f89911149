/**
 * Twins: the lab's services really running on this machine, mirrored into the control plane's
 * Deployments so that the cluster's real autoscalers react to real load.
 *
 * - API twin ({@link startCpuMirror}): a local `keda-lab serve api` under load spends CPU; every few
 *   seconds its process CPU (from /proc, the whole process group) is written as the simulated usage
 *   of the API Deployment's pods, divided by their count. The real HPA controller then sees the CPU
 *   the real API spends, spread over the replicas it has, and converges instead of racing to its
 *   maximum (a constant per-pod figure would).
 * - Worker twin ({@link startReplicaMirror}): local `keda-lab serve worker` processes follow the
 *   worker Deployment's replicas, which KEDA scales on the real queue; more workers drain it faster.
 */
import {execFileSync} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'

/** Clock ticks per second of /proc's CPU times (100 on Linux, asked once). */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100

/** utime + stime (seconds) of every process in process group `pgid` (a spawnTracked child leads its own group). */
export function groupCpuSeconds(pgid: number): number {
  let ticks = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(fields[2]) !== pgid) continue
    ticks += Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15 of stat)
  }
  return ticks / CLK_TCK
}

/** One mirrored reading. */
export interface CpuSample {
  /** ms since the mirror started. */
  t: number
  /** The process group's CPU over the last interval, in millicores. */
  totalMillis: number
  /** API pods it was divided among (the Deployment's ready replicas, at least 1). */
  pods: number
  perPodMillis: number
}

export interface CpuMirror {
  readonly samples: CpuSample[]
  stop(): Promise<void>
}

export interface CpuMirrorOptions {
  /** Leader of the local service's process group. */
  pid: number
  intervalMs: number
  /** Ready replicas of the mirrored Deployment now. */
  replicas: () => Promise<number>
  /** Writes the per-pod usage (the harness's setSimulatedUsage for the Deployment). */
  write: (perPodMillis: number) => Promise<void>
  /** Errors of one round (the next round tries again); default: rethrown at stop(). */
  onError?: (error: unknown) => void
}

/**
 * Runs `tick` every `intervalMs`, one round at a time: a round slower than the interval (a worker
 * that takes 20 s to start on a loaded machine) skips ticks instead of queueing them, so stopping
 * never has to wait for a backlog of rounds. `finish(boundMs)` waits at most that long for the
 * round in progress; it returns false when the round is still running then.
 */
function everyInterval(intervalMs: number, tick: () => Promise<void>, onError: (error: unknown) => void) {
  let stopped = false
  let busy = false
  let round: Promise<void> = Promise.resolve()
  const timer = setInterval(() => {
    if (stopped || busy) return
    busy = true
    round = tick()
      .catch(onError)
      .finally(() => {
        busy = false
      })
  }, intervalMs)
  return {
    stopped: () => stopped,
    async finish(boundMs: number): Promise<boolean> {
      stopped = true
      clearInterval(timer)
      let bound: NodeJS.Timeout | undefined
      const finished = await Promise.race([round.then(() => true), new Promise<boolean>((resolve) => (bound = setTimeout(() => resolve(false), boundMs)))])
      clearTimeout(bound)
      return finished
    },
  }
}

/**
 * Every `intervalMs`, writes the local process group's CPU rate divided by the Deployment's ready
 * replicas. The first round only takes the starting point.
 */
export function startCpuMirror(o: CpuMirrorOptions): CpuMirror {
  const samples: CpuSample[] = []
  const t0 = Date.now()
  let last = {wall: Date.now(), cpu: groupCpuSeconds(o.pid)}
  let failure: unknown
  const tick = async () => {
    const now = {wall: Date.now(), cpu: groupCpuSeconds(o.pid)}
    const totalMillis = Math.max(0, Math.round(((now.cpu - last.cpu) / ((now.wall - last.wall) / 1000)) * 1000))
    last = now
    const pods = Math.max(1, await o.replicas())
    const perPodMillis = Math.max(1, Math.round(totalMillis / pods))
    await o.write(perPodMillis)
    samples.push({t: now.wall - t0, totalMillis, pods, perPodMillis})
  }
  const loop = everyInterval(o.intervalMs, tick, (error) => {
    if (o.onError) o.onError(error)
    else failure ??= error
  })
  return {
    samples,
    async stop() {
      // A round is two API requests; one stuck longer than this is abandoned (its write no longer matters).
      await loop.finish(15_000)
      if (failure) throw failure
    },
  }
}

export interface ReplicaMirror<P> {
  /** Local processes running now. */
  running(): number
  /** (t, count) each time the count changed. */
  readonly changes: {t: number; count: number}[]
  /**
   * Stops following and stops every process: waits at most `boundMs` for a round in progress
   * (a process starting), then stops them all with `stopAll` (default: the options' `stopOne`).
   * A process whose start finishes after that is stopped as soon as it is up.
   */
  stop(options?: {boundMs?: number; stopAll?: (p: P) => Promise<void>}): Promise<void>
}

export interface ReplicaMirrorOptions<P> {
  intervalMs: number
  /** The Deployment's replicas now (spec.replicas: what the autoscaler decided). */
  replicas: () => Promise<number>
  start: () => Promise<P>
  /** Stops one process gracefully (a worker finishes its task first). */
  stopOne: (p: P) => Promise<void>
  max: number
}

/** Keeps as many local processes running as the Deployment has replicas (capped at `max`). */
export function startReplicaMirror<P>(o: ReplicaMirrorOptions<P>): ReplicaMirror<P> {
  const running: P[] = []
  const changes: {t: number; count: number}[] = []
  const t0 = Date.now()
  let failure: unknown
  let lateStop: (p: P) => Promise<void> = o.stopOne
  const late: Promise<void>[] = []
  const tick = async () => {
    const want = Math.min(o.max, Math.max(0, await o.replicas()))
    if (want === running.length) return
    if (running.length < want) {
      // Started side by side: on a loaded machine one start takes seconds, and KEDA adds several at once.
      const starts = await Promise.allSettled(
        Array.from({length: want - running.length}, async () => {
          const p = await o.start()
          // Stopped while it was starting: it is not followed any more, stop it at once.
          if (loop.stopped()) late.push(lateStop(p))
          else running.push(p)
        }),
      )
      const failed = starts.find((r) => r.status === 'rejected')
      if (failed) throw failed.reason
    }
    if (running.length > want) await Promise.all(running.splice(want).map((p) => o.stopOne(p)))
    changes.push({t: Date.now() - t0, count: running.length})
  }
  const loop = everyInterval(o.intervalMs, tick, (error) => {
    failure ??= error
  })
  return {
    running: () => running.length,
    changes,
    async stop({boundMs = 30_000, stopAll = o.stopOne} = {}) {
      lateStop = stopAll
      await loop.finish(boundMs)
      await Promise.all(running.splice(0).map((p) => stopAll(p)))
      await Promise.all(late)
      if (failure) throw failure
    },
  }
}
