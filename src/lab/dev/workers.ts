import type {Restarts} from './restarts.js'
import type {ManagedProcess, ProcessSpec, Supervisor} from './supervisor.js'

/** What the worker pool needs from the run. */
export interface WorkerPoolOptions {
  supervisor: Supervisor
  restarts: Restarts
  /** Starts a child and remembers its spec (to restart it the same way). */
  start(spec: ProcessSpec): Promise<ManagedProcess>
  /** Forgets a child's spec: it is not to be restarted. */
  forget(name: string): void
  /** How a worker of this name, serving metrics on this port, is started. */
  spec(name: string, metricsPort: number): ProcessSpec
  freePort(): Promise<number>
  say(line: string): void
  /** Grace for a worker stopped by a scale-down, before SIGKILL. */
  graceMs: number
}

/** The local workers: named worker-1, worker-2… (a restarting one keeps its name), scaled like a ReplicaSet. */
export interface WorkerPool {
  /** Starts one more worker under the lowest free name. */
  add(): Promise<ManagedProcess>
  /** The workers running and not being stopped. */
  live(): ManagedProcess[]
  /** The workers waiting for their restart (they count: they are coming back). */
  restarting(): string[]
  /** Metrics port per worker name, for the URLs printed at start. */
  metricsPorts(): ReadonlyMap<string, number>
  /** Starts or stops workers until `replicas` are running or coming back. */
  scaleTo(replicas: number): Promise<void>
}

const isWorker = (name: string) => name.startsWith('worker-')

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const ports = new Map<string, number>()
  const pool: WorkerPool = {
    async add() {
      const taken = new Set([...options.supervisor.list().map((p) => p.name), ...options.restarts.pending()])
      let n = 1
      while (taken.has(`worker-${n}`)) n++
      const name = `worker-${n}`
      const port = await options.freePort()
      const started = await options.start(options.spec(name, port))
      ports.set(name, port)
      return started
    },
    live: () => options.supervisor.list().filter((p) => isWorker(p.name) && !p.stopping),
    restarting: () => options.restarts.pending().filter(isWorker),
    metricsPorts: () => ports,
    async scaleTo(replicas) {
      let live = pool.live()
      while (live.length + pool.restarting().length < replicas) {
        const worker = await pool.add()
        options.say(`started ${worker.name} (pid ${worker.pid})`)
        live = pool.live()
      }
      let surplus = live.length + pool.restarting().length - replicas
      // Fewer workers wanted: first drop restarts still waiting, then, like a ReplicaSet, remove
      // the newest first; SIGTERM lets each finish or hand back its task.
      for (const name of pool.restarting().reverse()) {
        if (surplus <= 0) break
        options.restarts.cancel(name)
        options.forget(name)
        options.say(`not restarting ${name}: fewer workers are wanted`)
        surplus--
      }
      for (const worker of live.slice(live.length - Math.max(0, surplus)).reverse()) {
        options.say(`stopping ${worker.name} (pid ${worker.pid}) with SIGTERM`)
        options.forget(worker.name)
        void options.supervisor.stop(worker.name, options.graceMs).then(() => options.say(`${worker.name} stopped`))
      }
    },
  }
  return pool
}
