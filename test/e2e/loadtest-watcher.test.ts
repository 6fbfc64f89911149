/**
 * loadtest's scaling watcher against a real `keda-lab dev --autoscale` (real Redis, API, workers,
 * the local autoscaler): each sample gives the queue from the API's /api/queue and the workers
 * and the autoscaler's wish from dev's state file; it follows a burst up and back down.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import type {ScalingSample} from '../../src/lab/loadtest/records.js'
import {createScalingWatcher} from '../../src/lab/loadtest/watcher.js'
import {freePort, waitFor} from '../helpers/processes.js'
import {autoscaleDevArgs, autoscaledDevRunning, type DevRun, cleanupDev, request, startDev} from './dev-harness.js'

let dev: DevRun | undefined
const stateDir = mkdtempSync(join(tmpdir(), 'keda-lab-watcher-state-'))

afterAll(async () => {
  await cleanupDev(dev)
  rmSync(stateDir, {recursive: true, force: true})
})

describe('loadtest scaling watcher on keda-lab dev --autoscale', () => {
  it('samples the queue and the workers, following a burst up to 3 workers and back to 1', async () => {
    const env = {KEDA_LAB_STATE_DIR: stateDir}
    dev = startDev(autoscaleDevArgs({taskIterations: 20_000_000}), env)
    const api = await autoscaledDevRunning(dev)
    const watcher = createScalingWatcher({apiUrl: api, source: {kind: 'dev', env}})
    expect(watcher.source).toBe('dev')
    expect(await watcher.sample()).toEqual({source: 'dev', queueWaiting: 0, queueActive: 0, workers: 1, workersDesired: 1, workersMinReplicas: 1})

    const created = await Promise.all(
      Array.from({length: 6}, () => request(`${api}/api/tasks`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{}'})),
    )
    for (const res of created) expect(res.status).toBe(202)
    const seen: ScalingSample[] = []
    const sampleUntil = (done: (s: ScalingSample) => boolean, what: string) =>
      waitFor(
        async () => {
          const s = await watcher.sample()
          seen.push(s)
          return done(s)
        },
        {timeoutMs: 90_000, intervalMs: 500, what},
      )
    await sampleUntil((s) => s.workers === 3 && s.workersDesired === 3, 'the watcher to see 3 workers')
    expect(Math.max(...seen.map((s) => (s.queueWaiting ?? 0) + (s.queueActive ?? 0)))).toBeGreaterThanOrEqual(3)
    await sampleUntil((s) => s.workers === 1 && s.workersDesired === 1 && s.queueWaiting === 0 && s.queueActive === 0, 'the watcher to see 1 worker again')
    for (const s of seen) expect(s.error, JSON.stringify(s)).toBeUndefined()

    // A bare --target: the queue only.
    expect(await createScalingWatcher({apiUrl: api, source: {kind: 'queue-only'}}).sample()).toEqual({source: 'queue-only', queueWaiting: 0, queueActive: 0})
  })

  it('gives a sample with the reason when nothing answers, and never throws', async () => {
    const port = await freePort()
    const s = await createScalingWatcher({
      apiUrl: `http://127.0.0.1:${port}`,
      source: {kind: 'dev', env: {KEDA_LAB_STATE_DIR: join(stateDir, 'none')}},
    }).sample()
    expect(s.source).toBe('dev')
    expect(s.error).toMatch(/^queue: ECONNREFUSED; dev: the keda-lab dev run is gone/)
    expect(s.workers).toBeUndefined()
  })
})
