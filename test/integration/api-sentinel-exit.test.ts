/**
 * `keda-lab serve api` in Sentinel mode stops on SIGTERM: ioredis' quit() left the Sentinel
 * connections of its failover detector open and the process never exited (found by the chaos
 * harness; in a cluster every API pod would wait out its termination grace period).
 */
import type {ChildProcess} from 'node:child_process'
import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEntry, repoRoot} from '../helpers/cli.js'
import {connectionRefused, freePort, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {type SentinelSet, startSentinelSet} from '../helpers/redis.js'

describe('serve api with Sentinels', () => {
  let set: SentinelSet
  let child: ChildProcess | undefined
  beforeAll(async () => {
    set = await startSentinelSet()
  }, 60_000)
  afterAll(async () => {
    if (child) await stopProcess(child, 'SIGKILL')
    await set?.stop()
  })

  it('exits by itself with code 0 after SIGTERM', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()]
    child = spawnTracked(process.execPath, [cliEntry(), 'serve', 'api'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        REDIS_SENTINELS: set.sentinelsEnv,
        REDIS_SENTINEL_MASTER: set.masterName,
        REDIS_PASSWORD: set.password,
        REDIS_SENTINEL_PASSWORD: set.password,
        QUEUE_NAME: `test-${randomUUID()}`,
      },
    })
    let output = ''
    child.stdout!.on('data', (d) => (output += d))
    child.stderr!.on('data', (d) => (output += d))
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)))
    await waitFor(
      async () => {
        if (child!.exitCode !== null) throw new Error(`the API exited at start-up (${child!.exitCode}): ${output.slice(-600)}`)
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200
      },
      {timeoutMs: 60_000, what: 'API ready', ignore: connectionRefused},
    )
    child.kill('SIGTERM')
    // Generous margin for a loaded machine: before the fix it never exited at all.
    const code = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 45_000))])
    expect(code).toBe(0)
  }, 120_000)
})
