import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {resolveLocalWebhook} from '../../src/lab/alert/local-target.js'
import {redisDataDir, shortenRedisLine} from '../../src/lab/dev/local-redis.js'
import {parentFromProc, watchParent} from '../../src/lab/dev/parent-watch.js'
import {createRestarts, MAX_RESTARTS, RESTART_WINDOW_MS} from '../../src/lab/dev/restarts.js'
import {createRunEnd} from '../../src/lab/dev/run-end.js'
import type {DevState} from '../../src/status/dev-state.js'
import {waitFor} from '../helpers/processes.js'

/** The pieces `keda-lab dev` is made of (src/lab/dev/), each on its own. */

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

describe('restarts: the crash-loop back-off', () => {
  it('restarts at once, then after 1, 2, 4, 8 s; the sixth exit within the window gives up', () => {
    const restarts = createRestarts()
    const delays = []
    for (let i = 0; i < MAX_RESTARTS; i++) {
      const d = restarts.decide('worker-1', 1000 + i)
      expect(d.restart).toBe(true)
      if (d.restart) delays.push(d.delayMs)
    }
    expect(delays).toEqual([0, 1000, 2000, 4000, 8000])
    expect(restarts.decide('worker-1', 2000)).toEqual({restart: false, restarts: MAX_RESTARTS})
    // Another child has its own count; and once the window has passed, the count starts again.
    expect(restarts.decide('api', 2000)).toEqual({restart: true, delayMs: 0, attempt: 1})
    expect(restarts.decide('worker-1', 1000 + RESTART_WINDOW_MS + 10)).toEqual({restart: true, delayMs: 0, attempt: 1})
  })

  it('pending restarts are listed until they run or are cancelled', async () => {
    const restarts = createRestarts()
    let ran = 0
    restarts.schedule('worker-2', 0, () => ran++)
    restarts.schedule('worker-3', 60_000, () => ran++)
    expect(restarts.pending()).toEqual(['worker-2', 'worker-3'])
    await waitFor(() => ran === 1, {timeoutMs: 5000, what: 'the immediate restart'})
    expect(restarts.pending()).toEqual(['worker-3'])
    expect(restarts.cancel('worker-3')).toBe(true)
    expect(restarts.cancel('worker-3')).toBe(false)
    expect(restarts.pending()).toEqual([])
  })
})

describe('run-end: why the run stops', () => {
  it('the first reason wins; a second request says so; interrupted() describes it', async () => {
    const end = createRunEnd()
    expect(end.interrupted()).toBeUndefined()
    expect(end.stop({kind: 'signal', signal: 'SIGINT'})).toBe(true)
    expect(end.stop({kind: 'parent-gone', parentPid: 7})).toBe(false)
    await end.ended
    expect(end.reason()).toEqual({kind: 'signal', signal: 'SIGINT'})
    expect(end.interrupted()).toBe('stopped by SIGINT')
  })
})

describe('parent-watch', () => {
  it('notices a re-parented process, and a parent whose own parent went away (npx → sh → dev)', async () => {
    let own = 100
    const tree = new Map([[100, 50]])
    const gone: number[] = []
    const stop = watchParent({ownParent: () => own, parentOf: (pid) => tree.get(pid), intervalMs: 10, onGone: (pid) => gone.push(pid)})
    tree.set(100, 1) // npx (50) ended: sh (100) adopted by init
    await waitFor(() => gone.length === 1, {timeoutMs: 5000, what: 'the grandparent to be missed'})
    expect(gone).toEqual([50])
    stop()

    const gone2: number[] = []
    own = 200
    const stop2 = watchParent({ownParent: () => own, parentOf: () => undefined, intervalMs: 10, onGone: (pid) => gone2.push(pid)})
    own = 1
    await waitFor(() => gone2.length === 1, {timeoutMs: 5000, what: 'the parent to be missed'})
    expect(gone2).toEqual([200])
    stop2()
  })

  it('reads a parent pid from /proc/PID/stat, whatever the command name holds', () => {
    const parentOf = parentFromProc(() => '1234 (node (a) b) S 4321 1234 1234 0 -1')
    expect(parentOf(1234)).toBe(4321)
    expect(parentFromProc(() => process.ppid.toString())(1)).toBeUndefined()
    expect(parentFromProc((p) => readFileSync(p, 'utf8'))(process.pid)).toBe(process.ppid)
  })
})

describe('local-redis', () => {
  it("shortens Redis's overcommit warning to one line and leaves every other line as it is", () => {
    const warning =
      "25552:M 07 Dec 2026 01:23:55.720 # WARNING Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition. To fix this issue add 'vm.overcommit_memory = 1' to /etc/sysctl.conf"
    const short = shortenRedisLine(warning)
    expect(short).toBe('25552:M 07 Dec 2026 01:23:55.720 # note: memory overcommit is off (harmless here; `sudo sysctl vm.overcommit_memory=1` turns it on)')
    const other = '25552:M 07 Dec 2026 01:23:55.721 * Ready to accept connections tcp'
    expect(shortenRedisLine(other)).toBe(other)
  })

  it('--data-dir is created and kept; a file in its place is one clear error; without it a temporary folder is removed', () => {
    const base = mkdtempSync(join(tmpdir(), 'keda-lab-data-'))
    dirs.push(base)
    const kept = redisDataDir('nested/redis', base)
    expect(kept).toMatchObject({dir: join(base, 'nested/redis'), temporary: false})
    writeFileSync(join(base, 'file'), '')
    expect(() => redisDataDir('file', base)).toThrow(/--data-dir file: cannot use it as Redis's folder/)
    const temporary = redisDataDir(undefined)
    expect(temporary.temporary).toBe(true)
    temporary.remove()
    expect(() => statSync(temporary.dir)).toThrow()
  })
})

describe('alert test --local: the webhook and its token', () => {
  const state = (over: Partial<DevState>): DevState => ({
    pid: 4242,
    apiUrl: 'http://127.0.0.1:8000',
    queue: 'tasks',
    startedAt: '2026-12-07T00:00:00.000Z',
    workers: [],
    decisions: [],
    ...over,
  })
  const withWebhook = state({webhook: {url: 'http://127.0.0.1:34567', token: 'tok-from-state-0123456789'}})

  it('takes the token from the dev run whose webhook it is (an explicit one wins); localhost is 127.0.0.1', () => {
    expect(resolveLocalWebhook({url: 'http://127.0.0.1:34567/alerts', states: [withWebhook]})).toEqual({
      url: 'http://127.0.0.1:34567',
      webhookToken: 'tok-from-state-0123456789',
    })
    expect(resolveLocalWebhook({url: 'localhost:34567', token: 'given', states: [withWebhook]}).webhookToken).toBe('given')
  })

  it("names the webhook when given the API's URL, and says when there is neither a dev run nor a token", () => {
    expect(() => resolveLocalWebhook({url: 'http://localhost:8000', states: [withWebhook]})).toThrow(
      'http://localhost:8000 is the API of keda-lab dev (pid 4242), not its webhook',
    )
    expect(() => resolveLocalWebhook({url: 'http://127.0.0.1:8000', states: [state({})]})).toThrow(/not its webhook/)
    expect(() => resolveLocalWebhook({url: 'http://127.0.0.1:1', states: []})).toThrow(/no running keda-lab dev has its webhook there, and no token was given/)
  })
})
