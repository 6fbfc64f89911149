import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import type {LoadSummary, SecondRecord} from '../../src/lab/loadtest/records.js'
import {runCli} from '../helpers/cli.js'
import {autoscaleDevArgs, autoscaledDevRunning, type DevRun, cleanupDev, startDev} from './dev-harness.js'

/**
 * The lab's point: `keda-lab loadtest --profile ramp` against `keda-lab dev --autoscale` (real
 * Redis, API, workers and dev's local autoscaler) shows the workers rising under the load and
 * falling after it, in the summary's scaling facts and in the per-second time series of --out.
 * Short intervals and small tasks (a quarter of a second of CPU) keep it to about a minute.
 */

let dev: DevRun | undefined
const stateDir = mkdtempSync(join(tmpdir(), 'keda-lab-loadtest-autoscale-'))
const outDir = join(stateDir, 'report')
const env = {KEDA_LAB_STATE_DIR: stateDir}

afterAll(async () => {
  await cleanupDev(dev)
  rmSync(stateDir, {recursive: true, force: true})
})

describe('keda-lab loadtest --profile ramp against keda-lab dev --autoscale', () => {
  it('records the workers going up to the maximum and back, in the scaling facts and the time series', async () => {
    dev = startDev(autoscaleDevArgs({taskIterations: 5_000_000, logLevel: 'warn'}), env)
    await autoscaledDevRunning(dev)

    const result = await runCli(
      [
        'loadtest',
        '--profile',
        'ramp',
        '--time-scale',
        '0.1',
        '--watch-after',
        '2m',
        '--out',
        outDir,
        '--threshold',
        'workers.max>=3',
        '--threshold',
        'scale_up<60s',
        '--threshold',
        'checks==100%',
        '--json',
      ],
      {env, timeoutMs: 240_000},
    )
    expect(result.stderr.split('\n')[0]).toMatch(/^Target: http:\/\/127\.0\.0\.1:\d+ — the keda-lab dev running on this machine/)
    const summary = JSON.parse(result.stdout) as LoadSummary
    expect(summary.thresholds.filter((t) => !t.ok)).toEqual([])
    expect(result.code).toBe(0)

    const facts = summary.scaling
    expect(facts.source).toBe('dev')
    expect(facts.workersAtStart).toBe(1)
    expect(facts.workersMax).toBe(3)
    expect(facts.firstScaleUpS).toBeGreaterThanOrEqual(0)
    // Back to one worker after the load, while the run still watched (it stops once settled).
    expect(facts.backToMinS).toBeGreaterThan(0)
    expect(facts.backToMinNote).toBeUndefined()
    expect(facts.drainS).toBeGreaterThanOrEqual(0)
    const ups = facts.events.filter((e) => e.what === 'workers' && e.to > e.from)
    const downs = facts.events.filter((e) => e.what === 'workers' && e.to < e.from)
    expect(ups.length).toBeGreaterThan(0)
    expect(downs.length).toBeGreaterThan(0)
    expect(Math.min(...downs.map((e) => e.t))).toBeGreaterThan(Math.min(...ups.map((e) => e.t)))

    // The time series says the same, second by second.
    const records = readFileSync(join(outDir, 'timeseries.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as SecondRecord)
    expect(records.map((r) => r.t)).toEqual(records.map((_, i) => i))
    const workers = records.map((r) => r.scaling?.workers).filter((w): w is number => w !== undefined)
    const peak = workers.indexOf(3)
    expect(peak).toBeGreaterThan(0)
    expect(workers.at(-1)).toBe(1)
    expect(workers.slice(0, peak)).toContain(1)
    // The load happened during the rise: adds were sent before the peak was first seen.
    expect(records.slice(0, peak).some((r) => r.requests.add > 0)).toBe(true)
    expect(JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8'))).toMatchObject({profile: 'ramp', scaling: {workersMax: 3}})
  }, 300_000)
})
