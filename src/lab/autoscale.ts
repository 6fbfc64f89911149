/**
 * The scaling rule KEDA (plus the HorizontalPodAutoscaler it manages) applies to the worker
 * Deployment through the chart's ScaledObject, as a pure function, so that `keda-lab dev
 * --autoscale` can imitate it locally and the rule can be unit-tested.
 *
 * What the cluster does, and what this module reproduces:
 *
 * 1. Metric. The ScaledObject has two Redis list triggers, `LLEN bull:<queue>:wait` and
 *    `LLEN bull:<queue>:active`, combined by `scalingModifiers` (formula `wait + active`,
 *    metricType AverageValue, target = tasks per replica). Counting active jobs matters: on the
 *    waiting list alone, workers would be removed in the middle of long tasks.
 * 2. Activation (KEDA). With `minReplicaCount: 0`, KEDA itself moves 0 → 1 as soon as the metric
 *    is above the activation threshold (0), and 1 → 0 only once the metric has been inactive for
 *    `cooldownPeriod` since the last poll that saw it active. Between 1 and max, the HPA decides.
 * 3. Desired replicas (HPA, AverageValue target): ratio = metric / (target × current). When
 *    |ratio − 1| ≤ tolerance (0.1) nothing changes; otherwise desired = ceil(metric / target),
 *    clamped to [max(min, 1), max] (KEDA gives the HPA a minimum of at least 1).
 * 4. Stabilisation (HPA `behavior`, src/lab/install/behavior.ts). Scale-up goes only as high as
 *    the lowest recommendation seen during its window, scale-down only as low as the highest seen
 *    during its window, so a short dip in the queue does not remove workers. Kubernetes' defaults:
 *    no scale-up window, a 300 s scale-down window; install's --worker-scale-up/--worker-scale-down
 *    (and dev's flags of the same names) change them.
 * 5. Rate limits (HPA `behavior` policies): each policy allows, per its period, n pods or n % of
 *    the replicas at the start of that period (replicas now minus those added, plus those removed,
 *    within the period); `select` takes the policy allowing the biggest change (Max, the default),
 *    the smallest (Min), or none (Disabled). Defaults: scale-up max(+4 pods, +100 %) per 15 s,
 *    scale-down 100 % per 15 s (which never limits).
 *
 * Not modelled: the HPA sync period (15 s, independent from KEDA's polling interval; locally one
 * loop evaluates both every polling interval), pod readiness and CPU initialisation periods, and
 * KEDA's fallback replicas when the scaler errors (locally a failed read skips the decision).
 */

import {type HpaBehavior, type ScalingRules, formatScalingRules, withKubernetesDefaults} from './install/behavior.js'

/** Settings of the rule, in the units of the ScaledObject / HPA (milliseconds here). */
export interface AutoscaleOptions {
  /** `minReplicaCount` (0 allows scale to zero). */
  minReplicas: number
  /** `maxReplicaCount`. */
  maxReplicas: number
  /** Target value per replica of `wait + active` (the chart's tasks per replica). */
  tasksPerReplica: number
  /** KEDA `cooldownPeriod`: inactivity before scaling to zero (only when minReplicas is 0). */
  cooldownMs: number
  /**
   * The HPA's `behavior` (windows and policies per direction), as install's answers give it to the
   * worker's HPA; what is not given keeps Kubernetes' defaults.
   */
  behavior?: HpaBehavior
  /** HPA tolerance (default 0.1). */
  tolerance?: number
}

/** What the rule remembers between polls. Start with `initialAutoscaleState(replicas)`. */
export interface AutoscaleState {
  /** Current replicas (what the Deployment has). */
  replicas: number
  /** Recent HPA recommendations, for the scale-down stabilisation window. */
  recommendations: {at: number; replicas: number}[]
  /** Scale-ups made recently, for the policies (both directions count both kinds of events). */
  scaleUps: {at: number; added: number}[]
  /** Scale-downs made recently, for the policies. */
  scaleDowns: {at: number; removed: number}[]
  /** Last poll (ms) at which the metric was above the activation threshold. */
  lastActiveAt?: number
}

/** One reading of the queue. */
export interface QueueSample {
  /** `LLEN bull:<queue>:wait`. */
  waiting: number
  /** `LLEN bull:<queue>:active`. */
  active: number
  /** Time of the reading, ms. */
  now: number
}

/** What the rule decided on one poll. */
export interface ScaleDecision {
  from: number
  to: number
  /** `waiting + active`. */
  metric: number
  /** Which part of the rule decided (for logs and tests). */
  cause: 'activate' | 'scale-to-zero' | 'cooldown-pending' | 'hpa' | 'within-tolerance' | 'stabilising' | 'rate-limited' | 'clamped'
  /** One line for the user, e.g. "scale 1 → 3: 7 tasks waiting+active, 2 per worker". */
  message: string
  /** The state to pass to the next call. */
  state: AutoscaleState
}

/**
 * Fresh state for a Deployment that has `replicas` replicas at time `now`. The current count
 * counts as a recommendation, so nothing is removed before one stabilisation window has passed.
 */
export function initialAutoscaleState(replicas: number, now = 0): AutoscaleState {
  return {replicas, recommendations: replicas > 0 ? [{at: now, replicas}] : [], scaleUps: [], scaleDowns: []}
}

/** Checks the settings; returns the first problem as a sentence, or undefined. */
export function validateAutoscaleOptions(options: AutoscaleOptions): string | undefined {
  const {minReplicas, maxReplicas, tasksPerReplica, cooldownMs} = options
  if (!Number.isInteger(minReplicas) || minReplicas < 0) return `min replicas must be an integer ≥ 0 (got ${minReplicas})`
  if (!Number.isInteger(maxReplicas) || maxReplicas < 1) return `max replicas must be an integer ≥ 1 (got ${maxReplicas})`
  if (minReplicas > maxReplicas) return `min replicas (${minReplicas}) must not exceed max replicas (${maxReplicas})`
  if (!(tasksPerReplica > 0)) return `tasks per replica must be > 0 (got ${tasksPerReplica})`
  if (!(cooldownMs >= 0)) return `cooldown must be ≥ 0 (got ${cooldownMs} ms)`
  return undefined
}

/**
 * Applies the rule to one queue reading. Pure: the same inputs give the same decision, and the
 * returned `state` replaces the one passed in.
 */
export function decideScale(options: AutoscaleOptions, state: AutoscaleState, sample: QueueSample): ScaleDecision {
  const up = withKubernetesDefaults('scaleUp', options.behavior?.scaleUp)
  const down = withKubernetesDefaults('scaleDown', options.behavior?.scaleDown)
  const upWindowMs = up.stabilizationWindowSeconds * 1000
  const downWindowMs = down.stabilizationWindowSeconds * 1000
  const {now} = sample
  const metric = Math.max(0, sample.waiting) + Math.max(0, sample.active)
  const current = state.replicas
  const isActive = metric > 0
  const lastActiveAt = isActive ? now : state.lastActiveAt
  const hpaMin = Math.max(options.minReplicas, 1)
  const per = options.tasksPerReplica

  // Keep only what the windows and the policies' periods still need.
  const recommendations = state.recommendations.filter((r) => now - r.at < Math.max(upWindowMs, downWindowMs))
  const scaleUps = state.scaleUps.filter((s) => now - s.at < longestPeriodMs(up))
  const scaleDowns = state.scaleDowns.filter((s) => now - s.at < longestPeriodMs(down))

  const done = (to: number, cause: ScaleDecision['cause'], why = '', extra?: Partial<AutoscaleState>): ScaleDecision => {
    // Only the HPA's own changes count against its policies; KEDA's activation and scale to zero do not.
    const hpaChange = current > 0 && cause !== 'scale-to-zero'
    const next: AutoscaleState = {
      replicas: to,
      recommendations,
      scaleUps: hpaChange && to > current ? [...scaleUps, {at: now, added: to - current}] : scaleUps,
      scaleDowns: hpaChange && to < current ? [...scaleDowns, {at: now, removed: current - to}] : scaleDowns,
      lastActiveAt,
      ...extra,
    }
    return {from: current, to, metric, cause, message: describe(current, to, metric, per, why), state: next}
  }

  // 2. KEDA's own part: activation from zero, and scale to zero after the cooldown.
  if (current === 0) {
    if (isActive) return done(Math.min(hpaMin, options.maxReplicas), 'activate', 'KEDA activates from zero on the first task')
    return done(0, 'within-tolerance')
  }
  if (options.minReplicas === 0 && !isActive) {
    // KEDA counts the cooldown from the last poll that saw the trigger active; never active means
    // nothing to wait for (initialCooldownPeriod 0).
    if (lastActiveAt === undefined || now - lastActiveAt >= options.cooldownMs)
      return done(0, 'scale-to-zero', 'idle for the whole cooldown, KEDA scales to zero', {recommendations: [], scaleUps: [], scaleDowns: []})
    // Meanwhile the HPA still runs (and keeps at least one replica).
  }

  // 3. The HPA's recommendation.
  const hpa = hpaRecommendation(metric, current, options)
  const recommendation = hpa.replicas

  // 4. Stabilisation.
  const stabilised = stabilise(recommendation, current, recommendations, now, upWindowMs, downWindowMs)
  recommendations.push({at: now, replicas: recommendation})

  // 5. The policies.
  const limited = applyPolicies(stabilised.replicas, current, up, down, scaleUps, scaleDowns, now)
  const desired = limited.replicas
  const step = limited.cause ? limited : stabilised.cause ? stabilised : hpa

  if (options.minReplicas === 0 && !isActive && desired === current)
    return done(current, 'cooldown-pending', 'idle, waiting for the cooldown before scaling to zero')
  return done(desired, step.cause ?? 'hpa', step.why)
}

type Events = {at: number; added?: number; removed?: number}[]

/** One step's answer: the replicas it leaves, and why, when it changed what it was given. */
interface Step {
  replicas: number
  cause?: ScaleDecision['cause']
  why: string
}

/**
 * Step 3, the HPA's recommendation for an AverageValue target: `current` within the tolerance,
 * otherwise ceil(metric / tasksPerReplica), clamped to [max(min, 1), max].
 */
export function hpaRecommendation(metric: number, current: number, options: AutoscaleOptions): {replicas: number; cause: ScaleDecision['cause']; why: string} {
  const per = options.tasksPerReplica
  const hpaMin = Math.max(options.minReplicas, 1)
  const withinTolerance = Math.abs(metric / (per * current) - 1) <= (options.tolerance ?? 0.1)
  const raw = withinTolerance ? current : Math.ceil(metric / per)
  const replicas = Math.min(Math.max(raw, hpaMin), options.maxReplicas)
  if (withinTolerance) return {replicas, cause: 'within-tolerance', why: ''}
  if (replicas !== raw) return {replicas, cause: 'clamped', why: 'clamped to [min, max]'}
  return {replicas, cause: 'hpa', why: ''}
}

/**
 * Step 4: up only to the lowest recommendation of the scale-up window, down only to the highest of
 * the scale-down window (the controller's stabilizeRecommendationWithBehaviors). `recommendations`
 * are the earlier ones, without this poll's.
 */
function stabilise(
  recommendation: number,
  current: number,
  recommendations: AutoscaleState['recommendations'],
  now: number,
  upWindowMs: number,
  downWindowMs: number,
): Step {
  let upLimit = recommendation
  let downLimit = recommendation
  for (const r of recommendations) {
    if (now - r.at < upWindowMs) upLimit = Math.min(upLimit, r.replicas)
    if (now - r.at < downWindowMs) downLimit = Math.max(downLimit, r.replicas)
  }
  const desired = Math.min(Math.max(current, upLimit), downLimit)
  if (desired === recommendation) return {replicas: desired, why: ''}
  const why =
    recommendation < current
      ? desired === current
        ? `scale-down to ${recommendation} held back by the stabilisation window`
        : `${recommendation} would do; the stabilisation window allows only ${desired}, the highest recommendation within it`
      : desired === current
        ? `scale-up to ${recommendation} held back by the scale-up stabilisation window`
        : `${recommendation} would do; the scale-up stabilisation window allows only ${desired}, the lowest recommendation within it`
  return {replicas: desired, cause: 'stabilising', why}
}

/** Step 5: the rate-limiting policies (the controller's convertDesiredReplicasWithBehaviorRate). */
function applyPolicies(
  desired: number,
  current: number,
  up: Required<ScalingRules>,
  down: Required<ScalingRules>,
  scaleUps: Events,
  scaleDowns: Events,
  now: number,
): Step {
  if (desired > current) {
    const limit = Math.max(current, scaleUpLimit(current, up, scaleUps, scaleDowns, now))
    if (desired > limit) {
      const why =
        up.selectPolicy === 'Disabled' ? 'scale-up disabled (select=disabled)' : `scale-up limited by the policies ${formatPolicies(up)}, like the HPA`
      return {replicas: limit, cause: 'rate-limited', why}
    }
  } else if (desired < current) {
    const limit = Math.min(current, scaleDownLimit(current, down, scaleUps, scaleDowns, now))
    if (desired < limit) {
      const why =
        down.selectPolicy === 'Disabled' ? 'scale-down disabled (select=disabled)' : `scale-down limited by the policies ${formatPolicies(down)}, like the HPA`
      return {replicas: limit, cause: 'rate-limited', why}
    }
  }
  return {replicas: desired, why: ''}
}

function longestPeriodMs(rules: Required<ScalingRules>): number {
  return Math.max(0, ...rules.policies.map((p) => p.periodSeconds)) * 1000
}

/** Replicas changed by `events` within the last `periodSeconds`. */
function changedWithin(events: Events, periodSeconds: number, now: number): number {
  return events.filter((e) => now - e.at < periodSeconds * 1000).reduce((sum, e) => sum + (e.added ?? e.removed ?? 0), 0)
}

/** calculateScaleUpLimitWithScalingRules: the most replicas the policies allow now. */
function scaleUpLimit(current: number, rules: Required<ScalingRules>, ups: Events, downs: Events, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current
  const proposals = rules.policies.map((p) => {
    const periodStart = current - changedWithin(ups, p.periodSeconds, now) + changedWithin(downs, p.periodSeconds, now)
    return p.type === 'Pods' ? periodStart + p.value : Math.ceil(periodStart * (1 + p.value / 100))
  })
  return rules.selectPolicy === 'Min' ? Math.min(...proposals) : Math.max(...proposals)
}

/** calculateScaleDownLimitWithBehaviors: the fewest replicas the policies allow now. */
function scaleDownLimit(current: number, rules: Required<ScalingRules>, ups: Events, downs: Events, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current
  const proposals = rules.policies.map((p) => {
    const periodStart = current - changedWithin(ups, p.periodSeconds, now) + changedWithin(downs, p.periodSeconds, now)
    // Go's int32(float64) truncates: 50 % of 3 leaves 1, not 2.
    return p.type === 'Pods' ? periodStart - p.value : Math.trunc(periodStart * (1 - p.value / 100))
  })
  // Min selects the smallest change, which for a scale-down is the highest count.
  return rules.selectPolicy === 'Min' ? Math.max(...proposals) : Math.min(...proposals)
}

function formatPolicies(rules: Required<ScalingRules>): string {
  return `${formatScalingRules({policies: rules.policies})} (select=${rules.selectPolicy.toLowerCase()})`
}

function describe(from: number, to: number, metric: number, per: number, why: string): string {
  const tasks = `${metric} task${metric === 1 ? '' : 's'} waiting+active, ${per} per worker`
  const head = from === to ? `stay at ${from}` : `scale ${from} → ${to}`
  return `${head}: ${tasks}${why ? `; ${why}` : ''}`
}
