import {freePort, stopProcess} from '../helpers/processes.js'
import {type ServeProcess, spawnServe, waitUntilReady} from '../helpers/serve.js'

/** A `keda-lab serve …` process and everything it logged. */
export interface ServiceProcess extends ServeProcess {
  /** Set when the harness sent SIGKILL: a task this process was running ended then. */
  killedAt?: number
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
      api = spawnServe('api', {
        ...redisEnv,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'warn',
        ...options.apiEnv,
      })
      await waitUntilReady(api, {http: `${services.apiUrl}/readyz`}, 60_000)
    },
    async stopApi() {
      if (api) await stopProcess(api.child, 'SIGTERM', 15_000)
    },
    async startWorkers(count) {
      const started = Array.from({length: count}, () => {
        const name = `chaos-worker-${++workerSerial}`
        return spawnServe(
          'worker',
          {
            ...redisEnv,
            METRICS_PORT: '0',
            METRICS_HOST: '127.0.0.1',
            WORKER_NAME: name,
            LOG_LEVEL: 'info',
            ...options.workerEnv,
          },
          name,
        )
      })
      live.push(...started)
      all.push(...started)
      await Promise.all(started.map((worker) => waitUntilReady(worker, {log: 'worker ready: waiting for tasks'}, 60_000)))
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
