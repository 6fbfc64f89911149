/**
 * `loadtest --export k6 FILE`: the chosen load as an equivalent k6 script, for people who already
 * run k6 — the same executor and stages (after --time-scale), the lab's scenario with its requests,
 * checks (same names) and sleeps, and the thresholds k6 can express. keda-lab never runs k6 (it is
 * AGPL); this only writes text.
 *
 * What does not translate is said in the script, not dropped silently: the scaling thresholds
 * (workers, backlog, scale-up and drain times) need keda-lab's watcher, scheduler lag and the
 * achieved-rate ratio are keda-lab's own metrics, and k6 measures latency from the actual send,
 * where keda-lab's open model measures it from the scheduled start.
 */
import {KedaLabError} from '../../errors.js'
import {type LoadTestCommandOptions, prepareLoadTest} from './prepare.js'
import type {ExecutorConfig, Stage} from './executors.js'
import {scaledTiming} from './scenario.js'

/** A threshold as the engine parses it (thresholds.ts): what the export needs of it. */
export interface ExportThreshold {
  expression: string
  /** `add.p95`, `checks`, `errors.count`, `workers.max`, `scale_up`… */
  metric: string
  kind: 'latency' | 'ratio' | 'count' | 'seconds' | 'perSecond'
  op: '<' | '<=' | '>' | '>=' | '==' | '!='
  /** ms (latency), a fraction (ratio), s (seconds), a count, or per second. */
  value: number
}

/** What the script is written from. */
export interface K6ExportOptions {
  /** The profile's name (the k6 scenario's name). */
  name: string
  executor: ExecutorConfig
  /** The target the script calls when BASE_URL is not set. */
  baseUrl: string
  /** Pause between the add and the first poll, and between polls (after --time-scale). */
  timing: {sleepMs: number; pollMs: number}
  /** With a task size, the typed route `POST /api/tasks {"iterations": N}` as in keda-lab. */
  taskIterations?: number
  thresholds: readonly ExportThreshold[]
  /** keda-lab's version, for the header. */
  version: string
}

/** A k6 duration ("90s", "1500ms"): Go duration syntax, exact to the millisecond. */
export function k6Duration(ms: number): string {
  const whole = Math.round(ms)
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`
}

const TIME_UNITS: readonly [string, number][] = [
  ['1s', 1],
  ['1m', 60],
  ['1h', 3600],
]

/**
 * k6 takes arrival rates as whole iterations per `timeUnit`: the smallest unit that makes every
 * rate whole (0.5/s → 1 per 2s is not a k6 unit, 30 per 1m is). Rates no unit makes whole are
 * rounded per hour, which is said in a comment.
 */
export function k6Rates(rates: readonly number[]): {timeUnit: string; values: number[]; rounded: boolean} {
  for (const [timeUnit, seconds] of TIME_UNITS) {
    const values = rates.map((r) => r * seconds)
    if (values.every((v) => Math.abs(v - Math.round(v)) < 1e-9)) return {timeUnit, values: values.map((v) => Math.round(v)), rounded: false}
  }
  return {timeUnit: '1h', values: rates.map((r) => Math.round(r * 3600)), rounded: true}
}

const stagesOf = (stages: readonly Stage[], targets: readonly number[]) =>
  stages.map((s, i) => ({duration: k6Duration(s.durationMs), target: targets[i] ?? s.target}))

/** The k6 scenario for an executor, and notes on what changed in translation. */
export function k6Scenario(executor: ExecutorConfig): {scenario: Record<string, unknown>; notes: string[]} {
  const gracefulStop = k6Duration(executor.gracefulStopMs)
  const notes: string[] = []
  // k6 allocates VUs up to maxVUs on demand (with a warning); keda-lab needs no pre-allocation.
  const preAllocated = (maxVUs: number, peak: number) => Math.min(maxVUs, Math.max(1, Math.ceil(peak)))
  switch (executor.type) {
    case 'shared-iterations':
    case 'per-vu-iterations':
      return {
        scenario: {executor: executor.type, vus: executor.vus, iterations: executor.iterations, maxDuration: k6Duration(executor.maxDurationMs), gracefulStop},
        notes,
      }
    case 'constant-vus':
      return {scenario: {executor: 'constant-vus', vus: executor.vus, duration: k6Duration(executor.durationMs), gracefulStop}, notes}
    case 'ramping-vus':
      return {
        scenario: {
          executor: 'ramping-vus',
          startVUs: executor.startVUs,
          stages: stagesOf(
            executor.stages,
            executor.stages.map((s) => s.target),
          ),
          gracefulRampDown: k6Duration(executor.gracefulRampDownMs),
          gracefulStop,
        },
        notes,
      }
    case 'constant-arrival-rate': {
      const {timeUnit, values, rounded} = k6Rates([executor.rate])
      if (rounded) notes.push(`the rate ${executor.rate}/s is rounded to ${values[0]} per hour (k6 takes whole iterations per time unit)`)
      return {
        scenario: {
          executor: 'constant-arrival-rate',
          rate: values[0],
          timeUnit,
          duration: k6Duration(executor.durationMs),
          preAllocatedVUs: preAllocated(executor.maxVUs, executor.rate),
          maxVUs: executor.maxVUs,
          gracefulStop,
        },
        notes,
      }
    }
    case 'ramping-arrival-rate': {
      const {timeUnit, values, rounded} = k6Rates([executor.startRate, ...executor.stages.map((s) => s.target)])
      if (rounded) notes.push('the rates are rounded to whole iterations per hour (k6 takes whole iterations per time unit)')
      const peak = Math.max(executor.startRate, ...executor.stages.map((s) => s.target))
      return {
        scenario: {
          executor: 'ramping-arrival-rate',
          startRate: values[0],
          timeUnit,
          preAllocatedVUs: preAllocated(executor.maxVUs, peak),
          maxVUs: executor.maxVUs,
          stages: stagesOf(executor.stages, values.slice(1)),
          gracefulStop,
        },
        notes,
      }
    }
  }
}

/** keda-lab's latency aggregate as k6 writes it: p95 → p(95), med, avg, min, max. */
function k6Aggregate(agg: string): string | undefined {
  const p = /^p\(?(\d+(?:\.\d+)?)\)?$/.exec(agg)
  if (p) return `p(${p[1]})`
  if (agg === 'mean') return 'avg'
  return ['avg', 'med', 'min', 'max'].includes(agg) ? agg : undefined
}

/** One keda-lab threshold as a k6 metric and expression, or why it has none. */
export function k6Threshold(t: ExportThreshold): {metric: string; expression: string} | {untranslated: string} {
  // Split at the first dot only: `status.p(99.9)`.
  const dot = t.metric.indexOf('.')
  const metric = dot < 0 ? t.metric : t.metric.slice(0, dot)
  const agg = dot < 0 ? undefined : t.metric.slice(dot + 1)
  const cond = (value: number) => `${t.op === '==' ? '==' : t.op}${value}`
  if (t.kind === 'latency' && agg) {
    const k6agg = k6Aggregate(agg)
    if (k6agg && (metric === 'add' || metric === 'status')) return {metric: `http_req_duration{step:${metric}}`, expression: `${k6agg}${cond(t.value)}`}
    if (k6agg && metric === 'task') return {metric: 'task_duration', expression: `${k6agg}${cond(t.value)}`}
    if (metric === 'lag') return {untranslated: 'scheduler lag is keda-lab’s own metric (k6 does not report it)'}
  }
  switch (t.metric) {
    case 'checks':
      return {metric: 'checks', expression: `rate${cond(t.value)}`}
    case 'errors':
      return {metric: 'http_req_failed', expression: `rate${cond(t.value)}`}
    case 'errors.count':
      return {metric: 'http_req_failed', expression: `passes${cond(t.value)}`}
    case 'dropped.count':
      return {metric: 'dropped_iterations', expression: `count${cond(t.value)}`}
    case 'requests':
      return {metric: 'http_reqs', expression: `count${cond(t.value)}`}
    case 'iterations.completed':
      return {metric: 'iterations', expression: `count${cond(t.value)}`}
    case 'tasks.completed':
      return {metric: 'tasks_completed', expression: `count${cond(t.value)}`}
    case 'tasks.failed':
      return {metric: 'tasks_failed', expression: `count${cond(t.value)}`}
  }
  if (t.kind === 'seconds' || /^(workers|backlog|api)\./.test(t.metric)) return {untranslated: 'a scaling fact: only keda-lab watches the autoscaler'}
  return {untranslated: 'k6 has no metric for it'}
}

const js = (value: unknown) => JSON.stringify(value, null, 2)

/** The script's `options` (the scenario and the thresholds k6 can express) and its header comments (notes, what was not translated). */
function k6OptionsAndNotes(options: K6ExportOptions) {
  const {scenario, notes} = k6Scenario(options.executor)
  const thresholds: Record<string, string[]> = {}
  const untranslated: string[] = []
  for (const t of options.thresholds) {
    const k6 = k6Threshold(t)
    if ('untranslated' in k6) untranslated.push(`'${t.expression}': ${k6.untranslated}`)
    else thresholds[k6.metric] = [...(thresholds[k6.metric] ?? []), k6.expression]
  }
  const scenarioName = options.name.replace(/[^A-Za-z0-9_-]/g, '_') || 'loadtest'
  const exportOptions = {scenarios: {[scenarioName]: scenario}, ...(Object.keys(thresholds).length > 0 ? {thresholds} : {})}
  const comments = [
    ...notes,
    ...untranslated.map((u) => `not translated: ${u}`),
    'k6 measures latency from the actual send; keda-lab measures open-model latency from the scheduled start (coordinated-omission-safe), so k6 shows less when the target stalls.',
  ]
  return {exportOptions, comments}
}

/** The add request and its checks: a typed task (POST /api/tasks with iterations) or the original /api/tasks/add. */
function k6AddStep(taskIterations: number | undefined) {
  const typed = taskIterations !== undefined
  const addChecks = typed
    ? `    'add: status is 202': (r) => r.status === 202,
    'add: content-type is application/json': (r) => r.headers['Content-Type'] === 'application/json',
    'add: id is a non-empty string': (r) => typeof field(r, 'id') === 'string' && field(r, 'id') !== '',
    'add: status is "Queued"': (r) => field(r, 'status') === 'Queued',`
    : `    'add: status is 200': (r) => r.status === 200,
    'add: content-type is application/json': (r) => r.headers['Content-Type'] === 'application/json',
    'add: success is true': (r) => field(r, 'success') === true,
    'add: result.id is a non-empty string': (r) => typeof field(r, 'result.id') === 'string' && field(r, 'result.id') !== '',
    'add: result.message is "Task queued."': (r) => field(r, 'result.message') === 'Task queued.',`
  const addRequest = typed
    ? `http.post(\`\${BASE_URL}/api/tasks\`, JSON.stringify({iterations: ${taskIterations}}), {
    headers: {'Content-Type': 'application/json'},
    tags: {step: 'add'},
  })`
    : `http.post(\`\${BASE_URL}/api/tasks/add\`, null, {tags: {step: 'add'}})`
  return {addChecks, addRequest}
}

/** The whole k6 script (an ES module). */
export function exportK6(options: K6ExportOptions): string {
  const typed = options.taskIterations !== undefined
  const {exportOptions, comments} = k6OptionsAndNotes(options)
  const {addChecks, addRequest} = k6AddStep(options.taskIterations)
  return `// k6 script exported by keda-lab ${options.version} (keda-lab loadtest --export k6): profile "${options.name}".
// Run it with k6 yourself: BASE_URL=http://… k6 run THIS_FILE — keda-lab never runs k6.
${comments.map((c) => `// ${c}`).join('\n')}
import {check, sleep} from 'k6'
import http from 'k6/http'
import {Counter, Trend} from 'k6/metrics'

const BASE_URL = __ENV.BASE_URL || ${JSON.stringify(options.baseUrl.replace(/\/+$/, ''))}
/** Pause after the add, and between status polls, in seconds. */
const SLEEP_S = ${options.timing.sleepMs / 1000}
const POLL_S = ${options.timing.pollMs / 1000}

/** Queued → first Completed poll, as keda-lab's task latency. */
const taskDuration = new Trend('task_duration', true)
const tasksCompleted = new Counter('tasks_completed')
const tasksFailed = new Counter('tasks_failed')

export const options = ${js(exportOptions)}

/** A field of a JSON body, undefined when the body is not JSON. */
function field(r, path) {
  try {
    return r.json(path)
  } catch {
    return undefined
  }
}

export default function () {
  const add = ${addRequest}
  const ok = check(add, {
${addChecks}
  })
  const id = field(add, '${typed ? 'id' : 'result.id'}')
  if (!ok || typeof id !== 'string' || id === '') return
  const queuedAt = Date.now()
  sleep(SLEEP_S)
  for (;;) {
    const poll = http.get(\`\${BASE_URL}/api/tasks/status/\${encodeURIComponent(id)}\`, {tags: {step: 'status'}})
    check(poll, {
      'status: status is 200': (r) => r.status === 200,
      'status: content-type is application/json': (r) => r.headers['Content-Type'] === 'application/json',
      'status: success is true': (r) => field(r, 'success') === true,
      'status: progress.status, progress, timeElapsed are strings': (r) =>
        ['status', 'progress', 'timeElapsed'].every((k) => typeof field(r, \`result.progress.\${k}\`) === 'string'),
    })
    if (poll.status === 404) {
      tasksFailed.add(1)
      return
    }
    const status = field(poll, 'result.progress.status')
    if (status === 'Completed') {
      taskDuration.add(Date.now() - queuedAt)
      tasksCompleted.add(1)
      return
    }
    if (status === 'Failed' || status === 'Cancelled') {
      tasksFailed.add(1)
      return
    }
    sleep(POLL_S)
  }
}
`
}

/** Where the script points when no --target is given: `keda-lab dev`'s API, overridable with BASE_URL. */
export const K6_DEFAULT_BASE_URL = 'http://127.0.0.1:8000'

/**
 * `loadtest --export k6 FILE`: resolves the load as a run would (every flag checked the same way),
 * writes the script and returns what it wrote. Sends no request.
 */
export function writeK6Export(
  options: LoadTestCommandOptions,
  file: string,
  deps: {writeFile(path: string, text: string): void; readFile?(path: string): string},
): {file: string; profile: string} {
  const prepared = deps.readFile ? prepareLoadTest(options, deps.readFile) : prepareLoadTest(options)
  if (prepared.shard)
    throw new KedaLabError('--shard cannot be exported to k6', {hint: 'drop --shard; k6 splits a run with its own execution segments', exitCode: 2})
  const script = exportK6({
    name: prepared.load.name,
    executor: prepared.load.executor,
    baseUrl: options.target.url ?? K6_DEFAULT_BASE_URL,
    timing: scaledTiming(options.timeScale ?? 1),
    taskIterations: prepared.taskIterations,
    thresholds: prepared.thresholds,
    version: options.version,
  })
  try {
    deps.writeFile(file, script)
  } catch (error) {
    throw new KedaLabError(`cannot write the k6 script to ${file}: ${(error as Error).message}`, {
      hint: 'pass a file in a folder you can write to',
      exitCode: 2,
    })
  }
  return {file, profile: prepared.load.name}
}
