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

  it('a child that keeps exiting is restarted with a back-off, then stops everything, naming it', async () => {
    crashed = startDev(['--api-port', '0', '--workers', '1'])
    await crashed.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+keda-lab dev is running/, 90_000)
    let pid = Number((await crashed.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+started worker-1 \(pid (\d+)\)/))[1])
    const children = descendants(crashed.child.pid!)
    // Killed five times, restarted five times: at once, then after 1, 2, 4 and 8 s.
    const pids: number[] = []
    for (let restart = 1; restart <= 5; restart++) {
      pids.push(pid)
      process.kill(pid, 'SIGKILL')
      const delay = restart === 1 ? '' : ` in ${2 ** (restart - 2)} s`
      await crashed.waitForLine(
        new RegExp(
          `worker-1 \\(pid ${pid}\\) exited unexpectedly \\(killed by SIGKILL\\); restarting it${delay} \\(restart ${restart} of at most 5 within 60 s\\)`,
        ),
        20_000,
      )
      pid = Number((await crashed.waitForLine(new RegExp(`restarted worker-1 \\(pid (?!(?:${pids.join('|')})\\))(\\d+)\\)`), 30_000))[1])
    }
    // The sixth exit within the minute: the run stops and says why.
    process.kill(pid, 'SIGKILL')
    const exit = await crashed.exited
    expect(exit.code).toBe(1)
    const out = crashed.output()
    expect(out).toContain(`worker-1 (pid ${pid}) exited unexpectedly again (killed by SIGKILL) after 5 restart(s) within 60 s; stopping everything`)
    expect(out).toContain('Error: worker-1 keeps exiting (5 restart(s) within 60 s, last: killed by SIGKILL), so keda-lab dev stopped everything')
    expect(out).toMatch(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+stopped .*api/m)
    await waitFor(() => [...children, ...pids].every((p) => !isAlive(p)), {timeoutMs: 5000, what: 'every child to be gone'})
  }, 180_000)
})
