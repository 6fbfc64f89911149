import {afterAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {waitFor} from '../helpers/processes.js'
import {type DevRun, cleanupDev, request, startDev} from './dev-harness.js'

/**
 * `keda-lab dev --autoscale` honours the worker HPA's behaviour install answers for KEDA's HPA,
 * under the same flag names (--worker-scale-up / --worker-scale-down) and syntax: here policies of
 * one worker per period in each direction, so a burst that asks for the maximum at once gets there
 * one worker at a time, and the idle queue takes the workers away one at a time.
 */

let dev: DevRun | undefined

afterAll(async () => {
  await cleanupDev(dev)
})

const DECISION = /^\[dev\]\s+(\d\d):(\d\d):(\d\d)\.(\d{3})\s+scale (\d+) → (\d+): (\d+) tasks? waiting\+active, 1 per worker(?:; (.*))?$/

/** The decision lines printed so far: when (ms of the day), from, to, and why. */
function decisions(run: DevRun) {
  return run.lines.flatMap((line) => {
    const m = DECISION.exec(line)
    if (!m) return []
    const [h, min, s, ms] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number]
    return [{at: ((h * 60 + min) * 60 + s) * 1000 + ms, from: Number(m[5]), to: Number(m[6]), why: m[8] ?? '', line}]
  })
}

describe('keda-lab dev --autoscale --worker-scale-up/--worker-scale-down', () => {
  it('rejects rules that do not parse, naming the flag and the syntax, before starting anything', async () => {
    const bad = await runCli(['dev', '--api-port', '0', '--autoscale', '--worker-scale-down', 'window=abc'], {timeoutMs: 60_000})
    expect(bad.code).toBe(78)
    expect(bad.stderr).toContain('Error: --worker-scale-down "window=abc" is not a window, a policy or a select')
    expect(bad.stderr).toMatch(/^Fix: items, comma-separated: window=<s>s, <n>pods\/<s>s, <n>%\/<s>s, select=max\|min\|disabled/m)
    expect(bad.stderr).not.toMatch(/^\s+at /m)
    expect(bad.stdout).not.toContain('[redis]')
    // The deprecated --stabilization-window N is --worker-scale-down window=Ns: both at once is refused.
    const both = await runCli(['dev', '--api-port', '0', '--autoscale', '--stabilization-window', '3', '--worker-scale-down', 'window=2s'], {timeoutMs: 60_000})
    expect(both.code).toBe(2)
    // oclif wraps its message and prefixes lines with › when run from dist: compare the words.
    expect(both.stderr.replace(/›/g, ' ').replace(/\s+/g, ' ')).toContain(
      '--worker-scale-down=window=2s cannot also be provided when using --stabilization-window',
    )
    expect(both.stdout).not.toContain('[redis]')
  })

  it('adds and removes one worker per policy period, and says the policy limited it', async () => {
    dev = startDev([
      ...['--api-port', '0', '--autoscale', '--min-workers', '1', '--max-workers', '3', '--tasks-per-worker', '1', '--polling-interval', '1'],
      ...['--worker-scale-up', '1pods/3s', '--worker-scale-down', 'window=2s,1pods/3s', '--task-iterations', '20000000'],
    ])
    const api = (await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+API\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000))[1]!
    // The rules as applied: what was given, the rest Kubernetes' defaults (as install's HPA gets them).
    await dev.waitForLine(
      /autoscale \(a local imitation of KEDA, not a replacement\).*scale-down held for a 2 s stabilisation window; HPA behaviour: scale-up window=0s,select=max,1pods\/3s, scale-down window=2s,select=max,1pods\/3s$/,
    )

    // Sixteen tasks at once: the rule wants the maximum (3) at once; the policy allows one more per 3 s.
    const created = await Promise.all(
      Array.from({length: 16}, () => request(`${api}/api/tasks`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{}'})),
    )
    for (const res of created) expect(res.status).toBe(202)
    const ids = created.map((res) => (res.body as {id: string}).id)
    await dev.waitForLine(/\sscale 2 → 3: /, 60_000)
    await waitFor(
      async () => {
        const states = await Promise.all(ids.map(async (id) => ((await request(`${api}/api/tasks/${id}`)).body as {status: string}).status))
        expect(states).not.toContain('Failed')
        return states.every((s) => s === 'Completed')
      },
      {timeoutMs: 180_000, intervalMs: 500, what: 'all sixteen tasks to complete'},
    )
    await dev.waitForLine(/\sscale 2 → 1: /, 60_000)

    const seen = decisions(dev)
    const ups = seen.filter((d) => d.to > d.from)
    const downs = seen.filter((d) => d.to < d.from)
    expect(ups.map((d) => `${d.from}→${d.to}`)).toEqual(['1→2', '2→3'])
    expect(downs.map((d) => `${d.from}→${d.to}`)).toEqual(['3→2', '2→1'])
    // The policy held a scale-up back, and says so in the words of the HPA's rule: on the first step
    // ("scale 1 → 2"), or, if the first reading came mid-burst and asked for 2 only, on the next
    // reading ("stay at 2").
    expect(dev.lines.filter((l) => l.endsWith('; scale-up limited by the policies 1pods/3s (select=max), like the HPA')).length).toBeGreaterThan(0)
    // One worker per 3 s period at most, both ways: a lower bound the rule enforces (a loaded
    // machine only makes the gaps longer), with the line's millisecond timestamps.
    expect(ups[1]!.at - ups[0]!.at).toBeGreaterThanOrEqual(2900)
    expect(downs[1]!.at - downs[0]!.at).toBeGreaterThanOrEqual(2900)
    console.info(`dev-autoscale-behavior: ${seen.map((d) => d.line.replace(/^\[dev\]\s+/, '')).join('\n  ')}`)

    dev.child.kill('SIGINT')
    expect((await dev.exited).code).toBe(0)
  }, 300_000)
})
