import {afterAll, describe, expect, it} from 'vitest'

import {waitFor} from '../helpers/processes.js'
import {type DevRun, cleanupDev, descendants, isAlive, request, startDev} from './dev-harness.js'

/**
 * Ctrl-C while a worker is busy: the first SIGINT asks everything to stop gracefully (the worker
 * may take its grace period to finish or hand back the task); a second one kills at once.
 */

let dev: DevRun | undefined
afterAll(async () => {
  await cleanupDev(dev)
})

describe('keda-lab dev: Ctrl-C twice', () => {
  it('kills everything at once on the second Ctrl-C, leaving no process behind', async () => {
    // A worker grace period far longer than any slowness of a loaded machine: a run that waited for
    // the busy worker would take 120 s, one that killed at once takes seconds.
    dev = startDev(['--api-port', '0', '--workers', '1'], {WORKER_SHUTDOWN_GRACE_MS: '120000'})
    const api = (await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+API\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000))[1]!
    // A long task (tens of seconds), so that the worker is busy when we stop.
    const created = await request(`${api}/api/tasks`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({iterations: 900_000_000}),
    })
    expect(created.status).toBe(202)
    const id = (created.body as {id: string}).id
    await waitFor(async () => ((await request(`${api}/api/tasks/${id}`)).body as {status: string}).status === 'Processing', {
      timeoutMs: 30_000,
      what: 'the long task to start',
    })
    const children = descendants(dev.child.pid!)
    expect(children.length).toBeGreaterThanOrEqual(3)

    dev.child.kill('SIGINT')
    await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+SIGINT received: stopping everything/, 10_000)
    const second = Date.now()
    dev.child.kill('SIGINT')
    await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+killing everything now/, 10_000)
    await dev.exited
    // Far under the worker's grace period (120 s): nothing waited for the busy worker.
    expect(Date.now() - second).toBeLessThan(60_000)
    await waitFor(() => children.every((pid) => !isAlive(pid)), {timeoutMs: 5000, what: 'every child to be gone'})
  }, 120_000)
})
