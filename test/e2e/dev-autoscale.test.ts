import {afterAll, describe, expect, it} from 'vitest'

import {waitFor} from '../helpers/processes.js'
import {autoscaleDevArgs, autoscaledDevRunning, type DevRun, cleanupDev, descendants, isAlive, request, startDev} from './dev-harness.js'

/**
 * `keda-lab dev --autoscale` with short intervals: a burst of tasks makes it add local workers
 * (the rule: ceil((wait + active) / per worker), clamped), and the idle queue makes it remove
 * them with SIGTERM after the stabilisation window, without losing a task.
 */

let dev: DevRun | undefined

afterAll(async () => {
  await cleanupDev(dev)
})

describe('keda-lab dev --autoscale', () => {
  it('scales 1 → 3 on a burst, back down when idle, and every task completes', async () => {
    dev = startDev(autoscaleDevArgs({taskIterations: 20_000_000}))
    const api = await autoscaledDevRunning(dev)

    // Six tasks at once, so that one reading sees them all.
    const created = await Promise.all(
      Array.from({length: 6}, () => request(`${api}/api/tasks`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{}'})),
    )
    for (const res of created) expect(res.status).toBe(202)
    const ids = created.map((res) => (res.body as {id: string}).id)

    // The decision, printed in the documented format, then the new workers really start.
    // (A reading taken while the tasks arrive may step through 2 first.)
    const up = await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+scale [12] → 3: (\d+) tasks? waiting\+active, 1 per worker/, 30_000)
    expect(Number(up[1])).toBeGreaterThanOrEqual(3)
    const started = await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+started worker-3 \(pid (\d+)\)/, 10_000)
    const worker3 = Number(started[1])
    // BullMQ sees three workers on the queue.
    await waitFor(async () => ((await request(`${api}/api/queue`)).body as {workers: number}).workers >= 3, {
      timeoutMs: 30_000,
      what: 'three workers connected to the queue',
    })

    // Every task completes (none lost when workers are removed).
    await waitFor(
      async () => {
        const states = await Promise.all(ids.map(async (id) => ((await request(`${api}/api/tasks/${id}`)).body as {status: string}).status))
        expect(states).not.toContain('Failed')
        return states.every((s) => s === 'Completed')
      },
      {timeoutMs: 90_000, intervalMs: 250, what: 'all six tasks to complete'},
    )

    // Idle queue: after the stabilisation window, back to the minimum, by SIGTERM.
    const down = await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+scale [23] → 1: (\d+) tasks? waiting\+active, 1 per worker/, 30_000)
    expect(Number(down[1])).toBeLessThanOrEqual(1)
    await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+stopping worker-3 \(pid \d+\) with SIGTERM/, 5_000)
    await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+worker-3 stopped/, 30_000)
    expect(isAlive(worker3)).toBe(false)
    // worker-1 (the oldest) stays.
    expect(dev.output()).not.toMatch(/stopping worker-1 /)
    // A decision line that scales never claims it was held back (only "stay at" lines may).
    for (const line of dev.lines.filter((l) => /^\[dev\].* scale \d+ → \d+:/.test(l))) expect(line).not.toContain('held back')

    const children = descendants(dev.child.pid!)
    dev.child.kill('SIGINT')
    expect((await dev.exited).code).toBe(0)
    await waitFor(() => children.every((pid) => !isAlive(pid)), {timeoutMs: 5000, what: 'every child to be gone'})
  }, 240_000)
})
