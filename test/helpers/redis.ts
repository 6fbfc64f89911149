import type {ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {Redis} from 'ioredis'

import {connectionRefused, freePort, notYet, requireBinary, spawnTracked, stopProcess, waitFor} from './processes.js'

export interface RedisServer {
  port: number
  url: string
  password?: string
  stop(): Promise<void>
  /** Kills the server (SIGKILL) and keeps its port, so `restart()` brings it back on the same port. */
  kill(): Promise<void>
  restart(): Promise<void>
}

/**
 * Connects to a loopback Redis and runs `use`. A refused connection throws the socket's own error
 * (code ECONNREFUSED, which `connectionRefused` recognises) instead of ioredis' bare
 * "Connection is closed.", so a wait can tolerate exactly that and nothing else.
 */
export async function withClient<T>(
  port: number,
  password: string | undefined,
  use: (client: Redis) => Promise<T>,
  options: {commandTimeoutMs?: number} = {},
): Promise<T> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    commandTimeout: options.commandTimeoutMs,
  })
  let socketError: Error | undefined
  client.on('error', (error: Error) => (socketError ??= error))
  try {
    try {
      await client.connect()
    } catch (error) {
      throw socketError ?? error
    }
    return await use(client)
  } finally {
    client.disconnect()
  }
}

async function ping(port: number, password?: string): Promise<boolean> {
  const reply = await withClient(port, password, (client) => client.ping())
  if (reply !== 'PONG') throw new Error(`redis-server on ${port} answered PING with ${reply}`)
  return true
}

/** A Redis-family process that ended before it answered PING; `output` is what it last printed. */
export class ExitedBeforeReady extends Error {
  constructor(
    readonly what: string,
    readonly output: string,
  ) {
    super(`${what} exited before it answered PING; its last output:\n${output || '(nothing)'}`)
  }
}

/**
 * Reads a child's stdout and stderr as they come, keeping the last `limit` characters: an unread
 * pipe blocks a server once it is full (Sentinel logs every failover step), and the tail says why
 * a server that died did.
 */
function keepOutput(child: ChildProcess, limit = 8192): () => string {
  let tail = ''
  const add = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-limit)
  }
  child.stdout?.on('data', add)
  child.stderr?.on('data', add)
  return () => tail
}

/**
 * Waits until the server `child` started on `port` answers PING; throws {@link ExitedBeforeReady}
 * as soon as it exits instead (a taken port, a bad config), not after the whole timeout.
 */
export async function waitUntilServing(
  child: ChildProcess,
  port: number,
  password: string | undefined,
  what: string,
  {timeoutMs = 30_000, ignore = connectionRefused}: {timeoutMs?: number; ignore?: (error: unknown) => boolean} = {},
): Promise<void> {
  const output = keepOutput(child)
  await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new ExitedBeforeReady(`${what} on ${port}`, output())
      return ping(port, password)
    },
    {timeoutMs, what: `${what} on ${port}`, ignore: (error) => !(error instanceof ExitedBeforeReady) && ignore(error)},
  )
}

/**
 * Starts a redis-server or redis-sentinel (`start(port)` writes its config and spawns it) on a port
 * from freePort and waits until it answers PING. freePort releases the port before the server
 * binds it, and any outgoing connection on the machine may take it in between; a server that
 * exits before it answers is started again on a new port, three times in all, and the last
 * failure is thrown with the server's own output.
 */
export async function startOnFreePort(
  start: (port: number) => ChildProcess,
  password: string | undefined,
  what: string,
  wait: Parameters<typeof waitUntilServing>[4] = {},
): Promise<{port: number; child: ChildProcess}> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const child = start(port)
    try {
      await waitUntilServing(child, port, password, what, wait)
      return {port, child}
    } catch (error) {
      if (!(error instanceof ExitedBeforeReady) || attempt === 3) throw error
    }
  }
}

/**
 * The errors a client sees while Sentinel switches masters, and nothing else: a refused or reset
 * connection, ioredis' "Connection is closed." while it reconnects, and READONLY from a master
 * just demoted to a replica. For `waitFor(..., {ignore: failoverTransient})` around a failover.
 */
export function failoverTransient(error: unknown): boolean {
  return connectionRefused(error) || /^(READONLY |Connection is closed\.)/.test(error instanceof Error ? error.message : '')
}

/** Starts a real redis-server on a free port, without persistence. */
export async function startRedis(options: {password?: string; extraArgs?: string[]} = {}): Promise<RedisServer> {
  requireBinary('redis-server', 'sudo apt-get install -y redis-server')
  const dir = mkdtempSync(join(tmpdir(), 'keda-lab-redis-'))
  // --shutdown-timeout 0: on SIGTERM a master does not wait (10 s by default) for its replicas to
  // catch up; a test's Redis holds nothing worth that wait, and stop() must not outlast a cleanup.
  const argsFor = (port: number) => [
    ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--shutdown-timeout', '0', '--dir', dir],
    ...(options.password ? ['--requirepass', options.password] : []),
    ...(options.extraArgs ?? []),
  ]
  const started = await startOnFreePort((port) => spawnTracked('redis-server', argsFor(port)), options.password, 'redis-server')
  const port = started.port
  let child = started.child
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    password: options.password,
    async stop() {
      await stopProcess(child)
      rmSync(dir, {recursive: true, force: true})
    },
    async kill() {
      await stopProcess(child, 'SIGKILL')
    },
    async restart() {
      child = spawnTracked('redis-server', argsFor(port))
      await waitUntilServing(child, port, options.password, 'redis-server')
    },
  }
}

export interface SentinelSet {
  masterName: string
  password: string
  sentinels: {host: string; port: number}[]
  /** REDIS_SENTINELS value, e.g. "127.0.0.1:1234,127.0.0.1:1235". */
  sentinelsEnv: string
  /** Port of the server the Sentinels currently name as master. */
  masterPort(): Promise<number>
  /** Asks the Sentinels to fail over and waits until a different server is master. */
  failover(): Promise<{from: number; to: number}>
  stop(): Promise<void>
}

/** What one redis-sentinel watches, and how. */
export interface SentinelConfig {
  port: number
  /** Its working folder (Sentinel rewrites its config file as it learns). */
  dir: string
  masterName: string
  masterPort: number
  /** The password of the Redis servers and of the Sentinels themselves. */
  password: string
  downAfterMs: number
  failoverTimeoutMs: number
}

/**
 * Writes `file` for a password-protected redis-sentinel on 127.0.0.1 that monitors the master on
 * 127.0.0.1 (quorum 2), and starts it (stopped whatever happens, see spawnTracked).
 */
export function spawnSentinel(file: string, config: SentinelConfig): ReturnType<typeof spawnTracked> {
  const {port, dir, masterName, masterPort, password} = config
  writeFileSync(
    file,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
      `sentinel auth-pass ${masterName} ${password}`,
      `sentinel down-after-milliseconds ${masterName} ${config.downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${config.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${masterName} 1`,
      `requirepass ${password}`,
      `sentinel sentinel-pass ${password}`,
      '',
    ].join('\n'),
  )
  return spawnTracked('redis-sentinel', [file])
}

/**
 * A real Sentinel deployment on loopback: one master, one replica, three redis-sentinel
 * processes (quorum 2), all password-protected, like the chart's redis-ha.
 */
export async function startSentinelSet(options: {password?: string; masterName?: string} = {}): Promise<SentinelSet> {
  requireBinary('redis-sentinel', 'sudo apt-get install -y redis-sentinel')
  const password = options.password ?? 'test-redis-password'
  const masterName = options.masterName ?? 'mymaster'
  const master = await startRedis({password, extraArgs: ['--masterauth', password]})
  const replica = await startRedis({
    password,
    extraArgs: ['--masterauth', password, '--replicaof', '127.0.0.1', String(master.port)],
  })
  await waitFor(
    () =>
      withClient(replica.port, password, async (client) => {
        const link = /master_link_status:(\w+)/.exec(await client.info('replication'))?.[1]
        return link === 'up' || notYet(`master_link_status:${link}`)
      }),
    {what: 'replica in sync'},
  )

  const dir = mkdtempSync(join(tmpdir(), 'keda-lab-sentinel-'))
  const sentinels: {host: string; port: number}[] = []
  const children: ReturnType<typeof spawnTracked>[] = []
  for (let i = 0; i < 3; i++) {
    const {port, child} = await startOnFreePort(
      (port) =>
        spawnSentinel(join(dir, `sentinel-${i}.conf`), {port, dir, masterName, masterPort: master.port, password, downAfterMs: 1000, failoverTimeoutMs: 5000}),
      password,
      `redis-sentinel ${i}`,
    )
    children.push(child)
    sentinels.push({host: '127.0.0.1', port})
  }
  const askMaster = async (): Promise<number> => {
    for (const s of sentinels) {
      const client = new Redis({port: s.port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null})
      client.on('error', () => {})
      try {
        await client.connect()
        const reply = (await client.call('SENTINEL', 'get-master-addr-by-name', masterName)) as string[] | null
        if (reply) return Number(reply[1])
      } catch {
        // try the next Sentinel
      } finally {
        client.disconnect()
      }
    }
    throw new Error('no Sentinel answered')
  }
  // All three Sentinels must know each other and the replica before a failover can succeed.
  // A Sentinel opens its port a moment after it starts: only a refused connection means "not yet".
  await waitFor(
    () =>
      withClient(sentinels[0]!.port, password, async (client) => {
        const info = (await client.call('SENTINEL', 'master', masterName)) as string[]
        const field = (name: string) => Number(info[info.indexOf(name) + 1])
        const [others, replicas] = [field('num-other-sentinels'), field('num-slaves')]
        return (others >= 2 && replicas >= 1) || notYet(`${others} other Sentinels, ${replicas} replicas`)
      }),
    {timeoutMs: 20_000, what: 'Sentinels discovering each other', ignore: connectionRefused},
  )

  return {
    masterName,
    password,
    sentinels,
    sentinelsEnv: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
    masterPort: askMaster,
    async failover() {
      const from = await askMaster()
      const client = new Redis({port: sentinels[0]!.port, password})
      try {
        await client.call('SENTINEL', 'failover', masterName)
      } finally {
        client.disconnect()
      }
      const to = await waitFor(
        async () => {
          const port = await askMaster()
          return port !== from ? port : notYet(`master still on ${port}`)
        },
        {timeoutMs: 20_000, what: 'Sentinel failover'},
      )
      // The failover is over when the old master has been turned into a replica.
      await waitFor(
        () =>
          withClient(from, password, async (client) => {
            const role = /role:(\w+)/.exec(await client.info('replication'))?.[1]
            return role === 'slave' || notYet(`role:${role}`)
          }),
        // Redis drops its clients while it turns from master into replica: a closed connection is "not yet".
        {timeoutMs: 20_000, what: 'old master reconfigured as replica', ignore: failoverTransient},
      )
      return {from, to}
    },
    async stop() {
      await Promise.all(children.map((c) => stopProcess(c)))
      await replica.stop()
      await master.stop()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
