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
 * 4. Stabilisation (HPA behaviour). Scale-up has no window by default; scale-down takes the
 *    highest recommendation seen during the stabilisation window (default 300 s), so a short dip
 *    in the queue does not remove workers. The chart leaves it at the HPA default (300 s).
 * 5. Rate limits (HPA default scale-up policies): within any 15 s period, add at most
 *    max(100 % of the replicas at the start of the period, 4 pods). The default scale-down
 *    policy (100 % per 15 s) never limits, so it is not modelled.
 *
 * Not modelled: the HPA sync period (15 s, independent from KEDA's polling interval; locally one
 * loop evaluates both every polling interval), pod readiness and CPU initialisation periods, and
 * KEDA's fallback replicas when the scaler errors (locally a failed read skips the decision).
 */

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
  /** HPA `behavior.scaleDown.stabilizationWindowSeconds`, in ms. */
  scaleDownStabilizationMs: number
  /** HPA tolerance (default 0.1). */
  tolerance?: number
  /** HPA default scale-up policy: period of the rate limit (default 15 s). */
  scaleUpPeriodMs?: number
  /** HPA default scale-up policy: pods that may always be added per period (default 4). */
  scaleUpPods?: number
  /** HPA default scale-up policy: percent of the replicas that may be added per period (default 100). */
  scaleUpPercent?: number
}

/** What the rule remembers between polls. Start with `initialAutoscaleState(replicas)`. */
export interface AutoscaleState {
  /** Current replicas (what the Deployment has). */
  replicas: number
  /** Recent HPA recommendations, for the scale-down stabilisation window. */
  recommendations: {at: number; replicas: number}[]
  /** Scale-ups made recently, for the scale-up rate limit. */
  scaleUps: {at: number; added: number}[]
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
  return {replicas, recommendations: replicas > 0 ? [{at: now, replicas}] : [], scaleUps: []}
}

/** Checks the settings; returns the first problem as a sentence, or undefined. */
export function validateAutoscaleOptions(options: AutoscaleOptions): string | undefined {
  const {minReplicas, maxReplicas, tasksPerReplica, cooldownMs, scaleDownStabilizationMs} = options
  if (!Number.isInteger(minReplicas) || minReplicas < 0) return `min replicas must be an integer ≥ 0 (got ${minReplicas})`
  if (!Number.isInteger(maxReplicas) || maxReplicas < 1) return `max replicas must be an integer ≥ 1 (got ${maxReplicas})`
  if (minReplicas > maxReplicas) return `min replicas (${minReplicas}) must not exceed max replicas (${maxReplicas})`
  if (!(tasksPerReplica > 0)) return `tasks per replica must be > 0 (got ${tasksPerReplica})`
  if (!(cooldownMs >= 0)) return `cooldown must be ≥ 0 (got ${cooldownMs} ms)`
  if (!(scaleDownStabilizationMs >= 0)) return `scale-down stabilisation window must be ≥ 0 (got ${scaleDownStabilizationMs} ms)`
  return undefined
}

/**
 * Applies the rule to one queue reading. Pure: the same inputs give the same decision, and the
 * returned `state` replaces the one passed in.
 */
export function decideScale(options: AutoscaleOptions, state: AutoscaleState, sample: QueueSample): ScaleDecision {
  const tolerance = options.tolerance ?? 0.1
  const periodMs = options.scaleUpPeriodMs ?? 15_000
  const upPods = options.scaleUpPods ?? 4
  const upPercent = options.scaleUpPercent ?? 100
  const {now} = sample
  const metric = Math.max(0, sample.waiting) + Math.max(0, sample.active)
  const current = state.replicas
  const isActive = metric > 0
  const lastActiveAt = isActive ? now : state.lastActiveAt
  const hpaMin = Math.max(options.minReplicas, 1)
  const per = options.tasksPerReplica

  // Keep only what the windows still need.
  const recommendations = state.recommendations.filter((r) => now - r.at < options.scaleDownStabilizationMs)
  const scaleUps = state.scaleUps.filter((s) => now - s.at < periodMs)

  // The HPA's own recommendation, when the stabilisation window overrides it (for the message).
  let heldBackFrom: number | undefined
  const done = (to: number, cause: ScaleDecision['cause'], extra?: Partial<AutoscaleState>): ScaleDecision => {
    // Only the HPA's own scale-ups count against its rate limit; KEDA's activation does not.
    const nextScaleUps = to > current && current > 0 ? [...scaleUps, {at: now, added: to - current}] : scaleUps
    const next: AutoscaleState = {replicas: to, recommendations, scaleUps: nextScaleUps, lastActiveAt, ...extra}
    return {from: current, to, metric, cause, message: describe(current, to, metric, per, cause, heldBackFrom), state: next}
  }

  // 2. KEDA's own part: activation from zero, and scale to zero after the cooldown.
  if (current === 0) {
    if (isActive) return done(Math.min(hpaMin, options.maxReplicas), 'activate')
    return done(0, 'within-tolerance')
  }
  if (options.minReplicas === 0 && !isActive) {
    // KEDA counts the cooldown from the last poll that saw the trigger active; never active means
    // nothing to wait for (initialCooldownPeriod 0).
    if (lastActiveAt === undefined || now - lastActiveAt >= options.cooldownMs) return done(0, 'scale-to-zero', {recommendations: [], scaleUps: []})
    // Meanwhile the HPA still runs (and keeps at least one replica).
  }

  // 3. The HPA's recommendation.
  let recommendation: number
  let cause: ScaleDecision['cause'] = 'hpa'
  const ratio = metric / (per * current)
  if (Math.abs(ratio - 1) <= tolerance) {
    recommendation = current
    cause = 'within-tolerance'
  } else {
    recommendation = Math.ceil(metric / per)
  }
  const clampedRecommendation = Math.min(Math.max(recommendation, hpaMin), options.maxReplicas)
  if (clampedRecommendation !== recommendation && cause === 'hpa') cause = 'clamped'
  recommendation = clampedRecommendation
  recommendations.push({at: now, replicas: recommendation})

  // 4. Stabilisation: scale down only to the highest recommendation within the window.
  let desired = recommendation
  if (desired < current) {
    const highest = Math.max(...recommendations.map((r) => r.replicas))
    if (highest > desired) {
      heldBackFrom = desired
      desired = Math.min(highest, current)
      cause = 'stabilising'
    }
  }

  // 5. Scale-up rate limit (HPA default policies, selectPolicy Max).
  if (desired > current) {
    const addedInPeriod = scaleUps.reduce((sum, s) => sum + s.added, 0)
    const periodStart = current - addedInPeriod
    const limit = Math.max(Math.ceil(periodStart * (1 + upPercent / 100)), periodStart + upPods)
    if (desired > limit) {
      desired = Math.max(limit, current)
      cause = 'rate-limited'
    }
  }

  if (options.minReplicas === 0 && !isActive && desired === current) return done(current, 'cooldown-pending')
  return done(desired, cause)
}

function describe(from: number, to: number, metric: number, per: number, cause: ScaleDecision['cause'], heldBackFrom?: number): string {
  const tasks = `${metric} task${metric === 1 ? '' : 's'} waiting+active, ${per} per worker`
  const head = from === to ? `stay at ${from}` : `scale ${from} → ${to}`
  const why: Record<ScaleDecision['cause'], string> = {
    activate: 'KEDA activates from zero on the first task',
    'scale-to-zero': 'idle for the whole cooldown, KEDA scales to zero',
    'cooldown-pending': 'idle, waiting for the cooldown before scaling to zero',
    hpa: '',
    'within-tolerance': '',
    // Either nothing moves, or the window lets the scale-down go only part of the way.
    stabilising:
      from === to
        ? `scale-down to ${heldBackFrom} held back by the stabilisation window`
        : `${heldBackFrom} would do; the stabilisation window allows only ${to}, the highest recommendation within it`,
    'rate-limited': 'scale-up limited to max(2×, +4) per 15 s, like the HPA',
    clamped: 'clamped to [min, max]',
  }
  return `${head}: ${tasks}${why[cause] ? `; ${why[cause]}` : ''}`
}
