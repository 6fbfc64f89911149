import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {cliEntry, repoRoot} from '../helpers/cli.js'
import {spawnTracked, waitFor} from '../helpers/processes.js'
import {type DevRun, cleanupDev, descendants, isAlive, request, startDev} from './dev-harness.js'

/**
 * How `keda-lab dev` ends, as a user meets it: Ctrl-C says how many queued tasks a temporary Redis
 * took with it, `--data-dir` keeps them for the next run, a closed terminal (SIGHUP to the process
 * group, the output gone) still cleans up, and dev stops when whoever started it (npx killed by a
 * process manager) is gone.
 */

const runs: DevRun[] = []
const dirs: string[] = []
afterAll(async () => {
  for (const run of runs) await cleanupDev(run)
  for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
})

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

/** A dev run whose temporary folders (Redis's among them) go to a TMPDIR of its own, so a leftover is seen. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): {dev: DevRun; tmp: string} {
  const tmp = tempDir('keda-lab-dev-tmp-')
  const dev = startDev(['--api-port', '0', ...args], {TMPDIR: tmp, KEDA_LAB_STATE_DIR: join(tmp, 'state'), ...env})
  runs.push(dev)
  return {dev, tmp}
}

const API = /^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+API\s+(http:\/\/127\.0\.0\.1:\d+)/
const redisFolders = (tmp: string) => readdirSync(tmp).filter((name) => name.startsWith('keda-lab-dev-redis-'))

async function queueTasks(api: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await request(`${api}/api/tasks/add`, {method: 'POST'})).status).toBe(200)
}

describe('keda-lab dev: stopping', () => {
  it('Ctrl-C says how many queued tasks were discarded with the temporary Redis, and removes its folder', async () => {
    const {dev, tmp} = start(['--workers', '0'])
    const api = (await dev.waitForLine(API, 90_000))[1]!
    expect(redisFolders(tmp)).toHaveLength(1)
    await queueTasks(api, 5)
    dev.child.kill('SIGINT')
    await dev.waitForLine(/discarded 5 queued task\(s\) with the temporary Redis; `keda-lab dev --data-dir DIR` keeps them for the next run/, 60_000)
    expect((await dev.exited).code).toBe(0)
    expect(redisFolders(tmp)).toEqual([])
  }, 180_000)

  it('--data-dir keeps the queue across runs', async () => {
    const data = join(tempDir('keda-lab-dev-data-'), 'redis')
    const first = start(['--workers', '0', '--data-dir', data])
    const api = (await first.dev.waitForLine(API, 90_000))[1]!
    await first.dev.waitForLine(/Redis\s+redis:\/\/127\.0\.0\.1:\d+ \(started here; append-only file kept in /)
    await queueTasks(api, 3)
    first.dev.child.kill('SIGTERM')
    await first.dev.waitForLine(new RegExp(`3 queued task\\(s\\) kept in ${data.replaceAll('/', '\\/')}`), 60_000)
    expect((await first.dev.exited).code).toBe(0)
    expect(readdirSync(data).length).toBeGreaterThan(0)

    const second = start(['--workers', '0', '--data-dir', data])
    const api2 = (await second.dev.waitForLine(API, 90_000))[1]!
    const queue = await request(`${api2}/api/queue`)
    expect((queue.body as {counts: {waiting: number}}).counts.waiting).toBe(3)
    second.dev.child.kill('SIGINT')
    await second.dev.exited
  }, 240_000)

  it('a closed terminal (SIGHUP to the process group, output gone) still stops every child and removes the Redis folder', async () => {
    const {dev, tmp} = start(['--workers', '1'])
    await dev.waitForLine(API, 90_000)
    const children = descendants(dev.child.pid!)
    expect(children.length).toBeGreaterThanOrEqual(3)
    // The terminal goes away: nobody reads the output any more, and the group gets SIGHUP.
    dev.child.stdout!.destroy()
    dev.child.stderr!.destroy()
    process.kill(-dev.child.pid!, 'SIGHUP')
    await dev.exited
    await waitFor(() => children.every((pid) => !isAlive(pid)), {timeoutMs: 30_000, what: 'every child to be gone'})
    expect(redisFolders(tmp)).toEqual([])
  }, 180_000)

  it('stops everything when the process that started it is gone (npx → sh → keda-lab, npx SIGTERMed alone)', async () => {
    const tmp = tempDir('keda-lab-dev-tmp-')
    // A stand-in for npx: a node process that runs the CLI through `sh -c`, as npm exec does.
    const command = `'${process.execPath}' '${cliEntry()}' dev --api-port 0 --workers 1`
    const launcher = spawnTracked(process.execPath, ['-e', `require('node:child_process').spawn('sh', ['-c', process.argv[1]], {stdio: 'inherit'})`, command], {
      cwd: repoRoot,
      env: {...process.env, NO_COLOR: '1', TMPDIR: tmp, KEDA_LAB_STATE_DIR: join(tmp, 'state')},
    })
    let output = ''
    launcher.stdout!.on('data', (d) => (output += d))
    launcher.stderr!.on('data', (d) => (output += d))
    await waitFor(() => /keda-lab dev is running/.test(output), {timeoutMs: 90_000, what: 'dev to run'})
    const tree = descendants(launcher.pid!)
    expect(tree.length).toBeGreaterThanOrEqual(4) // sh, dev, redis, api, worker…
    launcher.kill('SIGTERM')
    await waitFor(() => /the process that started keda-lab dev \(pid \d+\) is gone: stopping everything/.test(output), {
      timeoutMs: 30_000,
      what: 'dev to notice',
    })
    await waitFor(() => tree.every((pid) => !isAlive(pid)), {timeoutMs: 60_000, what: 'dev and its children to be gone'})
    expect(redisFolders(tmp)).toEqual([])
  }, 180_000)
})
