/**
 * The six executors, as data: a validated configuration that can say, before anything starts, how
 * many VUs and how long it needs (`executorPlan`), be shortened or stretched (`scaleExecutor`,
 * `--time-scale`) and be cut into one shard's slice (`shardExecutor`, `--shard i/N`). The one
 * `run` that drives any of them is run.ts; the open model's clock is schedule.ts. The names and
 * the meaning of every field follow the reference tools (k6's executors), so a k6 user reads
 * them without a manual.
 */
import {formatDuration, formatRate} from './durations.js'

/** One stage of a ramp: reach `target` (VUs, or iterations per second) linearly over `durationMs`. */
export interface Stage {
  durationMs: number
  target: number
}

/** Closed model: a fixed pool of VUs shares `iterations`; ends when all ran or at `maxDurationMs`. */
export interface SharedIterations {
  type: 'shared-iterations'
  vus: number
  iterations: number
  maxDurationMs: number
  gracefulStopMs: number
}

/** Closed model: every VU runs `iterations` iterations. */
export interface PerVuIterations {
  type: 'per-vu-iterations'
  vus: number
  iterations: number
  maxDurationMs: number
  gracefulStopMs: number
}

/** Closed model: `vus` VUs loop for `durationMs`. */
export interface ConstantVus {
  type: 'constant-vus'
  vus: number
  durationMs: number
  gracefulStopMs: number
}

/**
 * Closed model: the VU count follows the stages from `startVUs`. A VU that is no longer wanted
 * finishes its iteration within `gracefulRampDownMs` (0: it is interrupted at once).
 */
export interface RampingVus {
  type: 'ramping-vus'
  startVUs: number
  stages: Stage[]
  gracefulRampDownMs: number
  gracefulStopMs: number
}

/** Open model: iterations start at `rate` per second for `durationMs`, whatever the target's speed. */
export interface ConstantArrivalRate {
  type: 'constant-arrival-rate'
  /** Iterations started per second. */
  rate: number
  durationMs: number
  /** Iterations in flight at most; one that cannot start is counted as dropped. */
  maxVUs: number
  gracefulStopMs: number
}

/** Open model: the start rate follows the stages (iterations per second) from `startRate`. */
export interface RampingArrivalRate {
  type: 'ramping-arrival-rate'
  startRate: number
  stages: Stage[]
  maxVUs: number
  gracefulStopMs: number
}

export type ExecutorConfig = SharedIterations | PerVuIterations | ConstantVus | RampingVus | ConstantArrivalRate | RampingArrivalRate
export type ExecutorType = ExecutorConfig['type']

export const EXECUTOR_TYPES: readonly ExecutorType[] = [
  'shared-iterations',
  'per-vu-iterations',
  'constant-vus',
  'ramping-vus',
  'constant-arrival-rate',
  'ramping-arrival-rate',
]

/** The reference tools' defaults. */
export const DEFAULT_GRACEFUL_STOP_MS = 30_000
export const DEFAULT_MAX_DURATION_MS = 10 * 60_000

/** True for the arrival-rate (open model) executors. */
export function isOpenModel(config: ExecutorConfig): config is ConstantArrivalRate | RampingArrivalRate {
  return config.type === 'constant-arrival-rate' || config.type === 'ramping-arrival-rate'
}

/** What an executor needs, known before it starts. */
export interface ExecutorPlan {
  /** The most VUs (closed) or iterations in flight (open) it will run at once. */
  maxVUs: number
  /** How long it starts iterations for (iteration-based: at most, its maxDuration). */
  durationMs: number
  /** Plus the grace its last iterations get to finish. */
  gracefulStopMs: number
  /** Iteration-based executors: exactly this many iterations. */
  iterations?: number
  /** Open model: how many iterations the schedule starts in all (before any is dropped). */
  scheduledIterations?: number
}

const stagesMs = (stages: readonly Stage[]) => stages.reduce((sum, s) => sum + s.durationMs, 0)

/** VUs, duration and iterations, before the run. */
export function executorPlan(config: ExecutorConfig): ExecutorPlan {
  switch (config.type) {
    case 'shared-iterations':
      return {
        maxVUs: Math.min(config.vus, config.iterations),
        durationMs: config.maxDurationMs,
        gracefulStopMs: config.gracefulStopMs,
        iterations: config.iterations,
      }
    case 'per-vu-iterations':
      return {maxVUs: config.vus, durationMs: config.maxDurationMs, gracefulStopMs: config.gracefulStopMs, iterations: config.vus * config.iterations}
    case 'constant-vus':
      return {maxVUs: config.vus, durationMs: config.durationMs, gracefulStopMs: config.gracefulStopMs}
    case 'ramping-vus':
      return {
        maxVUs: Math.max(config.startVUs, ...config.stages.map((s) => s.target)),
        durationMs: stagesMs(config.stages),
        gracefulStopMs: config.gracefulStopMs,
      }
    case 'constant-arrival-rate':
      return {
        maxVUs: config.maxVUs,
        durationMs: config.durationMs,
        gracefulStopMs: config.gracefulStopMs,
        scheduledIterations: Math.ceil((config.rate * config.durationMs) / 1000),
      }
    case 'ramping-arrival-rate': {
      let total = 0
      let from = config.startRate
      for (const s of config.stages) {
        total += ((from + s.target) / 2) * (s.durationMs / 1000)
        from = s.target
      }
      return {maxVUs: config.maxVUs, durationMs: stagesMs(config.stages), gracefulStopMs: config.gracefulStopMs, scheduledIterations: Math.ceil(total - 1e-9)}
    }
  }
}

/** What is wrong with a configuration, in one line, or undefined when it can run. */
export function validateExecutor(config: ExecutorConfig): string | undefined {
  const int = (name: string, v: number, min: number) => (Number.isInteger(v) && v >= min ? undefined : `${name} must be a whole number ≥ ${min}, got ${v}`)
  const ms = (name: string, v: number, min = 0) =>
    Number.isFinite(v) && v >= min ? undefined : `${name} must be a duration ≥ ${formatDuration(min)}, got ${v}`
  const stages = (list: Stage[], what: 'VUs' | 'rate') => {
    if (list.length === 0) return 'stages must have at least one stage'
    for (const [i, s] of list.entries()) {
      const bad =
        ms(`stage ${i + 1} duration`, s.durationMs) ??
        (what === 'VUs'
          ? int(`stage ${i + 1} target`, s.target, 0)
          : Number.isFinite(s.target) && s.target >= 0
            ? undefined
            : `stage ${i + 1} rate must be ≥ 0`)
      if (bad) return bad
    }
    if (stagesMs(list) <= 0) return 'the stages last 0 s in all: give at least one stage a duration'
    return undefined
  }
  switch (config.type) {
    case 'shared-iterations':
    case 'per-vu-iterations':
      return (
        int('vus', config.vus, 1) ??
        int('iterations', config.iterations, 1) ??
        ms('maxDuration', config.maxDurationMs, 1) ??
        ms('gracefulStop', config.gracefulStopMs)
      )
    case 'constant-vus':
      return int('vus', config.vus, 1) ?? ms('duration', config.durationMs, 1) ?? ms('gracefulStop', config.gracefulStopMs)
    case 'ramping-vus':
      return (
        int('startVUs', config.startVUs, 0) ??
        stages(config.stages, 'VUs') ??
        ms('gracefulRampDown', config.gracefulRampDownMs) ??
        ms('gracefulStop', config.gracefulStopMs) ??
        (executorPlan(config).maxVUs > 0 ? undefined : 'every stage targets 0 VUs: nothing would run')
      )
    case 'constant-arrival-rate':
      return (
        (Number.isFinite(config.rate) && config.rate > 0 ? undefined : `rate must be > 0 per second, got ${config.rate}`) ??
        ms('duration', config.durationMs, 1) ??
        int('maxVUs', config.maxVUs, 1) ??
        ms('gracefulStop', config.gracefulStopMs)
      )
    case 'ramping-arrival-rate':
      return (
        (Number.isFinite(config.startRate) && config.startRate >= 0 ? undefined : `startRate must be ≥ 0, got ${config.startRate}`) ??
        stages(config.stages, 'rate') ??
        int('maxVUs', config.maxVUs, 1) ??
        ms('gracefulStop', config.gracefulStopMs) ??
        (executorPlan(config).scheduledIterations ? undefined : 'the rate is 0 throughout: nothing would start')
      )
  }
}

/**
 * The profile's shape multiplied by `factor` (`--time-scale`): stage and run durations. Counts and
 * rates stay; so do the safety bounds (maxDuration) and the graces (gracefulStop, gracefulRampDown),
 * which are about letting tasks finish, and a task's length does not change with the profile.
 */
export function scaleExecutor<T extends ExecutorConfig>(config: T, factor: number): T {
  const f = (ms: number) => Math.round(ms * factor)
  const stages = (list: Stage[]) => list.map((s) => ({...s, durationMs: f(s.durationMs)}))
  const c = config as ExecutorConfig
  switch (c.type) {
    case 'shared-iterations':
    case 'per-vu-iterations':
      return c as T
    case 'constant-vus':
    case 'constant-arrival-rate':
      return {...c, durationMs: f(c.durationMs)} as T
    case 'ramping-vus':
    case 'ramping-arrival-rate':
      return {...c, stages: stages(c.stages)} as T
  }
}

/** One shard of a run split in `count`. */
export interface Shard {
  index: number
  count: number
}

/**
 * Shard `index` of `count`'s part of a whole number `n`: the parts differ by at most one and add
 * up to `n` exactly (the boundaries floor(n·i/N) are the same for every shard).
 */
export function shardPart(n: number, shard: Shard): number {
  return Math.floor((n * (shard.index + 1)) / shard.count) - Math.floor((n * shard.index) / shard.count)
}

/**
 * The slice of the run shard `index` of `count` performs: the VUs and iterations are split so that
 * the shards add up to the whole exactly. Arrival rates stay as they are here: the schedule gives
 * each shard every count-th start of the whole run's schedule (schedule.ts), which is exact too.
 */
export function shardExecutor<T extends ExecutorConfig>(config: T, shard: Shard): T {
  if (shard.count === 1) return config
  const part = (n: number) => shardPart(n, shard)
  const c = config as ExecutorConfig
  switch (c.type) {
    case 'shared-iterations': {
      const iterations = part(c.iterations)
      return {...c, iterations, vus: Math.max(1, Math.min(part(c.vus), iterations))} as T
    }
    case 'per-vu-iterations':
    case 'constant-vus':
      return {...c, vus: part(c.vus)} as T
    case 'ramping-vus':
      return {...c, startVUs: part(c.startVUs), stages: c.stages.map((s) => ({...s, target: part(s.target)}))} as T
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
      return {...c, maxVUs: Math.max(1, Math.ceil(c.maxVUs / shard.count))} as T
  }
}

/** Where in its stages a ramping executor is at `tMs`. */
interface StagePosition {
  /** 0-based stage index; stages.length once past the end. */
  index: number
  from: number
  to: number
  /** The linearly interpolated value now (VUs or rate). */
  value: number
}

/** The stage and the interpolated value at `tMs` of stages starting from `start`. */
function stageAt(start: number, stages: readonly Stage[], tMs: number): StagePosition {
  let from = start
  let elapsed = 0
  for (const [index, s] of stages.entries()) {
    if (tMs < elapsed + s.durationMs) {
      const frac = s.durationMs > 0 ? (tMs - elapsed) / s.durationMs : 1
      return {index, from, to: s.target, value: from + (s.target - from) * Math.max(0, frac)}
    }
    elapsed += s.durationMs
    from = s.target
  }
  return {index: stages.length, from, to: from, value: from}
}

/** Ramping VUs: how many VUs are wanted at `tMs` (the interpolation, rounded to the nearest VU). */
export function vusAt(config: RampingVus, tMs: number): number {
  return Math.round(stageAt(config.startVUs, config.stages, tMs).value)
}

/** Open model: the start rate asked for at `tMs`, per second. */
export function rateAt(config: ConstantArrivalRate | RampingArrivalRate, tMs: number): number {
  if (config.type === 'constant-arrival-rate') return tMs < config.durationMs ? config.rate : 0
  return stageAt(config.startRate, config.stages, tMs).value
}

/** A label for the stage at `tMs` ("stage 2/3: 10 → 20 VUs"), for ramping executors. */
export function stageLabel(config: ExecutorConfig, tMs: number): string | undefined {
  if (config.type !== 'ramping-vus' && config.type !== 'ramping-arrival-rate') return undefined
  const start = config.type === 'ramping-vus' ? config.startVUs : config.startRate
  const pos = stageAt(start, config.stages, tMs)
  if (pos.index >= config.stages.length) return 'done'
  const unit = config.type === 'ramping-vus' ? ' VUs' : '/s'
  return `stage ${pos.index + 1}/${config.stages.length}: ${pos.from} → ${pos.to}${unit}`
}

/** One line saying what the executor does ("shared iterations: 5 VUs, 10 iterations in all"). */
export function describeExecutor(config: ExecutorConfig): string {
  const stages = (start: number, list: Stage[], unit: string) =>
    `start ${start}${unit}; ${list.map((s) => `${formatDuration(s.durationMs)} → ${s.target}${unit}`).join(', ')}`
  switch (config.type) {
    case 'shared-iterations':
      return `shared iterations: ${config.vus} VUs, ${config.iterations} iterations in all`
    case 'per-vu-iterations':
      return `per-VU iterations: ${config.vus} VUs, ${config.iterations} iterations each`
    case 'constant-vus':
      return `constant VUs: ${config.vus} VUs for ${formatDuration(config.durationMs)}`
    case 'ramping-vus':
      return `ramping VUs: ${stages(config.startVUs, config.stages, ' VUs')}; graceful ramp-down ${formatDuration(config.gracefulRampDownMs)}`
    case 'constant-arrival-rate':
      return `constant arrival rate: ${formatRate(config.rate)} for ${formatDuration(config.durationMs)} (at most ${config.maxVUs} in flight)`
    case 'ramping-arrival-rate':
      return `ramping arrival rate: ${stages(config.startRate, config.stages, '/s')} (at most ${config.maxVUs} in flight)`
  }
}
