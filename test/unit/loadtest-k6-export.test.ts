/**
 * `loadtest --export k6`: every profile becomes a k6 script that Node accepts as an ES module
 * (`node --check`), whose `options` are the profile's executor in k6's words, and whose default
 * function, run under a stand-in of k6's runtime (test/fakes/k6-runtime.mjs: k6 itself is AGPL and
 * never run here), does the lab's scenario with the engine's check names.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {exportK6, type ExportThreshold, k6Duration, k6Rates, k6Threshold} from '../../src/lab/loadtest/k6-export.js'
import {PROFILES} from '../../src/lab/loadtest/profiles.js'

const dir = mkdtempSync(join(tmpdir(), 'keda-lab-k6-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const runtime = fileURLToPath(new URL('../fakes/k6-runtime.mjs', import.meta.url))

const T = (expression: string, metric: string, kind: ExportThreshold['kind'], op: ExportThreshold['op'], value: number): ExportThreshold => ({
  expression,
  metric,
  kind,
  op,
  value,
})
const THRESHOLDS = [
  T('add.p95<200ms', 'add.p95', 'latency', '<', 200),
  T('status.p(99.9)<1s', 'status.p(99.9)', 'latency', '<', 1000),
  T('checks>99.9%', 'checks', 'ratio', '>', 0.999),
  T('task.p95<60s', 'task.p95', 'latency', '<', 60_000),
  T('workers.max>=4', 'workers.max', 'count', '>=', 4),
  T('scale_up<90s', 'scale_up', 'seconds', '<', 90),
  T('lag.p99<25ms', 'lag.p99', 'latency', '<', 25),
]

function write(name: string, script: string): string {
  const file = join(dir, `${name}.mjs`)
  writeFileSync(file, script)
  return file
}

/** Imports the script under the stand-in runtime; prints its options and what one iteration did. */
function runUnderFake(file: string): {options: Record<string, unknown>; calls: {kind: string; [k: string]: unknown}[]} {
  const runner = join(dir, `run-${Math.random().toString(36).slice(2)}.mjs`)
  writeFileSync(
    runner,
    `const m = await import(${JSON.stringify(file)}); m.default(); process.stdout.write(JSON.stringify({options: m.options, calls: globalThis.k6Calls}))`,
  )
  return JSON.parse(execFileSync(process.execPath, ['--import', runtime, runner], {encoding: 'utf8'}))
}

describe('exportK6', () => {
  for (const profile of PROFILES) {
    it(`writes profile ${profile.name} as a script Node parses, with its executor in k6's words`, () => {
      const script = exportK6({
        name: profile.name,
        executor: profile.executor,
        baseUrl: 'http://127.0.0.1:8000/',
        timing: {sleepMs: 2000, pollMs: 1000},
        thresholds: THRESHOLDS,
        version: '0.1.0',
      })
      const file = write(profile.name, script)
      execFileSync(process.execPath, ['--check', file])
      const {options} = runUnderFake(file)
      const scenario = (options.scenarios as Record<string, Record<string, unknown>>)[profile.name]
      expect(scenario?.executor).toBe(profile.executor.type)
      const e = profile.executor
      if (e.type === 'shared-iterations' || e.type === 'per-vu-iterations') expect(scenario).toMatchObject({vus: e.vus, iterations: e.iterations})
      if (e.type === 'ramping-vus')
        expect(scenario).toMatchObject({startVUs: e.startVUs, stages: e.stages.map((s) => ({duration: k6Duration(s.durationMs), target: s.target}))})
      if (e.type === 'ramping-arrival-rate') expect(scenario).toMatchObject({startRate: e.startRate, timeUnit: '1s', maxVUs: e.maxVUs})
      if (e.type === 'constant-arrival-rate') expect(scenario).toMatchObject({rate: e.rate, timeUnit: '1s', duration: k6Duration(e.durationMs)})
      expect(options.thresholds).toEqual({
        'http_req_duration{step:add}': ['p(95)<200'],
        'http_req_duration{step:status}': ['p(99.9)<1000'],
        checks: ['rate>0.999'],
        task_duration: ['p(95)<60000'],
      })
      expect(script).toContain("// not translated: 'workers.max>=4': a scaling fact")
      expect(script).toContain("// not translated: 'scale_up<90s': a scaling fact")
      expect(script).toContain("// not translated: 'lag.p99<25ms': scheduler lag")
    })
  }

  it('runs the scenario: add, sleep 2 s, poll every 1 s until Completed, every check passing with the engine’s names', () => {
    const smoke = PROFILES.find((p) => p.name === 'smoke')
    if (!smoke) throw new Error('no smoke profile')
    const file = write(
      'scenario',
      exportK6({
        name: 'smoke',
        executor: smoke.executor,
        baseUrl: 'http://127.0.0.1:8000',
        timing: {sleepMs: 2000, pollMs: 1000},
        thresholds: [],
        version: '0.1.0',
      }),
    )
    const {calls} = runUnderFake(file)
    expect(calls.filter((c) => c.kind === 'request').map((c) => `${c.method} ${c.url} ${JSON.stringify(c.tags)}`)).toEqual([
      'POST http://127.0.0.1:8000/api/tasks/add {"step":"add"}',
      'GET http://127.0.0.1:8000/api/tasks/status/42 {"step":"status"}',
      'GET http://127.0.0.1:8000/api/tasks/status/42 {"step":"status"}',
    ])
    expect(calls.filter((c) => c.kind === 'sleep').map((c) => c.seconds)).toEqual([2, 1])
    const checks = calls.filter((c) => c.kind === 'check')
    expect(checks.every((c) => c.ok)).toBe(true)
    expect([...new Set(checks.map((c) => c.name))]).toEqual([
      'add: status is 200',
      'add: content-type is application/json',
      'add: success is true',
      'add: result.id is a non-empty string',
      'add: result.message is "Task queued."',
      'status: status is 200',
      'status: content-type is application/json',
      'status: success is true',
      'status: progress.status, progress, timeElapsed are strings',
    ])
    expect(calls.filter((c) => c.kind === 'metric').map((c) => c.name)).toEqual(['task_duration', 'tasks_completed'])
  })

  it('sends the task size to the typed route with --task-iterations', () => {
    const smoke = PROFILES[0]
    if (!smoke) throw new Error('no profile')
    const file = write(
      'typed',
      exportK6({
        name: 'smoke',
        executor: smoke.executor,
        baseUrl: 'http://127.0.0.1:8000',
        timing: {sleepMs: 200, pollMs: 100},
        taskIterations: 7,
        thresholds: [],
        version: '0.1.0',
      }),
    )
    const {calls} = runUnderFake(file)
    const [add] = calls
    expect(add).toMatchObject({method: 'POST', url: 'http://127.0.0.1:8000/api/tasks', body: '{"iterations":7}', headers: {'Content-Type': 'application/json'}})
    expect(calls.filter((c) => c.kind === 'check').every((c) => c.ok)).toBe(true)
    expect(calls.filter((c) => c.kind === 'check').map((c) => c.name)).toContain('add: status is "Queued"')
    expect(calls.filter((c) => c.kind === 'sleep').map((c) => c.seconds)).toEqual([0.2, 0.1])
  })
})

describe('keda-lab loadtest --export k6 FILE', () => {
  it('writes the script as the user asked, without sending a request', async () => {
    const file = join(dir, 'cli.mjs')
    // No target is running: an export must not need one.
    const res = await runCli(['loadtest', '--profile', 'backlog', '--time-scale', '0.1', '--threshold', 'add.p95<200ms', '--export', 'k6', file], {
      timeoutMs: 60_000,
    })
    expect(res.stderr).toBe('')
    expect(res.stdout).toContain(`Wrote profile backlog as a k6 script: ${file}`)
    expect(res.code).toBe(0)
    execFileSync(process.execPath, ['--check', file])
    const {options} = runUnderFake(file)
    expect((options.scenarios as Record<string, {stages: unknown}>).backlog?.stages).toEqual([
      {duration: '3s', target: 4},
      {duration: '6s', target: 4},
      {duration: '1s', target: 0},
    ])
    expect(options.thresholds).toEqual({'http_req_duration{step:add}': ['p(95)<200']})
  }, 90_000)

  it('says what is missing when the file is not given, and what is wrong in a bad flag', async () => {
    const res = await runCli(['loadtest', '--export', 'k6'], {timeoutMs: 60_000})
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('Error: --export k6 needs the script file after it')
    const bad = await runCli(['loadtest', '--profile', 'nope', '--export', 'k6', join(dir, 'nope.mjs')], {timeoutMs: 60_000})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^Error: .*nope/m)
  }, 90_000)
})

describe('k6 units', () => {
  it('writes durations exactly', () => {
    expect(k6Duration(90_000)).toBe('90s')
    expect(k6Duration(1500)).toBe('1500ms')
  })
  it('picks the smallest time unit that keeps arrival rates whole', () => {
    expect(k6Rates([0, 4])).toEqual({timeUnit: '1s', values: [0, 4], rounded: false})
    expect(k6Rates([0.5, 2])).toEqual({timeUnit: '1m', values: [30, 120], rounded: false})
    expect(k6Rates([1 / 7])).toEqual({timeUnit: '1h', values: [514], rounded: true})
  })
  it('maps the counts it can and names the ones it cannot', () => {
    expect(k6Threshold(T('errors<1%', 'errors', 'ratio', '<', 0.01))).toEqual({metric: 'http_req_failed', expression: 'rate<0.01'})
    expect(k6Threshold(T('dropped.count==0', 'dropped.count', 'count', '==', 0))).toEqual({metric: 'dropped_iterations', expression: 'count==0'})
    expect(k6Threshold(T('rate>99%', 'rate', 'ratio', '>', 0.99))).toEqual({untranslated: 'k6 has no metric for it'})
  })
})
