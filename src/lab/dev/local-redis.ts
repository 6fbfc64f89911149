/**
 * The Redis of a `keda-lab dev` run: the folder its append-only file lives in (temporary, or
 * `--data-dir` kept across runs), how redis-server is started, what its log says, and how many
 * tasks a stop would leave queued.
 */
import {mkdirSync, mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {describeRedis, redisOptions} from '../../adapters/redis.js'
import {KedaLabError} from '../../errors.js'

/** Where redis-server keeps its append-only file. */
export interface RedisDataDir {
  dir: string
  /** True for a folder made for this run and removed at its end (without --data-dir). */
  temporary: boolean
  /** Removes a temporary folder; a --data-dir is kept. Safe to call more than once. */
  remove(): void
}

/** The --data-dir folder (created when missing), or a new temporary one. */
export function redisDataDir(dataDir: string | undefined, cwd = process.cwd()): RedisDataDir {
  if (dataDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'keda-lab-dev-redis-'))
    return {dir, temporary: true, remove: () => rmSync(dir, {recursive: true, force: true})}
  }
  const dir = resolve(cwd, dataDir)
  try {
    mkdirSync(dir, {recursive: true})
    if (!statSync(dir).isDirectory()) throw new Error('not a folder')
  } catch (error) {
    throw new KedaLabError(`--data-dir ${dataDir}: cannot use it as Redis's folder (${(error as Error).message})`, {
      hint: 'pass a folder you can write to, e.g. --data-dir .keda-lab/redis (it is created if missing)',
    })
  }
  return {dir, temporary: false, remove: () => {}}
}

/** redis-server's command line: loopback only, AOF on (a restarted Redis gets the queue back), no RDB snapshots. */
export function redisServerArgs(port: number, dir: string): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir]
}

const OVERCOMMIT = /# WARNING Memory overcommit must be enabled!/

/**
 * Redis's own lines, except the overcommit warning: three wrapped lines on every start, about
 * background saves under memory pressure that a local AOF-only Redis does not make. One short
 * line says the same and how to silence it.
 */
export function shortenRedisLine(line: string): string {
  if (!OVERCOMMIT.test(line)) return line
  const prefix = line.slice(0, line.search(OVERCOMMIT))
  return `${prefix}# note: memory overcommit is off (harmless here; \`sudo sysctl vm.overcommit_memory=1\` turns it on)`
}

/** The tasks still queued (BullMQ's wait, active, prioritized and delayed), what a stop would leave behind. */
export async function countQueued(url: string, queue: string): Promise<number> {
  const {Redis} = await import('ioredis')
  const client = new Redis(
    redisOptions({mode: 'standalone', url}, {lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000}),
  )
  client.on('error', () => {})
  try {
    await client.connect()
    const key = (name: string) => `bull:${queue}:${name}`
    const [wait, active, prioritized, delayed] = await Promise.all([
      client.llen(key('wait')),
      client.llen(key('active')),
      client.zcard(key('prioritized')),
      client.zcard(key('delayed')),
    ])
    return wait + active + prioritized + delayed
  } finally {
    client.disconnect()
  }
}

/** True when Redis at `url` answers PING. */
export async function pingRedis(url: string): Promise<boolean> {
  const {Redis} = await import('ioredis')
  const client = new Redis(
    redisOptions({mode: 'standalone', url}, {lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000}),
  )
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } finally {
    client.disconnect()
  }
}

/** Throws a KedaLabError naming the Redis (password hidden) when --redis-url does not answer. */
export async function checkRedis(url: string): Promise<void> {
  let reason = 'no answer'
  const ok = await pingRedis(url).catch((error: Error) => {
    reason = error.message
    return false
  })
  if (!ok) {
    throw new KedaLabError(`cannot reach Redis at ${describeRedis({mode: 'standalone', url})}: ${reason}`, {
      hint: 'check that it runs and the URL (and password) are right, or leave out --redis-url to start a local redis-server',
    })
  }
}
