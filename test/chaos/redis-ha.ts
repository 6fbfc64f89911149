import type {ChildProcess} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {Redis} from 'ioredis'

import {connectionRefused, notYet, requireBinary, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {spawnSentinel, startOnFreePort, waitUntilServing, withClient as withServer} from '../helpers/redis.js'

/** The persistence and replication settings of the Redis pods (templates/values/redis-ha.yaml sets the same keys). */
export interface RedisHaOptions {
  password?: string
  masterName?: string
  /** AOF on (the chart's `appendonly: "yes"`); off only for the control case that shows a loss. */
  appendonly?: boolean
  /** AOF fsync policy: the chart's `everysec`, or `always`. */
  appendfsync?: 'everysec' | 'always'
  /** The chart's `min-replicas-to-write` (0: a master acknowledges writes with no replica connected). */
  minReplicasToWrite?: number
  minReplicasMaxLag?: number
  /** Sentinel's down-after-milliseconds; the chart's redis-ha default is 10000, the harness uses less to keep runs short. */
  downAfterMs?: number
}

/** One redis-server of the set: a fixed port and data directory, so a restart replays its own AOF. */
export interface RedisNode {
  readonly port: number
  readonly pid: number | undefined
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT) to the running server. */
  signal(signal: NodeJS.Signals): void
  /** SIGKILL and wait for the exit; the AOF stays. */
  kill(): Promise<void>
  /** Starts the server again from its config file (which Sentinel may have rewritten) and waits until it answers. */
  restart(): Promise<void>
  running(): boolean
}

/** Three redis-server (AOF on, as the chart configures) and three redis-sentinel (quorum 2) on loopback. */
export interface RedisHa {
  readonly masterName: string
  readonly password: string
  readonly nodes: RedisNode[]
  /** REDIS_SENTINELS for the services. */
  readonly sentinelsEnv: string
  /** Port of the server the Sentinels name as master now. */
  masterPort(): Promise<number>
  /** The node the Sentinels name as master now. */
  master(): Promise<RedisNode>
  /** Waits until the Sentinels name a master other than `port`, and that master takes writes. */
  waitForNewMaster(port: number, timeoutMs?: number): Promise<number>
  /** Waits until the named master takes writes and has `replicas` replicas in sync. */
  waitHealthy(replicas?: number, timeoutMs?: number): Promise<void>
  /** The replication role one server reports now ('master' or 'slave'). */
  role(port: number): Promise<string>
  /** A direct client of one server (no Sentinel), for probes; the caller disconnects it. */
  client(port: number): Redis
  stop(): Promise<void>
}

/**
 * What a Redis set under fault answers for a while: refused or dropped connections, a server
 * still loading its AOF, a demoted master, a paused one (time-out). A wait during a fault treats
 * these as "not yet"; anything else fails it at once.
 */
export function redisTransient(error: unknown): boolean {
  return (
    connectionRefused(error) ||
    /LOADING|MASTERDOWN|READONLY|NOREPLICAS|Connection is closed|Command timed out|ETIMEDOUT|no Sentinel named a master/.test(String(error))
  )
}

/** Connects to one server, runs `use`, disconnects (a paused server times out after 2 s). */
const withClient = <T>(port: number, password: string, use: (client: Redis) => Promise<T>): Promise<T> =>
  withServer(port, password, use, {commandTimeoutMs: 2000})

/** Starts the set and waits until the master has both replicas and the Sentinels know each other. */
export async function startRedisHa(options: RedisHaOptions = {}): Promise<RedisHa> {
  requireBinary('redis-server', 'sudo apt-get install -y redis-server')
  requireBinary('redis-sentinel', 'sudo apt-get install -y redis-sentinel')
  const password = options.password ?? 'chaos-redis-password'
  const masterName = options.masterName ?? 'mymaster'
  const root = mkdtempSync(join(tmpdir(), 'keda-lab-chaos-redis-'))
  const nodes: RedisNode[] = []
  const children: ChildProcess[] = []

  const writeServerConfig = (index: number, port: number): string => {
    const dir = join(root, `redis-${index}`)
    mkdirSync(dir, {recursive: true})
    const file = join(dir, 'redis.conf')
    writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        // What templates/values/redis-ha.yaml sets under redis.config.
        `appendonly ${options.appendonly === false ? 'no' : 'yes'}`,
        `appendfsync ${options.appendfsync ?? 'everysec'}`,
        'maxmemory-policy noeviction',
        `min-replicas-to-write ${options.minReplicasToWrite ?? 0}`,
        `min-replicas-max-lag ${options.minReplicasMaxLag ?? 10}`,
        'save ""',
        `requirepass ${password}`,
        `masterauth ${password}`,
        ...(index === 0 ? [] : [`replicaof 127.0.0.1 ${nodes[0]!.port}`]),
        '',
      ].join('\n'),
    )
    return file
  }
  const spawnServer = (file: string) => {
    const child = spawnTracked('redis-server', [file])
    children.push(child)
    return child
  }

  // The first server is the master the others replicate, and the one the Sentinels are told of.
  for (let index = 0; index < 3; index++) {
    const started = await startOnFreePort((port) => spawnServer(writeServerConfig(index, port)), password, `redis-server ${index}`, {
      ignore: redisTransient,
    })
    const {port} = started
    const file = join(root, `redis-${index}`, 'redis.conf')
    let child: ChildProcess | undefined = started.child
    nodes.push({
      port,
      get pid() {
        return child?.pid
      },
      signal: (signal) => {
        child?.kill(signal)
      },
      async kill() {
        if (child) await stopProcess(child, 'SIGKILL')
      },
      // The same port and data directory: a restarted server replays its own AOF (LOADING meanwhile).
      async restart() {
        child = spawnServer(file)
        await waitUntilServing(child, port, password, `redis-server ${index}`, {ignore: redisTransient})
      },
      running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    })
  }

  const sentinelDir = join(root, 'sentinels')
  mkdirSync(sentinelDir)
  const sentinelPorts: number[] = []
  for (let index = 0; index < 3; index++) {
    const started = await startOnFreePort(
      (port) => {
        const child = spawnSentinel(join(sentinelDir, `sentinel-${index}.conf`), {
          port,
          dir: sentinelDir,
          masterName,
          masterPort: nodes[0]!.port,
          password,
          downAfterMs: options.downAfterMs ?? 2000,
          failoverTimeoutMs: 10_000,
        })
        children.push(child)
        return child
      },
      password,
      `redis-sentinel ${index}`,
    )
    sentinelPorts.push(started.port)
  }

  const masterPort = async (): Promise<number> => {
    let lastError: unknown
    for (const port of sentinelPorts) {
      try {
        const reply = await withClient(port, password, (c) => c.call('SENTINEL', 'get-master-addr-by-name', masterName) as Promise<string[] | null>)
        if (reply) return Number(reply[1])
      } catch (error) {
        lastError = error
      }
    }
    throw new Error(`no Sentinel named a master: ${String(lastError)}`)
  }
  const takesWrites = (port: number) =>
    withClient(port, password, async (c) => (await c.info('replication')).includes('role:master') && (await c.set('chaos:probe', String(Date.now()))) === 'OK')

  const waitHealthy = async (replicas = 2, timeoutMs = 60_000) => {
    await waitFor(
      async () => {
        const port = await masterPort()
        return withClient(port, password, async (c) => {
          const info = await c.info('replication')
          if (!info.includes('role:master')) return notYet(`the named master :${port} is not a master yet`)
          const synced = info.split('\n').filter((line) => /^slave\d+:.*state=online/.test(line)).length
          return synced >= replicas || notYet(`${synced} replicas in sync`)
        })
      },
      {timeoutMs, intervalMs: 200, what: `Redis master with ${replicas} replicas in sync`, ignore: redisTransient},
    )
    // The Sentinels must know each other and the replicas before they can fail over.
    await waitFor(
      () =>
        withClient(sentinelPorts[0]!, password, async (c) => {
          const info = (await c.call('SENTINEL', 'master', masterName)) as string[]
          const field = (name: string) => Number(info[info.indexOf(name) + 1])
          return (
            (field('num-other-sentinels') >= 2 && field('num-slaves') >= replicas) ||
            notYet(`Sentinel sees ${field('num-other-sentinels')} others, ${field('num-slaves')} replicas`)
          )
        }),
      {timeoutMs, intervalMs: 200, what: 'Sentinels discovering each other and the replicas', ignore: redisTransient},
    )
  }
  await waitHealthy()

  return {
    masterName,
    password,
    nodes,
    sentinelsEnv: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
    masterPort,
    async master() {
      const port = await masterPort()
      return nodes.find((n) => n.port === port)!
    },
    waitForNewMaster: (from, timeoutMs = 60_000) =>
      waitFor(
        async () => {
          const port = await masterPort()
          return port !== from && (await takesWrites(port)) ? port : undefined
        },
        {timeoutMs, intervalMs: 100, what: `a master other than ${from}`, ignore: redisTransient},
      ),
    waitHealthy,
    role: (port) => withClient(port, password, async (c) => /role:(\w+)/.exec(await c.info('replication'))?.[1] ?? 'unknown'),
    client: (port) => {
      const client = new Redis({port, host: '127.0.0.1', password, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true})
      client.on('error', () => {})
      return client
    },
    async stop() {
      for (const node of nodes) node.signal('SIGCONT')
      await Promise.all(children.map((child) => stopProcess(child, 'SIGKILL')))
      rmSync(root, {recursive: true, force: true})
    },
  }
}
