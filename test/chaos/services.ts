import type {ChildProcess} from 'node:child_process'

import {cliEntry, repoRoot} from '../helpers/cli.js'
import {connectionRefused, freePort, notYet, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'

/** One JSON log line of a service (pino), with the time it was written. */
export type LogLine = Record<string, unknown> & {msg?: string; time?: string; taskId?: string}

/** A `keda-lab serve …` process and everything it logged. */
export interface ServiceProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly lines: LogLine[]
  /** Set when the harness sent SIGKILL: a task this process was running ended then. */
  killedAt?: number
  /** When the process exited (any cause). */
  exitedAt?: number
  exited: Promise<void>
  stderr(): string
}

function spawnService(name: string, args: string[], env: Record<string, string>): ServiceProcess {
  const child = spawnTracked(process.execPath, [cliEntry(), ...args], {cwd: repoRoot, env: {...process.env, ...env}})
  const lines: LogLine[] = []
  let buffer = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    let newline
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      try {
        lines.push(JSON.parse(line) as LogLine)
      } catch {
        lines.push({msg: line})
      }
    }
  })
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  const service: ServiceProcess = {name, child, lines, exited: Promise.resolve(), stderr: () => stderr}
  service.exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      service.exitedAt = Date.now()
      resolve()
    }),
  )
  return service
}

/** Where the services find Redis, and the knobs the scenarios vary. */
export interface ServicesOptions {
  sentinelsEnv: string
  password: string
  masterName: string
  queueName: string
  /** Extra environment for the API (e.g. REDIS_WAIT_REPLICAS). */
  apiEnv?: Record<string, string>
  /** Extra environment for every worker (lock and stalled-check periods). */
  workerEnv?: Record<string, string>
}

/** The API and the workers, started as a user (or the chart) starts them: `keda-lab serve api|worker`. */
export interface Services {
  readonly apiUrl: string
  api(): ServiceProcess
  workers(): ServiceProcess[]
  /** Every worker process ever started (dead ones too): their logs are the execution record. */
  allWorkers(): ServiceProcess[]
  startApi(): Promise<void>
  /** SIGTERM the API (a rolling update) and wait for it to exit. */
  stopApi(): Promise<void>
  startWorkers(count: number): Promise<ServiceProcess[]>
  /** Sends `signal` to a worker; SIGKILL is recorded as the end of what it was running. */
  signalWorker(worker: ServiceProcess, signal: NodeJS.Signals): void
  stop(): Promise<void>
}

let workerSerial = 0

export async function startServices(options: ServicesOptions): Promise<Services> {
  const port = await freePort()
  const metricsPort = await freePort()
  const redisEnv = {
    REDIS_SENTINELS: options.sentinelsEnv,
    REDIS_SENTINEL_MASTER: options.masterName,
    REDIS_PASSWORD: options.password,
    REDIS_SENTINEL_PASSWORD: options.password,
    QUEUE_NAME: options.queueName,
  }
  let api: ServiceProcess | undefined
  const live: ServiceProcess[] = []
  const all: ServiceProcess[] = []

  const services: Services = {
    apiUrl: `http://127.0.0.1:${port}`,
    api: () => api!,
    workers: () => live.filter((w) => w.child.exitCode === null && w.child.signalCode === null),
    allWorkers: () => all,
    async startApi() {
      api = spawnService('api', ['serve', 'api'], {
        ...redisEnv,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'warn',
        ...options.apiEnv,
      })
      const current = api
      await waitFor(
        async () => {
          if (current.child.exitCode !== null) throw new Error(`the API exited: ${current.stderr()}`)
          const response = await fetch(`${services.apiUrl}/readyz`, {signal: AbortSignal.timeout(2000)})
          return response.status === 200 || notYet(`/readyz ${response.status}`)
        },
        {timeoutMs: 60_000, intervalMs: 200, what: 'the API ready', ignore: (error) => connectionRefused(error) || (error as Error).name === 'TimeoutError'},
      )
    },
    async stopApi() {
      if (api) await stopProcess(api.child, 'SIGTERM', 15_000)
    },
    async startWorkers(count) {
      const started = Array.from({length: count}, () => {
        const name = `chaos-worker-${++workerSerial}`
        return spawnService(name, ['serve', 'worker'], {
          ...redisEnv,
          METRICS_PORT: '0',
          METRICS_HOST: '127.0.0.1',
          WORKER_NAME: name,
          LOG_LEVEL: 'info',
          ...options.workerEnv,
        })
      })
      live.push(...started)
      all.push(...started)
      await Promise.all(
        started.map((worker) =>
          waitFor(
            () => {
              if (worker.child.exitCode !== null) throw new Error(`worker ${worker.name} exited: ${worker.stderr()}`)
              return worker.lines.some((l) => l.msg === 'worker ready: waiting for tasks')
            },
            {timeoutMs: 60_000, intervalMs: 100, what: `worker ${worker.name} ready`},
          ),
        ),
      )
      return started
    },
    signalWorker(worker, signal) {
      if (signal === 'SIGKILL') worker.killedAt = Date.now()
      worker.child.kill(signal)
    },
    async stop() {
      const workers = live.splice(0)
      for (const worker of workers) worker.killedAt ??= Date.now()
      await Promise.all([...workers.map((w) => stopProcess(w.child, 'SIGKILL')), api ? stopProcess(api.child, 'SIGKILL') : Promise.resolve()])
    },
  }
  return services
}
