import {createServer} from 'node:net'
import {dirname} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {waitFor} from '../helpers/processes.js'
import {type DevRun, cleanupDev, descendants, isAlive, startDev} from './dev-harness.js'

/** What goes wrong in `keda-lab dev` is said in two lines (what, how to fix), never a stack trace. */

const noStack = (text: string) => expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)

let crashed: DevRun | undefined
afterAll(async () => {
  await cleanupDev(crashed)
})

describe('keda-lab dev: errors', () => {
  it('says how to install redis-server when it is not on PATH', async () => {
    // Only node's own directory on PATH: no redis-server.
    const result = await runCli(['dev', '--api-port', '0'], {env: {PATH: dirname(process.execPath)}, timeoutMs: 60_000})
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('Error: redis-server was not found on PATH')
    expect(result.stderr).toContain('sudo apt-get install redis-server')
    expect(result.stderr).toContain('brew install redis')
    expect(result.stderr).toContain('--redis-url')
    noStack(result.stderr)
  })

  it('refuses a busy API port before starting anything', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, resolve))
    const port = (server.address() as {port: number}).port
    try {
      const result = await runCli(['dev', '--api-port', String(port)], {timeoutMs: 60_000})
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(`Error: port ${port} is already in use`)
      expect(result.stderr).toContain('--api-port 0')
      expect(result.stdout).not.toContain('[redis]')
      noStack(result.stderr)
    } finally {
      server.close()
    }
  })

  it('rejects bad settings in one line naming the flag', async () => {
    const bad = await runCli(['dev', '--redis-url', 'localhost:6379'], {timeoutMs: 60_000})
    expect(bad.code).toBe(78)
    expect(bad.stderr).toContain('Error: --redis-url must be a redis:// or rediss:// URL')
    noStack(bad.stderr)

    const range = await runCli(['dev', '--autoscale', '--min-workers', '4', '--max-workers', '2'], {timeoutMs: 60_000})
    expect(range.code).toBe(78)
    expect(range.stderr).toContain('min replicas (4) must not exceed max replicas (2)')
    noStack(range.stderr)

    const unreachable = await runCli(['dev', '--api-port', '0', '--redis-url', 'redis://127.0.0.1:1'], {timeoutMs: 60_000})
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toContain('Error: cannot reach Redis at redis://127.0.0.1:1')
    noStack(unreachable.stderr)
  })

  it('stops everything and names the child when one dies on its own', async () => {
    crashed = startDev(['--api-port', '0', '--workers', '1'])
    await crashed.waitForLine(/^\[dev\]\s+keda-lab dev is running/, 90_000)
    const pid = Number((await crashed.waitForLine(/^\[dev\]\s+started worker-1 \(pid (\d+)\)/))[1])
    const children = descendants(crashed.child.pid!)
    process.kill(pid, 'SIGKILL')
    const exit = await crashed.exited
    expect(exit.code).toBe(1)
    const out = crashed.output()
    expect(out).toContain(`worker-1 (pid ${pid}) exited unexpectedly (killed by SIGKILL); stopping everything`)
    expect(out).toContain('Error: worker-1 exited unexpectedly (killed by SIGKILL), so keda-lab dev stopped everything')
    expect(out).toMatch(/^\[dev\]\s+stopped .*api/m)
    await waitFor(() => children.every((p) => !isAlive(p)), {timeoutMs: 5000, what: 'every child to be gone'})
  }, 120_000)
})
