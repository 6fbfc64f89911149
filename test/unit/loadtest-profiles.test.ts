import {describe, expect, it} from 'vitest'

import {formatDuration, parseDuration, parseRate} from '../../src/lab/loadtest/durations.js'
import {
  describeExecutor,
  type ExecutorConfig,
  executorPlan,
  type RampingVus,
  scaleExecutor,
  shardExecutor,
  shardPart,
  stageLabel,
  vusAt,
} from '../../src/lab/loadtest/executors.js'
import {listProfiles, PROFILES, parseProfileFile, parseStages, resolveLoad} from '../../src/lab/loadtest/profiles.js'
import {isKedaLabError} from '../../src/errors.js'

/** The error a call throws, for asserting its message and hint. */
function thrown(fn: () => unknown): {message: string; hint?: string; exitCode: number} {
  try {
    fn()
  } catch (error) {
    if (isKedaLabError(error)) return {message: error.message, hint: error.hint, exitCode: error.exitCode}
    throw error
  }
  throw new Error('expected an error')
}

describe('durations and rates', () => {
  it('parses what load-test users write', () => {
    expect(parseDuration('30s')).toBe(30_000)
    expect(parseDuration('1m30s')).toBe(90_000)
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('1.5s')).toBe(1500)
    expect(parseDuration('2h')).toBe(7_200_000)
    expect(parseDuration('10')).toBe(10_000)
    for (const bad of ['', 's', '30 s', '1x', '30s5', '-1s']) expect(parseDuration(bad)).toBeUndefined()
    expect(parseRate('5/s')).toBe(5)
    expect(parseRate('120/m')).toBe(2)
    expect(parseRate('2.5')).toBe(2.5)
    expect(parseRate('5/x')).toBeUndefined()
    expect(formatDuration(90_000)).toBe('1m30s')
    expect(formatDuration(250)).toBe('250ms')
  })
})

describe('profiles', () => {
  it('are the issue table exactly, one --list line each', () => {
    expect(PROFILES.map((p) => p.name)).toEqual(['smoke', 'shared-20', 'shared-50', 'per-vu', 'ramp', 'spike', 'backlog', 'soak'])
    const lines = listProfiles()
    expect(lines).toHaveLength(8)
    for (const line of lines) expect(line).not.toContain('\n')
    const byName = Object.fromEntries(PROFILES.map((p) => [p.name, p.executor]))
    expect(byName.smoke).toMatchObject({type: 'shared-iterations', vus: 5, iterations: 10})
    expect(byName['shared-20']).toMatchObject({type: 'shared-iterations', vus: 20, iterations: 20})
    expect(byName['shared-50']).toMatchObject({type: 'shared-iterations', vus: 20, iterations: 50})
    expect(byName['per-vu']).toMatchObject({type: 'per-vu-iterations', vus: 35, iterations: 3})
    expect(executorPlan(byName['per-vu'] as ExecutorConfig).iterations).toBe(105)
    expect(byName.ramp).toEqual({
      type: 'ramping-vus',
      startVUs: 1,
      stages: [
        {durationMs: 30_000, target: 10},
        {durationMs: 30_000, target: 20},
        {durationMs: 60_000, target: 0},
      ],
      gracefulRampDownMs: 0,
      gracefulStopMs: 30_000,
    })
    expect(byName.spike).toMatchObject({
      type: 'ramping-vus',
      startVUs: 0,
      stages: [
        {durationMs: 10_000, target: 50},
        {durationMs: 30_000, target: 50},
        {durationMs: 10_000, target: 0},
      ],
    })
    expect(byName.backlog?.type).toBe('ramping-arrival-rate')
    expect(byName.soak).toMatchObject({type: 'constant-arrival-rate', durationMs: 600_000})
    // backlog: the queue must outgrow 10 workers × 2 tasks even while 10 workers take ~2 tasks/s.
    expect(executorPlan(byName.backlog as ExecutorConfig).scheduledIterations).toBeGreaterThan(20 + 2 * 100)
  })

  it('without flags is smoke; --time-scale shortens every duration', () => {
    expect(resolveLoad({}).name).toBe('smoke')
    const ramp = resolveLoad({profile: 'ramp', timeScale: 0.05}).executor as RampingVus
    expect(ramp.stages.map((s) => s.durationMs)).toEqual([1500, 1500, 3000])
    expect(executorPlan(ramp).durationMs).toBe(6000)
    expect(resolveLoad({profile: 'soak', duration: '2m'}).executor).toMatchObject({durationMs: 120_000})
  })

  it('builds executors from flags', () => {
    expect(resolveLoad({vus: 3, iterations: 7}).executor).toMatchObject({type: 'shared-iterations', vus: 3, iterations: 7})
    expect(resolveLoad({vus: 3, duration: '10s'}).executor).toMatchObject({type: 'constant-vus', vus: 3, durationMs: 10_000})
    expect(resolveLoad({rate: '5/s', duration: '1m', maxVus: 20}).executor).toMatchObject({
      type: 'constant-arrival-rate',
      rate: 5,
      durationMs: 60_000,
      maxVUs: 20,
    })
    expect(resolveLoad({stages: '30s:10,1m:20'}).executor).toMatchObject({
      type: 'ramping-vus',
      startVUs: 1,
      stages: [
        {durationMs: 30_000, target: 10},
        {durationMs: 60_000, target: 20},
      ],
    })
    expect(resolveLoad({rate: '1/s', stages: '10s:5/s,10s:0'}).executor).toMatchObject({type: 'ramping-arrival-rate', startRate: 1})
  })

  it('refuses bad flags with one line and a fix', () => {
    expect(thrown(() => resolveLoad({profile: 'nope'}))).toMatchObject({message: 'there is no profile "nope"', exitCode: 2})
    expect(thrown(() => resolveLoad({profile: 'ramp', vus: 3})).message).toMatch(/--vus does not apply to the ramp profile/)
    expect(thrown(() => resolveLoad({rate: '5/s'})).message).toBe('--rate needs --duration')
    expect(thrown(() => resolveLoad({rate: 'fast', duration: '1m'})).message).toBe('--rate fast is not a rate')
    expect(thrown(() => resolveLoad({vus: 0, iterations: 3})).message).toMatch(/vus must be a whole number ≥ 1/)
    expect(thrown(() => resolveLoad({vus: 2, duration: 'soon'})).message).toBe('--duration soon is not a duration')
    expect(thrown(() => resolveLoad({profile: 'smoke', timeScale: 0})).message).toMatch(/--time-scale 0/)
    expect(thrown(() => resolveLoad({vus: 2, iterations: 2, maxVus: 3})).message).toMatch(/--max-vus applies to the open model/)
  })

  it('parses --stages and names the stage that is wrong', () => {
    expect(parseStages('30s:10, 1m:20 ,10s:0', 'vus')).toEqual([
      {durationMs: 30_000, target: 10},
      {durationMs: 60_000, target: 20},
      {durationMs: 10_000, target: 0},
    ])
    expect(parseStages('1m:120/m', 'rate')).toEqual([{durationMs: 60_000, target: 2}])
    expect(thrown(() => parseStages('30s:10,1m', 'vus')).message).toBe('--stages: stage 2 "1m" is not duration:VUs, e.g. 30s:10')
    expect(thrown(() => parseStages('30s:10,,1m:2', 'vus')).message).toMatch(/empty stage/)
    expect(thrown(() => parseStages('xx:10', 'vus')).message).toMatch(/stage 1 "xx:10"/)
  })
})

describe('profile files', () => {
  it('reads YAML and JSON', () => {
    const yaml =
      'executor: ramping-vus\nstartVUs: 2\nstages:\n  - {duration: 30s, target: 10}\n  - duration: 1m\n    target: 0\ngracefulRampDown: 0s\ntaskIterations: 1000\n'
    expect(parseProfileFile(yaml, 'dir/my-ramp.yaml')).toEqual({
      name: 'my-ramp',
      taskIterations: 1000,
      executor: {
        type: 'ramping-vus',
        startVUs: 2,
        stages: [
          {durationMs: 30_000, target: 10},
          {durationMs: 60_000, target: 0},
        ],
        gracefulRampDownMs: 0,
        gracefulStopMs: 30_000,
      },
    })
    const json = JSON.stringify({name: 'j', executor: 'constant-arrival-rate', rate: '2/s', duration: '10s', maxVUs: 5})
    expect(parseProfileFile(json, 'p.json').executor).toEqual({type: 'constant-arrival-rate', rate: 2, durationMs: 10_000, maxVUs: 5, gracefulStopMs: 30_000})
  })

  it('names the line of a mistake', () => {
    expect(thrown(() => parseProfileFile('executor: shared-iterations\nvus: 2\niterations: lots\n', 'p.yaml')).message).toBe(
      'p.yaml:3: iterations must be a whole number ≥ 0, got "lots"',
    )
    expect(thrown(() => parseProfileFile('executor: shared-iterations\nvus: 2\niterations: 3\nvu: 4\n', 'p.yaml')).message).toMatch(
      /^p.yaml:4: unknown key "vu"/,
    )
    expect(thrown(() => parseProfileFile('name: x\nexecutor: warp-speed\n', 'p.yaml')).message).toMatch(/^p.yaml:2: executor must be one of/)
    expect(
      thrown(() => parseProfileFile('executor: ramping-vus\nstages:\n  - {duration: 30s, target: 10}\n  - {duration: soon, target: 0}\n', 'p.yaml')).message,
    ).toBe('p.yaml:4: duration must be a duration like 30s or 1m30s, got "soon"')
    expect(thrown(() => parseProfileFile('{"executor": "constant-vus",\n "vus": 2,,\n "duration": "1m"}', 'p.json')).message).toMatch(
      /^p.json:2: not valid YAML or JSON/,
    )
    expect(thrown(() => parseProfileFile('executor: constant-vus\nvus: 2\n', 'p.yaml')).message).toBe('p.yaml:1: constant-vus needs "duration"')
  })
})

describe('executors', () => {
  const ramp = PROFILES.find((p) => p.name === 'ramp')?.executor as RampingVus

  it('ramping VUs interpolate between stages and label them', () => {
    expect(vusAt(ramp, 0)).toBe(1)
    expect(vusAt(ramp, 15_000)).toBe(6)
    expect(vusAt(ramp, 30_000)).toBe(10)
    expect(vusAt(ramp, 60_000)).toBe(20)
    expect(vusAt(ramp, 120_000)).toBe(0)
    expect(stageLabel(ramp, 45_000)).toBe('stage 2/3: 10 → 20 VUs')
    expect(executorPlan(ramp)).toMatchObject({maxVUs: 20, durationMs: 120_000})
    expect(describeExecutor(ramp)).toBe('ramping VUs: start 1 VUs; 30s → 10 VUs, 30s → 20 VUs, 1m → 0 VUs; graceful ramp-down 0ms')
    expect(scaleExecutor(ramp, 2).stages[2]?.durationMs).toBe(120_000)
  })

  it('shards add up to the whole exactly', () => {
    for (const n of [0, 1, 7, 10, 105]) {
      for (const count of [1, 2, 3, 4, 7]) {
        let sum = 0
        for (let index = 0; index < count; index++) sum += shardPart(n, {index, count})
        expect(sum).toBe(n)
      }
    }
    const smoke = PROFILES.find((p) => p.name === 'smoke')?.executor as ExecutorConfig
    const parts = [0, 1, 2].map((index) => shardExecutor(smoke, {index, count: 3}))
    expect(parts.map((p) => executorPlan(p).iterations)).toEqual([3, 3, 4])
  })
})
