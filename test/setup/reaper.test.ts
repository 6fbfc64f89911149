import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {repoRoot} from '../helpers/cli.js'
import {notYet, runTracked, waitFor} from '../helpers/processes.js'
import {killGroup, RUN_DIR_ENV, startTimeOf} from './process-registry.js'

/**
 * The processes a test starts go even when the vitest worker that started them is killed
 * (SIGKILL: no `exit` handler, no afterEach). A nested vitest runs test/setup/fixtures/worker-dies.fixture.ts,
 * whose worker starts a shell with a background `sleep` and then kills itself.
 */
describe('processes started by a test whose vitest worker is SIGKILLed', () => {
  let dir: string | undefined
  const orphans: number[] = []
  afterEach(() => {
    for (const pgid of orphans.splice(0)) killGroup(pgid, 'SIGKILL')
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  async function runFixture(env: NodeJS.ProcessEnv): Promise<{child: number; grandchild: number; output: string}> {
    dir = mkdtempSync(join(tmpdir(), 'keda-lab-reaper-'))
    const pidsFile = join(dir, 'pids.json')
    const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs')
    const run = await runTracked(process.execPath, [vitest, 'run', '--config', 'test/setup/fixtures/vitest.config.ts'], {
      cwd: repoRoot,
      env: {...env, KEDA_LAB_FIXTURE_PIDS: pidsFile, NO_COLOR: '1', FORCE_COLOR: '0'},
      timeoutMs: 90_000,
    })
    // The nested run must fail the way a dead worker fails it, or this test proves nothing.
    expect(run.all).toContain('Worker exited unexpectedly with signal SIGKILL')
    expect(run.exitCode).toBe(1)
    expect(existsSync(pidsFile), `the fixture wrote no pids; nested vitest output:\n${run.all}`).toBe(true)
    const pids = JSON.parse(readFileSync(pidsFile, 'utf8')) as {child: number; grandchild: number}
    orphans.push(pids.child)
    return {...pids, output: run.all}
  }

  it('are killed by the global teardown, descendants included', async () => {
    const {child, grandchild} = await runFixture({...process.env, [RUN_DIR_ENV]: ''})
    // Killed processes are reaped by init a moment later: poll for "gone", nothing else.
    await waitFor(
      () => {
        const alive = [child, grandchild].filter((pid) => startTimeOf(pid) !== undefined)
        return alive.length === 0 || notYet(`still alive: ${alive.join(', ')}`)
      },
      {timeoutMs: 5000, what: 'the shell and its sleep to be gone'},
    )
  })

  it('outlive the worker without the global teardown (the control: the teardown is what kills them)', async () => {
    const env: NodeJS.ProcessEnv = {...process.env, KEDA_LAB_FIXTURE_WITHOUT_REAPER: '1'}
    delete env[RUN_DIR_ENV]
    const {child, grandchild} = await runFixture(env)
    expect(startTimeOf(child), 'the shell outlived its worker').toBeDefined()
    expect(startTimeOf(grandchild), 'its sleep outlived its worker').toBeDefined()
  })
})
