/**
 * Thresholds: `--threshold 'add.p95<200ms'`, `'checks>99.9%'`, `'task.p95<60s'`,
 * `'workers.max>=4'`, `'scale_up<90s'`, `'rate>99%'`… Parsed before the run (a bad one is one clear
 * error, exit 2, before any request) and evaluated on what the run measured. A failed threshold
 * makes the run exit 99, the convention load-test users know.
 *
 * Grammar: `METRIC[.AGG] OP VALUE[UNIT]`, OP one of < <= > >= == !=.
 * - latency `add`, `status`, `task` (queued → Completed), `lag` (open-model scheduler lag):
 *   AGG p50 p90 p95 p99 p(N) avg med min max; VALUE in ms unless it says `s`, `m` or `ms`.
 * - ratios `checks` (passed), `errors` (failed requests), `dropped` (of scheduled starts), `rate`
 *   (achieved ÷ asked): VALUE `99.9%` or a fraction `0.999`. `errors.count`, `dropped.count` are counts.
 * - counts `iterations.completed|failed`, `tasks.completed|failed`, `requests`, `workers.max|min`,
 *   `backlog.max`, `api.max`; `rate.achieved` in iterations per second.
 * - scaling times `scale_up`, `to_max`, `drain`, `back_to_min` (seconds; a time that never came fails).
 */
import {KedaLabError} from '../../errors.js'
import {type LatencyHistogram, percentile} from './histograms.js'
import type {ScalingFacts, ThresholdResult} from './records.js'

/** What thresholds read: the run's figures so far. */
export interface ThresholdView {
  histograms: Partial<Record<'add' | 'status' | 'task' | 'lag', LatencyHistogram>>
  checks: {passes: number; fails: number}
  requests: number
  errors: number
  iterations: {started: number; completed: number; failed: number; dropped: number}
  tasks: {completed: number; failed: number}
  rate?: {asked: number; achieved: number}
  scaling?: ScalingFacts
}

type Kind = 'latency' | 'ratio' | 'count' | 'seconds' | 'perSecond'
type Op = '<' | '<=' | '>' | '>=' | '==' | '!='

/** A parsed threshold. */
export interface Threshold {
  expression: string
  metric: string
  kind: Kind
  op: Op
  /** In the kind's unit: ms (latency), a fraction (ratio), s (seconds), a count, or per second. */
  value: number
  /**
   * Whether it can be judged while the run goes (for --abort-on-fail): latencies, checks, errors
   * can; rates, scaling times and end counts only mean something at the end.
   */
  live: boolean
  /** The measured value in the threshold's unit, or undefined when there is nothing to measure (yet). */
  measure(view: ThresholdView): number | undefined
}

const LATENCY = ['add', 'status', 'task', 'lag'] as const
const LATENCY_AGGS = 'p50, p90, p95, p99, p(99.9), avg, med, min, max'

const usage = (expression: string, why: string) =>
  new KedaLabError(`--threshold '${expression}': ${why}`, {
    hint: "write thresholds like 'add.p95<200ms', 'checks>99.9%', 'task.p95<60s', 'workers.max>=4', 'scale_up<90s', 'rate>99%'",
    exitCode: 2,
  })

function latencyAgg(expression: string, agg: string): (h: LatencyHistogram) => number {
  const p = /^p\(?(\d+(?:\.\d+)?)\)?$/.exec(agg)
  if (p) {
    const value = Number(p[1])
    if (value <= 0 || value > 100) throw usage(expression, `percentile ${value} must be between 0 and 100`)
    return (h) => percentile(h, value)
  }
  switch (agg) {
    case 'avg':
    case 'mean':
      return (h) => h.stats().mean
    case 'med':
      return (h) => percentile(h, 50)
    case 'min':
      return (h) => h.stats().min
    case 'max':
      return (h) => h.stats().max
    default:
      throw usage(expression, `unknown aggregate "${agg}" (use ${LATENCY_AGGS})`)
  }
}

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : undefined)

/** The threshold's value read as a time (in ms), a ratio (0..1) or a count, each refusing the units of the others. */
function valueReaders(expression: string, fullName: string, number: number, unit: string | undefined) {
  const time = (bareUnit: 'ms' | 's') => {
    if (unit === '%' || unit === '/s') throw usage(expression, `${fullName} is a time: write ms, s or m (e.g. 200ms, 90s)`)
    const u = unit ?? bareUnit
    return u === 'ms' ? number : u === 's' ? number * 1000 : number * 60_000
  }
  const fraction = () => {
    if (unit === '%') return number / 100
    if (unit) throw usage(expression, `${fullName} is a ratio: write a percentage like 99.9% or a fraction like 0.999`)
    if (number > 1) throw usage(expression, `${fullName} is a ratio: ${number} is above 1 (did you mean ${number}%?)`)
    return number
  }
  const count = () => {
    if (unit) throw usage(expression, `${fullName} is a count: write a plain number`)
    return number
  }
  return {time, fraction, count}
}

/** Parses one threshold, or throws a KedaLabError (exit 2) saying what is wrong. */
export function parseThreshold(expression: string): Threshold {
  const match = /^\s*([a-z_]+)(?:\.([a-z_]+|p\(?\d+(?:\.\d+)?\)?))?\s*(<=|>=|==|!=|<|>)\s*(\d+(?:\.\d+)?)\s*(%|ms|s|m|\/s)?\s*$/.exec(expression)
  if (!match) throw usage(expression, 'not METRIC[.AGGREGATE] OP VALUE')
  const [, metric = '', agg, op, rawValue, unit] = match
  const number = Number(rawValue)
  const fullName = agg ? `${metric}.${agg}` : metric
  const make = (kind: Kind, value: number, live: boolean, measure: Threshold['measure']): Threshold => ({
    expression: expression.trim(),
    metric: fullName,
    kind,
    op: op as Op,
    value,
    // A count can only be judged early when it can only get worse (a ceiling): errors.count<10.
    live: live && (kind !== 'count' || op === '<' || op === '<='),
    measure,
  })
  const {time, fraction, count} = valueReaders(expression, fullName, number, unit)

  if ((LATENCY as readonly string[]).includes(metric)) {
    if (!agg) throw usage(expression, `say which aggregate of ${metric} (e.g. ${metric}.p95): ${LATENCY_AGGS}`)
    if (agg === 'count') return make('count', count(), false, (v) => v.histograms[metric as (typeof LATENCY)[number]]?.count ?? 0)
    const read = latencyAgg(expression, agg)
    return make('latency', time('ms'), true, (v) => {
      const h = v.histograms[metric as (typeof LATENCY)[number]]
      return h && h.count > 0 ? read(h) : undefined
    })
  }
  if (fullName === 'rate.achieved') {
    if (unit && unit !== '/s') throw usage(expression, 'rate.achieved is in iterations per second: write e.g. 4.9 or 4.9/s')
    return make('perSecond', number, false, (v) => v.rate?.achieved)
  }
  const entry = Object.entries(METRICS).find(([name, m]) => name === fullName || m.aliases?.includes(fullName))?.[1]
  if (!entry) throw usage(expression, `unknown metric "${fullName}" (${METRIC_LIST})`)
  const value = entry.kind === 'ratio' ? fraction() : entry.kind === 'count' ? count() : time('ms') / 1000
  return make(entry.kind, value, entry.live, entry.measure)
}

/**
 * Every metric but the latencies and `rate.achieved`: its kind (which says how its value is
 * written), whether it can be judged while the run goes on, and what it measures. The order is
 * the one the unknown-metric error lists them in.
 */
const METRICS: Record<string, {kind: 'ratio' | 'count' | 'seconds'; live: boolean; aliases?: string[]; measure: Threshold['measure']}> = {
  checks: {kind: 'ratio', live: true, aliases: ['checks.rate'], measure: (v) => ratio(v.checks.passes, v.checks.passes + v.checks.fails)},
  errors: {kind: 'ratio', live: true, aliases: ['errors.rate'], measure: (v) => (v.requests > 0 ? v.errors / v.requests : undefined)},
  dropped: {
    kind: 'ratio',
    live: false,
    aliases: ['dropped.rate'],
    measure: (v) => ratio(v.iterations.dropped, v.iterations.started + v.iterations.dropped),
  },
  rate: {kind: 'ratio', live: false, measure: (v) => (v.rate && v.rate.asked > 0 ? v.rate.achieved / v.rate.asked : undefined)},
  'iterations.completed': {kind: 'count', live: false, measure: (v) => v.iterations.completed},
  'iterations.failed': {kind: 'count', live: true, measure: (v) => v.iterations.failed},
  'tasks.completed': {kind: 'count', live: false, measure: (v) => v.tasks.completed},
  'tasks.failed': {kind: 'count', live: true, measure: (v) => v.tasks.failed},
  requests: {kind: 'count', live: false, measure: (v) => v.requests},
  'errors.count': {kind: 'count', live: true, measure: (v) => v.errors},
  'dropped.count': {kind: 'count', live: false, measure: (v) => v.iterations.dropped},
  'workers.max': {kind: 'count', live: false, measure: (v) => v.scaling?.workersMax},
  'workers.min': {kind: 'count', live: false, measure: (v) => v.scaling?.workersMin},
  'backlog.max': {kind: 'count', live: false, measure: (v) => v.scaling?.backlogPeak},
  'api.max': {kind: 'count', live: false, measure: (v) => v.scaling?.apiReplicasMax},
  scale_up: {kind: 'seconds', live: false, measure: (v) => v.scaling?.firstScaleUpS},
  to_max: {kind: 'seconds', live: false, measure: (v) => v.scaling?.toMaxS},
  drain: {kind: 'seconds', live: false, measure: (v) => v.scaling?.drainS},
  back_to_min: {kind: 'seconds', live: false, measure: (v) => v.scaling?.backToMinS},
}

const namesOf = (kind: 'ratio' | 'count' | 'seconds') =>
  Object.entries(METRICS)
    .filter(([, m]) => m.kind === kind)
    .map(([name]) => name)
    .join(', ')
/** The metrics there are, for the unknown-metric error. */
const METRIC_LIST = `latency: ${LATENCY.join(', ')}; ratios: ${namesOf('ratio')}; counts: ${namesOf('count')}; rate.achieved; times: ${namesOf('seconds')}`

function compare(actual: number, op: Op, value: number): boolean {
  // Ratios and latencies come from float arithmetic: equal within a hair is equal.
  const eps = 1e-9
  switch (op) {
    case '<':
      return actual < value - eps
    case '<=':
      return actual <= value + eps
    case '>':
      return actual > value + eps
    case '>=':
      return actual >= value - eps
    case '==':
      return Math.abs(actual - value) <= eps
    case '!=':
      return Math.abs(actual - value) > eps
  }
}

/** The measured value as the user reads it, in the threshold's unit. */
function show(kind: Kind, actual: number): string {
  switch (kind) {
    case 'latency':
      return actual >= 1000 ? `${round(actual / 1000, 3)}s` : `${round(actual, 3)}ms`
    case 'ratio':
      return `${round(actual * 100, 3)}%`
    case 'seconds':
      return `${round(actual, 1)}s`
    case 'perSecond':
      return `${round(actual, 3)}/s`
    case 'count':
      return String(round(actual, 3))
  }
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits

/**
 * Judges one threshold. Nothing measured fails it ("no data"): a threshold that asked for
 * `scale_up<90s` in a run where no scale-up happened did not hold.
 */
export function evaluateThreshold(threshold: Threshold, view: ThresholdView): ThresholdResult {
  const actual = threshold.measure(view)
  if (actual === undefined) return {expression: threshold.expression, ok: false, actual: 'no data'}
  return {expression: threshold.expression, ok: compare(actual, threshold.op, threshold.value), actual: show(threshold.kind, actual)}
}

/**
 * For --abort-on-fail while the run goes: the first live threshold that already fails on the data
 * so far (one with no data yet is not judged).
 */
export function firstLiveFailure(thresholds: readonly Threshold[], view: ThresholdView): ThresholdResult | undefined {
  for (const t of thresholds) {
    if (!t.live || t.measure(view) === undefined) continue
    const result = evaluateThreshold(t, view)
    if (!result.ok) return result
  }
  return undefined
}
