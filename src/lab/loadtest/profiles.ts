/**
 * What to run: the lab's named profiles (the original load tests' shapes), or one built from flags
 * (`--vus/--iterations`, `--rate/--duration`, `--stages`), or a profile file (YAML or JSON). Every
 * path ends in one validated `ExecutorConfig`; every mistake is one `KedaLabError` naming the flag
 * or the file's line, raised before any request is sent.
 */
import {isMap, isScalar, isSeq, LineCounter, type Node, parseDocument} from 'yaml'

import {KedaLabError} from '../../errors.js'
import {parseDuration, parseRate} from './durations.js'
import {
  DEFAULT_GRACEFUL_STOP_MS,
  DEFAULT_MAX_DURATION_MS,
  describeExecutor,
  EXECUTOR_TYPES,
  type ExecutorConfig,
  type ExecutorType,
  scaleExecutor,
  type Stage,
  validateExecutor,
} from './executors.js'

/** A named profile: `keda-lab loadtest --profile NAME`. */
export interface Profile {
  name: string
  /** The model and shape in words, for `--list`. */
  summary: string
  executor: ExecutorConfig
}

const s = (seconds: number) => seconds * 1000

/** Open-model profiles: enough in flight for a backlog of minutes (an iteration in flight costs a timer). */
const OPEN_MAX_VUS = 1000

/** A profile's stages as `[seconds, target]` pairs, the way the issue's table writes them. */
const stages = (...pairs: [seconds: number, target: number][]): Stage[] => pairs.map(([seconds, target]) => ({durationMs: s(seconds), target}))

/** The reference tools' safety bounds, the same for every profile. */
const BOUNDS = {maxDurationMs: DEFAULT_MAX_DURATION_MS, gracefulStopMs: DEFAULT_GRACEFUL_STOP_MS}
const GRACE = {gracefulStopMs: DEFAULT_GRACEFUL_STOP_MS}

/**
 * The profiles, as the original system's load tests defined them. `backlog`: the chart's defaults
 * are 10 workers at most, 2 tasks per worker, one task of the default size takes about 5 s of a
 * core; so 10 workers finish about 2 tasks/s, and 4 tasks/s held for a minute leaves a queue far
 * beyond 10 × 2 = 20: KEDA has to go to its maximum, then back once the adds stop.
 */
export const PROFILES: readonly Profile[] = [
  {name: 'smoke', summary: 'shared iterations: 5 VUs, 10 iterations in all', executor: {type: 'shared-iterations', vus: 5, iterations: 10, ...BOUNDS}},
  {name: 'shared-20', summary: 'shared iterations: 20 VUs, 20 iterations', executor: {type: 'shared-iterations', vus: 20, iterations: 20, ...BOUNDS}},
  {name: 'shared-50', summary: 'shared iterations: 20 VUs, 50 iterations', executor: {type: 'shared-iterations', vus: 20, iterations: 50, ...BOUNDS}},
  {name: 'per-vu', summary: 'per-VU iterations: 35 VUs, 3 iterations each', executor: {type: 'per-vu-iterations', vus: 35, iterations: 3, ...BOUNDS}},
  {
    name: 'ramp',
    summary: 'ramping VUs: start 1; 30s → 10, 30s → 20, 1m → 0; graceful ramp-down 0',
    executor: {type: 'ramping-vus', startVUs: 1, stages: stages([30, 10], [30, 20], [60, 0]), gracefulRampDownMs: 0, ...GRACE},
  },
  {
    name: 'spike',
    summary: 'ramping VUs: 0 → 50 in 10s, hold 30s, → 0 in 10s',
    executor: {type: 'ramping-vus', startVUs: 0, stages: stages([10, 50], [30, 50], [10, 0]), gracefulRampDownMs: DEFAULT_GRACEFUL_STOP_MS, ...GRACE},
  },
  {
    name: 'backlog',
    summary: 'ramping arrival rate (open model): 0 → 4 tasks/s in 30s, hold 1m, → 0 in 10s: a queue past 10 workers × 2 tasks, KEDA to its maximum and back',
    executor: {type: 'ramping-arrival-rate', startRate: 0, stages: stages([30, 4], [60, 4], [10, 0]), maxVUs: OPEN_MAX_VUS, ...GRACE},
  },
  {
    name: 'soak',
    summary: 'constant arrival rate: 1 task/s for 10m (--duration and --rate change it)',
    executor: {type: 'constant-arrival-rate', rate: 1, durationMs: s(600), maxVUs: OPEN_MAX_VUS, ...GRACE},
  },
]

/** `--list`: one line per profile. */
export function listProfiles(): string[] {
  const width = Math.max(...PROFILES.map((p) => p.name.length))
  return PROFILES.map((p) => `${p.name.padEnd(width)}  ${p.summary}`)
}

/** The flags that choose what to run (strings as typed: durations, rates and stages are parsed here). */
export interface LoadFlags {
  profile?: string
  profileFile?: string
  vus?: number
  iterations?: number
  rate?: string
  duration?: string
  stages?: string
  maxVus?: number
  gracefulStop?: string
  /** Multiplies every duration (1 = as defined). */
  timeScale?: number
}

/** What to run, resolved. */
export interface ResolvedLoad {
  /** The profile's name, "custom" for flags, or the file's name. */
  name: string
  executor: ExecutorConfig
  /** Set by a profile file (`taskIterations:`), overridden by `--task-iterations`. */
  taskIterations?: number
}

const usage = (message: string, hint: string) => new KedaLabError(message, {hint, exitCode: 2})

function durationFlag(flag: string, text: string): number {
  const ms = parseDuration(text)
  if (ms === undefined) throw usage(`--${flag} ${text} is not a duration`, `write it like 30s, 1m30s, 500ms or 2h, e.g. --${flag} 1m`)
  return ms
}

function rateFlag(text: string): number {
  const rate = parseRate(text)
  if (rate === undefined || rate <= 0)
    throw usage(`--rate ${text} is not a rate`, 'write iterations per second like 5/s, or per minute like 120/m, e.g. --rate 5/s')
  return rate
}

/**
 * `--stages "30s:10,1m:20"`: comma-separated `duration:target` pairs (the target is VUs, or a rate
 * like `5/s` with --rate).
 */
export function parseStages(text: string, unit: 'vus' | 'rate'): Stage[] {
  const parts = text.split(',').map((p) => p.trim())
  if (parts.length === 0 || parts.some((p) => p === '')) throw usage(`--stages "${text}" has an empty stage`, 'write stages like --stages "30s:10,1m:20,30s:0"')
  return parts.map((part, i) => {
    const match = /^([^:]+):(.+)$/.exec(part)
    const durationMs = match ? parseDuration(match[1] as string) : undefined
    const target = match
      ? unit === 'rate'
        ? parseRate(match[2] as string)
        : /^\d+$/.test((match[2] as string).trim())
          ? Number(match[2])
          : undefined
      : undefined
    if (!match || durationMs === undefined || target === undefined) {
      const want = unit === 'rate' ? 'duration:rate, e.g. 30s:5/s' : 'duration:VUs, e.g. 30s:10'
      throw usage(`--stages: stage ${i + 1} "${part}" is not ${want}`, 'write stages like --stages "30s:10,1m:20,30s:0"')
    }
    return {durationMs, target}
  })
}

const ANY_SHAPE = '--profile NAME (see --list), --vus N --iterations M, --vus N --duration D, --rate R/s --duration D, or --stages "30s:10,1m:20"'

/**
 * Resolves the flags (and a profile file's text, read by the caller) to one validated executor.
 * Without any flag it is `smoke`. `--time-scale` is applied last, to every duration.
 */
export function resolveLoad(flags: LoadFlags, readFile: (path: string) => string = () => ''): ResolvedLoad {
  const shapeFlags = (['vus', 'iterations', 'rate', 'duration', 'stages'] as const).filter((k) => flags[k] !== undefined)
  if (flags.timeScale !== undefined && !(Number.isFinite(flags.timeScale) && flags.timeScale > 0))
    throw usage(`--time-scale ${flags.timeScale} must be a number above 0`, 'e.g. --time-scale 0.1 runs every duration ten times shorter')
  if (flags.profile && flags.profileFile) throw usage('--profile and --profile-file cannot be combined', 'pick one of them')

  let resolved: ResolvedLoad
  if (flags.profileFile) {
    if (shapeFlags.length > 0) throw usage(`--${shapeFlags[0]} cannot be combined with --profile-file`, 'put it in the profile file instead')
    let text: string
    try {
      text = readFile(flags.profileFile)
    } catch (error) {
      throw usage(`cannot read --profile-file ${flags.profileFile}: ${(error as Error).message}`, 'pass the path of a YAML or JSON profile file')
    }
    resolved = parseProfileFile(text, flags.profileFile)
  } else if (flags.profile || shapeFlags.length === 0) {
    resolved = fromProfile(flags.profile ?? 'smoke', flags)
  } else {
    resolved = {name: 'custom', executor: fromFlags(flags)}
  }
  let executor = resolved.executor
  if (flags.maxVus !== undefined) {
    if (executor.type !== 'constant-arrival-rate' && executor.type !== 'ramping-arrival-rate')
      throw usage(`--max-vus applies to the open model (--rate), not to ${executor.type}`, 'use --vus for the closed model')
    executor = {...executor, maxVUs: flags.maxVus}
  }
  if (flags.gracefulStop !== undefined) executor = {...executor, gracefulStopMs: durationFlag('graceful-stop', flags.gracefulStop)}
  if (flags.timeScale !== undefined && flags.timeScale !== 1) executor = scaleExecutor(executor, flags.timeScale)
  const problem = validateExecutor(executor)
  if (problem) throw usage(`${resolved.name}: ${problem}`, `change the flags; the run would be: ${describeExecutor(executor)}`)
  return {...resolved, executor}
}

function fromProfile(name: string, flags: LoadFlags): ResolvedLoad {
  const profile = PROFILES.find((p) => p.name === name)
  if (!profile) throw usage(`there is no profile "${name}"`, `choose one of ${PROFILES.map((p) => p.name).join(', ')} (keda-lab loadtest --list)`)
  let executor: ExecutorConfig = structuredClone(profile.executor)
  const refuse = (flag: string) => {
    throw usage(
      `--${flag} does not apply to the ${name} profile (${executor.type})`,
      `run \`keda-lab loadtest --list\` to see what ${name} is, or build your own with ${ANY_SHAPE}`,
    )
  }
  if (flags.stages !== undefined) refuse('stages')
  if (flags.vus !== undefined) {
    if (executor.type === 'shared-iterations' || executor.type === 'per-vu-iterations' || executor.type === 'constant-vus')
      executor = {...executor, vus: flags.vus}
    else refuse('vus')
  }
  if (flags.iterations !== undefined) {
    if (executor.type === 'shared-iterations' || executor.type === 'per-vu-iterations') executor = {...executor, iterations: flags.iterations}
    else refuse('iterations')
  }
  if (flags.duration !== undefined) {
    if (executor.type === 'constant-arrival-rate' || executor.type === 'constant-vus')
      executor = {...executor, durationMs: durationFlag('duration', flags.duration)}
    else refuse('duration')
  }
  if (flags.rate !== undefined) {
    if (executor.type === 'constant-arrival-rate') executor = {...executor, rate: rateFlag(flags.rate)}
    else refuse('rate')
  }
  return {name, executor}
}

function fromFlags(flags: LoadFlags): ExecutorConfig {
  const gracefulStopMs = DEFAULT_GRACEFUL_STOP_MS
  if (flags.stages !== undefined) {
    if (flags.iterations !== undefined) throw usage('--stages cannot be combined with --iterations', 'stages run for their durations; drop --iterations')
    if (flags.duration !== undefined) throw usage('--stages cannot be combined with --duration', 'the stages give the duration; drop --duration')
    if (flags.rate !== undefined)
      return {type: 'ramping-arrival-rate', startRate: rateFlag(flags.rate), stages: parseStages(flags.stages, 'rate'), maxVUs: OPEN_MAX_VUS, gracefulStopMs}
    return {
      type: 'ramping-vus',
      startVUs: flags.vus ?? 1,
      stages: parseStages(flags.stages, 'vus'),
      gracefulRampDownMs: DEFAULT_GRACEFUL_STOP_MS,
      gracefulStopMs,
    }
  }
  if (flags.rate !== undefined) {
    if (flags.duration === undefined) throw usage('--rate needs --duration', 'e.g. --rate 5/s --duration 1m')
    if (flags.vus !== undefined || flags.iterations !== undefined)
      throw usage('--rate (open model) cannot be combined with --vus or --iterations', 'cap iterations in flight with --max-vus instead')
    return {
      type: 'constant-arrival-rate',
      rate: rateFlag(flags.rate),
      durationMs: durationFlag('duration', flags.duration),
      maxVUs: OPEN_MAX_VUS,
      gracefulStopMs,
    }
  }
  if (flags.iterations !== undefined) {
    if (flags.duration !== undefined) throw usage('--iterations cannot be combined with --duration', 'give either a number of iterations or a duration')
    return {type: 'shared-iterations', vus: flags.vus ?? 1, iterations: flags.iterations, maxDurationMs: DEFAULT_MAX_DURATION_MS, gracefulStopMs}
  }
  return {type: 'constant-vus', vus: flags.vus ?? 1, durationMs: durationFlag('duration', flags.duration ?? '30s'), gracefulStopMs}
}

/** The keys a profile file may have, per executor (durations as `30s`, rates as `5/s` or a number per second). */
const FILE_KEYS: Record<ExecutorType, string[]> = {
  'shared-iterations': ['vus', 'iterations', 'maxDuration', 'gracefulStop'],
  'per-vu-iterations': ['vus', 'iterations', 'maxDuration', 'gracefulStop'],
  'constant-vus': ['vus', 'duration', 'gracefulStop'],
  'ramping-vus': ['startVUs', 'stages', 'gracefulRampDown', 'gracefulStop'],
  'constant-arrival-rate': ['rate', 'duration', 'maxVUs', 'gracefulStop'],
  'ramping-arrival-rate': ['startRate', 'stages', 'maxVUs', 'gracefulStop'],
}

const FILE_EXAMPLE = 'e.g.\n  executor: ramping-vus\n  startVUs: 1\n  stages:\n    - {duration: 30s, target: 10}\n    - {duration: 1m, target: 0}'

/** A profile file parsed and checked as a whole: its keys, its executor type, and how to report at a node. */
interface ProfileFile {
  root: Node
  values: Map<string, Node>
  type: string
  at: (node: Node | null | undefined) => string
  fail: (where: string, message: string) => never
}

/** Parses the YAML and checks it is a mapping of plain keys with a known `executor:` and only that executor's keys. */
function openProfileFile(text: string, path: string): ProfileFile {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false})
  const at = (node: Node | null | undefined) => {
    const offset = node?.range?.[0]
    return offset === undefined ? path : `${path}:${lineCounter.linePos(offset).line}`
  }
  const fail = (where: string, message: string): never => {
    throw new KedaLabError(`${where}: ${message}`, {hint: `fix the profile file; ${FILE_EXAMPLE}`, exitCode: 2})
  }
  if (doc.errors.length > 0) {
    const e = doc.errors[0] as (typeof doc.errors)[number]
    fail(`${path}:${lineCounter.linePos(e.pos[0]).line}`, `not valid YAML or JSON (${e.code}: ${e.message.split('\n')[0]})`)
  }
  const root = doc.contents
  if (!isMap(root)) return fail(at(root), 'the file must be a mapping with an `executor:` key')
  const values = new Map<string, Node>()
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined
    if (key === undefined) fail(at(pair.key as Node), 'keys must be plain names')
    values.set(key as string, pair.value as Node)
  }
  const typeNode = values.get('executor')
  const type = isScalar(typeNode) ? String(typeNode.value) : undefined
  if (!type || !(EXECUTOR_TYPES as string[]).includes(type))
    return fail(at(typeNode ?? root), `executor must be one of ${EXECUTOR_TYPES.join(', ')}${type ? `, got "${type}"` : ''}`)
  const allowed = new Set(['executor', 'name', 'taskIterations', ...FILE_KEYS[type as ExecutorType]])
  for (const pair of root.items) {
    const key = String((pair.key as {value: unknown}).value)
    if (!allowed.has(key)) fail(at(pair.key as Node), `unknown key "${key}" for ${type} (allowed: ${[...allowed].join(', ')})`)
  }
  return {root, values, type, at, fail}
}

/** Readers of one field each (values, whole numbers, durations, rates, stages), failing at the field's line. */
function fieldReaders({root, values, type, at, fail}: ProfileFile) {
  const scalar = (key: string, node: Node | undefined): unknown => {
    if (!isScalar(node)) return fail(at(node ?? root), `${key} must be a single value`)
    return node.value
  }
  const required = (key: string) => values.get(key) ?? fail(at(root), `${type} needs "${key}"`)
  const int = (key: string, node: Node | undefined = required(key)) => {
    const v = scalar(key, node)
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(at(node), `${key} must be a whole number ≥ 0, got ${JSON.stringify(v)}`)
    return v as number
  }
  const duration = (key: string, node: Node | undefined, fallback?: number): number => {
    if (node === undefined) {
      if (fallback === undefined) return fail(at(root), `${type} needs "${key}"`)
      return fallback
    }
    const v = scalar(key, node)
    const ms = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? parseDuration(v) : undefined
    if (ms === undefined || ms < 0) fail(at(node), `${key} must be a duration like 30s or 1m30s, got ${JSON.stringify(v)}`)
    return ms as number
  }
  const rate = (key: string, node: Node | undefined = required(key)): number => {
    const v = scalar(key, node)
    const r = typeof v === 'number' ? v : typeof v === 'string' ? parseRate(v) : undefined
    if (r === undefined || r < 0) fail(at(node), `${key} must be a rate like 5/s or 120/m, got ${JSON.stringify(v)}`)
    return r as number
  }
  const stages = (unit: 'vus' | 'rate'): Stage[] => {
    const node = required('stages')
    if (!isSeq(node) || node.items.length === 0) return fail(at(node), 'stages must be a list of {duration, target}')
    return node.items.map((item, i) => {
      if (!isMap(item)) return fail(at(item as Node), `stage ${i + 1} must be {duration, target}`)
      const fields = new Map<string, Node>()
      for (const pair of item.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : ''
        if (key !== 'duration' && key !== 'target') fail(at(pair.key as Node), `stage ${i + 1}: unknown key "${key}" (a stage has duration and target)`)
        fields.set(key, pair.value as Node)
      }
      const durationNode = fields.get('duration') ?? fail(at(item), `stage ${i + 1} needs a duration`)
      const targetNode = fields.get('target') ?? fail(at(item), `stage ${i + 1} needs a target`)
      return {durationMs: duration('duration', durationNode), target: unit === 'rate' ? rate('target', targetNode) : int('target', targetNode)}
    })
  }
  return {scalar, int, duration, rate, stages}
}

/**
 * A profile file, YAML or JSON (JSON is YAML): `executor:` one of the six types, its fields, and
 * optionally `name:` and `taskIterations:`. An error names the file and line.
 */
export function parseProfileFile(text: string, path: string): ResolvedLoad {
  const file = openProfileFile(text, path)
  const {root, values, type, at, fail} = file
  const {scalar, int, duration, rate, stages} = fieldReaders(file)
  const gracefulStopMs = duration('gracefulStop', values.get('gracefulStop'), DEFAULT_GRACEFUL_STOP_MS)
  let executor: ExecutorConfig
  switch (type as ExecutorType) {
    case 'shared-iterations':
    case 'per-vu-iterations':
      executor = {
        type: type as 'shared-iterations',
        vus: int('vus'),
        iterations: int('iterations'),
        maxDurationMs: duration('maxDuration', values.get('maxDuration'), DEFAULT_MAX_DURATION_MS),
        gracefulStopMs,
      }
      break
    case 'constant-vus':
      executor = {type: 'constant-vus', vus: int('vus'), durationMs: duration('duration', values.get('duration')), gracefulStopMs}
      break
    case 'ramping-vus':
      executor = {
        type: 'ramping-vus',
        startVUs: values.has('startVUs') ? int('startVUs') : 1,
        stages: stages('vus'),
        gracefulRampDownMs: duration('gracefulRampDown', values.get('gracefulRampDown'), DEFAULT_GRACEFUL_STOP_MS),
        gracefulStopMs,
      }
      break
    case 'constant-arrival-rate':
      executor = {
        type: 'constant-arrival-rate',
        rate: rate('rate'),
        durationMs: duration('duration', values.get('duration')),
        maxVUs: values.has('maxVUs') ? int('maxVUs') : OPEN_MAX_VUS,
        gracefulStopMs,
      }
      break
    case 'ramping-arrival-rate':
      executor = {
        type: 'ramping-arrival-rate',
        startRate: values.has('startRate') ? rate('startRate') : 0,
        stages: stages('rate'),
        maxVUs: values.has('maxVUs') ? int('maxVUs') : OPEN_MAX_VUS,
        gracefulStopMs,
      }
      break
  }
  const problem = validateExecutor(executor)
  if (problem) fail(at(root), problem)
  const nameNode = values.get('name')
  const name = nameNode ? String(scalar('name', nameNode)) : (path.split('/').pop() ?? path).replace(/\.(ya?ml|json)$/i, '')
  const taskIterationsNode = values.get('taskIterations')
  return {name, executor, ...(taskIterationsNode ? {taskIterations: int('taskIterations', taskIterationsNode)} : {})}
}
