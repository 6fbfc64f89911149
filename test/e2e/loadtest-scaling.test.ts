/**
 * The point of the lab, end to end: `keda-lab loadtest --profile ramp --time-scale … --out DIR`
 * against a real `keda-lab dev --autoscale` (real Redis, API, workers, the local autoscaler), run
 * in a real terminal (tmux, 80 columns) as a user runs it. The live view redraws in place (one
 * frame on the screen and in the scrollback, never a trail of them), the report's time series
 * shows the workers rising to the maximum and falling back, and summary.json has the scaling facts.
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import type {LoadSummary, SecondRecord} from '../../src/lab/loadtest/records.js'
import {cliEntry, repoRoot} from '../helpers/cli.js'
import {requireBinary, runTracked, waitFor} from '../helpers/processes.js'
import {autoscaleDevArgs, autoscaledDevRunning, type DevRun, cleanupDev, startDev} from './dev-harness.js'

const dir = mkdtempSync(join(tmpdir(), 'keda-lab-loadtest-scaling-'))
const stateDir = join(dir, 'state')
const out = join(dir, 'report')
const socket = `keda-lab-test-${process.pid}`
let dev: DevRun | undefined
let tmux: string | undefined

afterAll(async () => {
  if (tmux) await runTracked(tmux, ['-L', socket, 'kill-server'])
  await cleanupDev(dev)
  rmSync(dir, {recursive: true, force: true})
})

describe('keda-lab loadtest --profile ramp against keda-lab dev --autoscale, in a terminal', () => {
  it('shows the live view in place, and the report has the workers going up to the maximum and back', async () => {
    tmux = requireBinary('tmux', 'install tmux: sudo apt-get install tmux')
    const env = {KEDA_LAB_STATE_DIR: stateDir}
    dev = startDev(autoscaleDevArgs({taskIterations: 3_000_000, logLevel: 'warn'}), env)
    await autoscaledDevRunning(dev)

    // The user's terminal: 80 columns, the CLI run by a shell as typed.
    const script = join(dir, 'run.sh')
    const args = ['loadtest', '--profile', 'ramp', '--time-scale', '0.2', '--watch-after', '60s', '--out', out]
    writeFileSync(
      script,
      `export KEDA_LAB_STATE_DIR='${stateDir}' NO_COLOR=1\ncd '${repoRoot}'\n'${process.execPath}' '${cliEntry()}' ${args.join(' ')}\necho "EXIT=$?"\nsleep 3600\n`,
    )
    const tm = (...a: string[]) => runTracked(tmux as string, ['-L', socket, '-f', '/dev/null', ...a])
    const started = await tm('new-session', '-d', '-x', '80', '-y', '45', 'sh', script)
    expect(started.exitCode, started.all).toBe(0)
    const screen = async () => (await tm('capture-pane', '-p', '-J', '-S', '-', '-t', '0')).stdout

    // While it runs: the frame, its charts, within 80 columns.
    const live = await waitFor(
      async () => {
        const s = await screen()
        return /queue depth \(waiting \+ active\)/.test(s) && /^workers$/m.test(s) ? s : undefined
      },
      {timeoutMs: 60_000, intervalMs: 500, what: 'the live view with its charts'},
    )
    expect(live).toMatch(/keda-lab loadtest · ramp · \d:\d\d \/ 0:24/)
    expect(live).toMatch(/^VUs \d+ · req\/s add \d+, status \d+ · iterations \d+\/\d+/m)
    expect(live).toMatch(/^add +\S+ ms|^add +–/m)

    const final = await waitFor(async () => ((await screen()).includes('EXIT=') ? screen() : undefined), {
      timeoutMs: 150_000,
      intervalMs: 1000,
      what: 'the run to end',
    })
    expect(final).toContain('EXIT=0')
    // Redrawn in place: one frame in the whole scrollback, not one per second.
    expect(final.match(/keda-lab loadtest · ramp · /g)).toHaveLength(1)
    expect(final).toContain(`Report: ${join(out, 'report.html')}`)
    // The first sample is a second into the load: the autoscaler (1 s polls) may have added one already.
    expect(final).toMatch(/scaling \(dev\): workers: [12] at start, max 3, min 1/)
    expect(final).toMatch(/scaling \(dev\): back to 1 worker\(s\) \d+ s after the last add/)

    // The report: the time series has the workers rising to 3 and falling back to 1.
    const records = readFileSync(join(out, 'timeseries.ndjson'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as SecondRecord)
    const workers = records.map((r) => r.scaling?.workers)
    const top = workers.indexOf(3)
    expect(top, `workers per second: ${workers.join(' ')}`).toBeGreaterThan(0)
    expect(workers[0]).toBeLessThanOrEqual(2)
    expect(workers.slice(top).includes(1), `workers per second: ${workers.join(' ')}`).toBe(true)
    expect(readFileSync(join(out, 'timeseries.csv'), 'utf8').trimEnd().split('\n')).toHaveLength(records.length + 1)

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as LoadSummary
    expect(summary.exitCode).toBe(0)
    expect(summary.scaling).toMatchObject({source: 'dev', workersMax: 3, workersMin: 1, workersMinReplicas: 1})
    expect(summary.scaling.firstScaleUpS).toBeGreaterThanOrEqual(0)
    expect(summary.scaling.backToMinS).toBeGreaterThan(0)
    expect(summary.scaling.events.some((e) => e.what === 'workers' && e.to > e.from)).toBe(true)
    expect(summary.scaling.events.some((e) => e.what === 'workers' && e.to < e.from)).toBe(true)
    const html = readFileSync(join(out, 'report.html'), 'utf8')
    expect(html).toContain('Queue depth and workers')
  }, 300_000)
})
