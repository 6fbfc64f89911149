import {describe, expect, it} from 'vitest'

import {isKedaLabError} from '../../src/errors.js'
import {createHistogram, decodeHistogram} from '../../src/lab/loadtest/histograms.js'
import {evaluateThreshold, firstLiveFailure, parseThreshold, type ThresholdView} from '../../src/lab/loadtest/thresholds.js'

function view(overrides: Partial<ThresholdView> = {}): ThresholdView {
  const add = createHistogram()
  // 1..100 ms: p95 is 95 ms.
  for (let ms = 1; ms <= 100; ms++) add.record(ms)
  return {
    histograms: {add},
    checks: {passes: 999, fails: 1},
    requests: 200,
    errors: 2,
    iterations: {started: 90, completed: 80, failed: 3, dropped: 10},
    tasks: {completed: 80, failed: 1},
    rate: {asked: 5, achieved: 4.5},
    scaling: {source: 'dev', workersAtStart: 1, workersMax: 4, workersMin: 1, firstScaleUpS: 12, events: []},
    ...overrides,
  }
}

const judge = (expression: string, v = view()) => evaluateThreshold(parseThreshold(expression), v)

function parseError(expression: string): string {
  try {
    parseThreshold(expression)
  } catch (error) {
    if (isKedaLabError(error)) {
      expect(error.exitCode).toBe(2)
      return error.message
    }
    throw error
  }
  throw new Error(`${expression} parsed`)
}

describe('thresholds', () => {
  it('judges latencies in ms, s or bare ms', () => {
    // HDR keeps three significant digits: 95 ms comes back as 95.039 ms.
    expect(judge('add.p95<200ms')).toEqual({expression: 'add.p95<200ms', ok: true, actual: '95.039ms'})
    expect(judge('add.p95<90')).toMatchObject({ok: false, actual: '95.039ms'})
    expect(judge('add.p(99.9) <= 1s')).toMatchObject({ok: true, actual: '100.031ms'})
    expect(judge('add.max<100ms')).toMatchObject({ok: false})
    expect(judge('add.avg>=50ms')).toMatchObject({ok: true, actual: '50.504ms'})
    // Nothing measured: the threshold does not hold.
    expect(judge('task.p95<60s')).toEqual({expression: 'task.p95<60s', ok: false, actual: 'no data'})
  })

  it('judges ratios as percentages or fractions', () => {
    expect(judge('checks>99.9%')).toMatchObject({ok: false, actual: '99.9%'})
    expect(judge('checks>=99.9%')).toMatchObject({ok: true})
    expect(judge('checks>0.99')).toMatchObject({ok: true})
    expect(judge('errors<=1%')).toMatchObject({ok: true, actual: '1%'})
    expect(judge('errors<0.5%')).toMatchObject({ok: false})
    expect(judge('dropped==0')).toMatchObject({ok: false, actual: '10%'})
    expect(judge('dropped.count<=10')).toMatchObject({ok: true, actual: '10'})
    // The rate asked for was not met: a rate threshold fails.
    expect(judge('rate>99%')).toMatchObject({ok: false, actual: '90%'})
    expect(judge('rate.achieved>=4.5/s')).toMatchObject({ok: true, actual: '4.5/s'})
    expect(judge('rate>99%', view({rate: undefined}))).toMatchObject({ok: false, actual: 'no data'})
  })

  it('judges counts and the scaling facts', () => {
    expect(judge('workers.max>=4')).toMatchObject({ok: true, actual: '4'})
    expect(judge('workers.max>=5')).toMatchObject({ok: false})
    expect(judge('scale_up<90s')).toMatchObject({ok: true, actual: '12s'})
    expect(judge('scale_up<10s')).toMatchObject({ok: false})
    expect(judge('back_to_min<2m')).toMatchObject({ok: false, actual: 'no data'})
    expect(judge('tasks.completed==80')).toMatchObject({ok: true})
    expect(judge('iterations.failed<3')).toMatchObject({ok: false, actual: '3'})
  })

  it('refuses bad thresholds with one line', () => {
    expect(parseError('add.p95')).toBe("--threshold 'add.p95': not METRIC[.AGGREGATE] OP VALUE")
    expect(parseError('add<200ms')).toMatch(/say which aggregate of add/)
    expect(parseError('add.p95<200%')).toMatch(/add.p95 is a time/)
    expect(parseError('checks>99.9')).toMatch(/did you mean 99.9%\?/)
    expect(parseError('latency.p95<1s')).toMatch(/unknown metric "latency.p95"/)
    expect(parseError('add.p101<1s')).toMatch(/percentile 101/)
    expect(parseError('add.top<1s')).toMatch(/unknown aggregate "top"/)
  })

  it('the unknown-metric error lists every metric there is, and each one it lists parses', () => {
    const message = parseError('latency.p95<1s')
    const listed = /\((.*)\)$/.exec(message)?.[1] ?? ''
    expect(listed).toBe(
      'latency: add, status, task, lag; ratios: checks, errors, dropped, rate; counts: iterations.completed, iterations.failed, tasks.completed, tasks.failed, requests, errors.count, dropped.count, workers.max, workers.min, backlog.max, api.max; rate.achieved; times: scale_up, to_max, drain, back_to_min',
    )
    const names = listed.split('; ').flatMap((group) => group.replace(/^[a-z]+: /, '').split(', '))
    expect(names).toHaveLength(24)
    for (const name of names) {
      const latency = ['add', 'status', 'task', 'lag'].includes(name)
      expect(() => parseThreshold(latency ? `${name}.p95<1s` : `${name}<1`), name).not.toThrow()
    }
    // The aliases parse as their metric.
    expect(parseThreshold('checks.rate>99%').kind).toBe('ratio')
    expect(parseThreshold('errors.rate<1%').measure(view())).toBe(0.01)
    expect(parseThreshold('dropped.rate<1%').measure(view())).toBe(0.1)
  })

  it('--abort-on-fail judges only what can be judged while running', () => {
    const thresholds = ['rate>99%', 'workers.max>=5', 'task.p95<1s', 'checks>99.95%'].map(parseThreshold)
    // rate and workers are end-of-run facts; task has no data yet; checks already fail.
    expect(firstLiveFailure(thresholds, view())).toMatchObject({expression: 'checks>99.95%', ok: false})
    expect(firstLiveFailure(thresholds.slice(0, 3), view())).toBeUndefined()
    // A count with a floor cannot be judged early; one with a ceiling can.
    expect(parseThreshold('tasks.failed>=0').live).toBe(false)
    expect(parseThreshold('tasks.failed<1').live).toBe(true)
  })

  it('histograms encode and merge exactly (shards)', () => {
    const a = createHistogram()
    const b = createHistogram()
    for (let i = 0; i < 1000; i++) (i % 2 ? a : b).record(i / 10)
    const whole = createHistogram()
    for (let i = 0; i < 1000; i++) whole.record(i / 10)
    const merged = decodeHistogram(a.encode())
    merged.add(decodeHistogram(b.encode()))
    // Same counts in the same buckets: every percentile and the mean are equal; the max is its
    // bucket's highest equivalent value once encoded (within HDR's 0.1 %).
    const {max, ...rest} = merged.stats()
    const {max: wholeMax, ...wholeRest} = whole.stats()
    expect(rest).toEqual(wholeRest)
    expect(Math.abs(max - wholeMax) / wholeMax).toBeLessThan(0.001)
    expect(merged.count).toBe(1000)
  })
})
