import {type ChildProcess, spawn} from 'node:child_process'
import {createInterface} from 'node:readline'

/** What to run. */
export interface ProcessSpec {
  /** Short name used as the log prefix: `api`, `worker-1`, `redis`. */
  name: string
  command: string
  args: string[]
  env: NodeJS.ProcessEnv
}

/** How a process ended. */
export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** A process the supervisor started. */
export interface ManagedProcess {
  name: string
  pid: number
  /** True once the supervisor asked it to stop: its exit is then expected. */
  stopping: boolean
  /** Resolves when the process has exited. */
  exited: Promise<ProcessExit>
}

export interface SupervisorOptions {
  /** Receives every output line of every child, already split, with the child's name. */
  onLine(name: string, line: string): void
  /** Called when a child exits without having been asked to stop. */
  onUnexpectedExit(process: ManagedProcess, exit: ProcessExit): void
}

/** Starts child processes, streams their output and stops them. */
export interface Supervisor {
  /** Starts a process; rejects when it cannot be spawned (e.g. the binary is missing). */
  start(spec: ProcessSpec): Promise<ManagedProcess>
  /** SIGTERM, then SIGKILL of its whole process group after `graceMs`; resolves on exit. */
  stop(name: string, graceMs: number): Promise<void>
  /** Stops every running process: first those `first` selects, then the rest (e.g. Redis last). */
  stopAll(graceMs: number, first?: (name: string) => boolean): Promise<void>
  /** SIGKILL to every running process group now (second Ctrl-C, or the parent exiting). */
  killAll(): void
  /** Running processes, in start order. */
  list(): ManagedProcess[]
}

/** Signals a child's whole process group (it is `detached`), or the child alone if that fails; no-op once it has exited. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {
      // already gone
    }
  }
}

/**
 * Creates a supervisor. Children get their own process group (`detached`), so a Ctrl-C in the
 * terminal reaches only `keda-lab dev`, which then stops them in order and gracefully (workers
 * first so they can finish or hand back their task, Redis last). If the parent exits any other
 * way than through `stopAll`, an `exit` hook SIGKILLs what is left, so nothing is orphaned;
 * only a SIGKILL of the parent itself can leave children behind.
 */
// The methods stay in this closure on purpose: start, stop, stopAll and killAll share the `running`
// map and the exit hook, and each of them is short; split apart, they would pass that state around.
export function createSupervisor(options: SupervisorOptions): Supervisor {
  const running = new Map<string, {managed: ManagedProcess; child: ChildProcess}>()

  const onParentExit = () => {
    for (const {child} of running.values()) killGroup(child, 'SIGKILL')
  }
  process.on('exit', onParentExit)

  const supervisor: Supervisor = {
    async start(spec) {
      if (running.has(spec.name)) throw new Error(`a process named ${spec.name} is already running`)
      const child = spawn(spec.command, spec.args, {env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true})
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve)
        child.once('error', reject)
      })
      // Node sets the pid before 'spawn'; without one there is no process to supervise.
      if (child.pid === undefined) throw new Error(`${spec.name} was spawned without a process id`)
      let resolveExit!: (exit: ProcessExit) => void
      const exited = new Promise<ProcessExit>((resolve) => (resolveExit = resolve))
      const managed: ManagedProcess = {name: spec.name, pid: child.pid, stopping: false, exited}
      running.set(spec.name, {managed, child})
      // stdio ['ignore', 'pipe', 'pipe'] types both streams as Readable (never null).
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({input: stream, crlfDelay: Infinity}).on('line', (line) => options.onLine(spec.name, line))
      }
      // 'close' (not 'exit') so that the last lines of output are delivered before we report it.
      child.once('close', (code, signal) => {
        running.delete(spec.name)
        const exit = {code, signal}
        resolveExit(exit)
        if (!managed.stopping) options.onUnexpectedExit(managed, exit)
      })
      return managed
    },

    async stop(name, graceMs) {
      const entry = running.get(name)
      if (!entry) return
      entry.managed.stopping = true
      // SIGTERM to the process only: it handles its own children during a graceful stop.
      try {
        entry.child.kill('SIGTERM')
      } catch {
        // already gone
      }
      const timer = setTimeout(() => killGroup(entry.child, 'SIGKILL'), graceMs)
      await entry.managed.exited
      clearTimeout(timer)
      // Anything the process left in its group (a sandbox it forked) goes with it.
      killGroup(entry.child, 'SIGKILL')
    },

    async stopAll(graceMs, first) {
      for (const {managed} of running.values()) managed.stopping = true
      const names = [...running.keys()]
      const early = first ? names.filter((n) => first(n)) : []
      await Promise.all(early.map((n) => supervisor.stop(n, graceMs)))
      await Promise.all([...running.keys()].map((n) => supervisor.stop(n, graceMs)))
    },

    killAll() {
      for (const {managed, child} of running.values()) {
        managed.stopping = true
        killGroup(child, 'SIGKILL')
      }
    },

    list() {
      return [...running.values()].map((e) => e.managed)
    },
  }
  return supervisor
}
