/**
 * `keda-lab status --local` against a real `keda-lab dev --autoscale` stack (real redis-server, API
 * and workers): found through the state file dev writes (no URL given), the queue as the API
 * reports it, the worker processes and the autoscaler's decisions; with a URL; the file removed
 * when dev stops; nothing running (exit 3) and a URL where nothing answers (exit 4).
 */
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import type {LocalStatusReport} from '../../src/status/model.js'
import {cliEntry, repoRoot, runCli} from '../helpers/cli.js'
import {freePort, notYet, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {autoscaleDevArgs, autoscaledDevRunning, type DevRun, cleanupDev, request, startDev} from './dev-harness.js'

const stateDir = mkdtempSync(join(tmpdir(), 'keda-lab-state-'))
const env = {KEDA_LAB_STATE_DIR: stateDir}
let dev: DevRun | undefined

afterAll(async () => {
  await cleanupDev(dev)
  rmSync(stateDir, {recursive: true, force: true})
})

const status = async (args: string[]) => {
  const result = await runCli(['status', '--local', ...args], {env, timeoutMs: 60_000})
  return {...result, report: args.includes('--json') ? (JSON.parse(result.stdout) as LocalStatusReport) : undefined}
}

describe('keda-lab status --local', () => {
  it('nothing running: exit 3 (the screen says not running), as JSON too', async () => {
    const result = await status(['--json'])
    expect(result.code, result.stderr).toBe(3)
    expect(result.report).toMatchObject({target: 'local', verdict: 'not-installed', exitCode: 3})
    expect(result.report!.reasons[0]).toContain('no running keda-lab dev was found')
  })

  it('--watch without a terminal: one plain report after another until Ctrl-C, exit code of the last', async () => {
    const child = spawnTracked(process.execPath, [cliEntry(), 'status', '--local', '--watch', '--interval', '1'], {
      cwd: repoRoot,
      env: {...process.env, ...env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    try {
      await waitFor(() => out.split('\n---\n').length >= 3, {timeoutMs: 60_000, intervalMs: 100, what: 'two refreshes'})
      child.kill('SIGINT')
      expect(await exited).toBe(3)
      const frames = out.split('\n---\n').filter((f) => f.trim())
      expect(frames.length).toBeGreaterThanOrEqual(2)
      for (const frame of frames) expect(frame.split('\n')[0]).toBe('keda-lab status (dev): - not running')
      expect(out).not.toContain('\u001B[')
    } finally {
      await stopProcess(child, 'SIGKILL', 1000)
    }
  })

  it('a URL where nothing answers: exit 4 with the address tried', async () => {
    const port = await freePort()
    const result = await status([`http://127.0.0.1:${port}`])
    expect(result.code).toBe(4)
    expect(result.stderr).toContain(`Error: Cannot reach the keda-lab API at http://127.0.0.1:${port} (ECONNREFUSED)`)
    expect(result.stderr).toContain('keda-lab dev')
  })

  it('finds the running dev stack, shows its queue, workers and autoscaling decisions; the state file goes with it', async () => {
    dev = startDev(autoscaleDevArgs({taskIterations: 20_000_000}), env)
    const api = await autoscaledDevRunning(dev)

    const idle = await status(['--json'])
    expect(idle.code, idle.stderr).toBe(0)
    expect(idle.report).toMatchObject({target: 'local', verdict: 'healthy', exitCode: 0, apiUrl: api, apiReady: true})
    expect(idle.report!.dev).toMatchObject({
      pid: dev.child.pid,
      workers: ['worker-1'],
      autoscale: {minWorkers: 1, maxWorkers: 3, tasksPerWorker: 1, pollingIntervalMs: 1000},
    })
    const queue = (await request(`${api}/api/queue`)).body as {name: string; counts: Record<string, number>; workers: number}
    expect(idle.report!.queue).toMatchObject({available: true, name: queue.name, completed: queue.counts.completed, failed: queue.counts.failed})

    // A burst: dev scales up, and status shows the decision dev printed, word for word.
    const created = await Promise.all(
      Array.from({length: 5}, () => request(`${api}/api/tasks`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{}'})),
    )
    for (const res of created) expect(res.status).toBe(202)
    const decision = (await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+(scale 1 → [23]: .*)$/, 30_000))[1]!
    const busy = await waitFor(
      async () => {
        const r = await status(['--json'])
        return r.report!.dev!.decisions.some((d) => d.message === decision) ? r : notYet('decision not in the state file yet')
      },
      {timeoutMs: 30_000, intervalMs: 500},
    )
    expect(busy.code).toBe(0)
    expect(busy.report!.dev!.decisions[0]!.at).toMatch(/^\d{4}-\d\d-\d\dT/)

    // The screen, with an explicit URL.
    const screen = await status([api])
    expect(screen.code, screen.stderr).toBe(0)
    expect(screen.stdout).toContain(`keda-lab status (dev): √ healthy  (API ${api}`)
    expect(screen.stdout).toMatch(/^Queue "tasks": \d+ waiting, \d+ active, \d+ completed, \d+ failed; \d+ worker\(s\) connected$/m)
    expect(screen.stdout).toMatch(/^Workers: \d process\(es\) \(worker-1/m)
    expect(screen.stdout).toContain('Autoscale: 1..3 workers, 1 task(s) per worker, every 1 s')
    expect(screen.stdout).toContain(decision)

    // Ctrl-C: dev removes its state file; status no longer finds it.
    dev.child.kill('SIGINT')
    await dev.exited
    expect(readdirSync(stateDir).filter((n) => n.endsWith('.json'))).toEqual([])
    expect(existsSync(join(stateDir, `dev-${dev.child.pid}.json`))).toBe(false)
    expect((await status([])).code).toBe(3)
  }, 240_000)

  it('two stacks: names both instead of picking one; localhost finds the stack the state file lists as 127.0.0.1; `status` without a kubeconfig points to --local', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keda-lab-state-'))
    const home = mkdtempSync(join(tmpdir(), 'keda-lab-home-'))
    const twoEnv = {KEDA_LAB_STATE_DIR: dir}
    const a = startDev(['--api-port', '0', '--workers', '0'], twoEnv)
    const b = startDev(['--api-port', '0', '--workers', '0'], twoEnv)
    try {
      const API = /^\[dev\]\s+\S+\s+API\s+http:\/\/127\.0\.0\.1:(\d+)/
      const [portA] = [(await a.waitForLine(API, 90_000))[1]!, (await b.waitForLine(API, 90_000))[1]!]
      await waitFor(() => readdirSync(dir).filter((n) => n.endsWith('.json')).length === 2 || notYet('two state files'), {timeoutMs: 30_000})

      const both = await runCli(['status', '--local'], {env: twoEnv, timeoutMs: 60_000})
      expect(both.code).toBe(2)
      expect(both.stderr).toMatch(
        /^Error: 2 keda-lab dev stacks are running: http:\/\/127\.0\.0\.1:\d+ \(pid \d+, started .*\), http:\/\/127\.0\.0\.1:\d+ \(pid \d+/,
      )
      expect(both.stderr).toMatch(/^Fix: name the one to show: keda-lab status --local http:\/\/127\.0\.0\.1:\d+$/m)

      const byName = await runCli(['status', '--local', `localhost:${portA}`, '--json'], {env: twoEnv, timeoutMs: 60_000})
      expect(byName.code, byName.stderr).toBe(0)
      expect((JSON.parse(byName.stdout) as LocalStatusReport).dev).toMatchObject({pid: a.child.pid})

      const noCluster = await runCli(['status'], {env: {...twoEnv, HOME: home, KUBECONFIG: undefined}, timeoutMs: 60_000})
      expect(noCluster.code).toBe(4)
      expect(noCluster.stderr).toMatch(/^Fix: a keda-lab dev stack runs on this machine \(API http:\/\/127\.0\.0\.1:\d+\): keda-lab status --local$/m)
    } finally {
      a.child.kill('SIGINT')
      b.child.kill('SIGINT')
      await Promise.all([a.exited, b.exited])
      rmSync(dir, {recursive: true, force: true})
      rmSync(home, {recursive: true, force: true})
    }
  }, 240_000)
})
