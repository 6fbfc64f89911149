/**
 * The scale-up and scale-down rules of a HorizontalPodAutoscaler (autoscaling/v2 `behavior`), as
 * install's answers write them: one short text per direction, e.g.
 *
 *   --api-scale-down "window=60s,1pods/30s"     (stabilise 60 s, then remove at most 1 pod per 30 s)
 *   --worker-scale-up "window=0s,select=max,4pods/15s,100%/15s"
 *
 * Items, comma-separated, in any order:
 * - `window=<seconds>s` — stabilizationWindowSeconds (0–3600): scale-down takes the highest
 *   recommendation of the window, scale-up the lowest.
 * - `<n>pods/<seconds>s` or `<n>%/<seconds>s` — a policy: at most n pods (or n % of the replicas)
 *   per period (1–1800 s).
 * - `select=max|min|disabled` — which policy wins when several apply (`disabled`: never scale in
 *   that direction).
 * What is not given keeps Kubernetes' default (scale-up: no window, 4 pods or 100 % per 15 s;
 * scale-down: a 300 s window, 100 % per 15 s). The chart passes the result to the API's HPA
 * (`api.autoscaling.behavior`) and to the HPA KEDA creates for the worker
 * (`worker.autoscaling.behavior` → ScaledObject `advanced.horizontalPodAutoscalerConfig.behavior`).
 */

/** One HPA scaling policy. */
export interface ScalingPolicy {
  type: 'Pods' | 'Percent'
  value: number
  periodSeconds: number
}

/** One direction of an HPA's `behavior` (HPAScalingRules), only the fields given. */
export interface ScalingRules {
  stabilizationWindowSeconds?: number
  selectPolicy?: 'Max' | 'Min' | 'Disabled'
  policies?: ScalingPolicy[]
}

/** An HPA's `behavior`: the directions given. */
export interface HpaBehavior {
  scaleUp?: ScalingRules
  scaleDown?: ScalingRules
}

/** Kubernetes' own limits (HPA validation). */
export const MAX_WINDOW_SECONDS = 3600
export const MAX_POLICY_PERIOD_SECONDS = 1800

const SELECT = {max: 'Max', min: 'Min', disabled: 'Disabled'} as const
const EXAMPLE = 'e.g. "window=60s,1pods/30s" or "window=0s,select=max,4pods/15s,100%/15s"'

/** Parses one direction's rules; throws Error(message) naming the bad item and the syntax. */
export function parseScalingRules(raw: string): ScalingRules {
  const items = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
  if (items.length === 0) throw new Error(`is empty: give a window, policies or both, ${EXAMPLE}`)
  const rules: ScalingRules = {}
  const policies: ScalingPolicy[] = []
  for (const item of items) {
    const quoted = `"${item.slice(0, 40)}"`
    const window = /^window=(\d+)s?$/.exec(item)
    const select = /^select=(\w+)$/.exec(item)
    const policy = /^(\d+)(pods?|%)\/(\d+)s?$/.exec(item)
    if (window) {
      const seconds = Number(window[1])
      if (rules.stabilizationWindowSeconds !== undefined) throw new Error(`gives the window twice (${quoted})`)
      if (seconds > MAX_WINDOW_SECONDS) throw new Error(`window must be 0-${MAX_WINDOW_SECONDS} s, got ${seconds}`)
      rules.stabilizationWindowSeconds = seconds
    } else if (select) {
      const chosen = SELECT[select[1] as keyof typeof SELECT]
      if (!chosen) throw new Error(`select must be max, min or disabled, got ${quoted}`)
      if (rules.selectPolicy !== undefined) throw new Error(`gives select twice (${quoted})`)
      rules.selectPolicy = chosen
    } else if (policy) {
      const value = Number(policy[1])
      const periodSeconds = Number(policy[3])
      const type = policy[2] === '%' ? 'Percent' : 'Pods'
      if (value < 1) throw new Error(`a policy needs at least 1 ${type === 'Percent' ? '%' : 'pod'}, got ${quoted}`)
      if (periodSeconds < 1 || periodSeconds > MAX_POLICY_PERIOD_SECONDS)
        throw new Error(`a policy's period must be 1-${MAX_POLICY_PERIOD_SECONDS} s, got ${periodSeconds} in ${quoted}`)
      policies.push({type, value, periodSeconds})
    } else {
      throw new Error(`${quoted} is not a window, a policy or a select: ${EXAMPLE}`)
    }
  }
  if (policies.length > 0) rules.policies = policies
  if (rules.selectPolicy === 'Disabled' && policies.length > 0) throw new Error('select=disabled never scales in this direction: drop its policies')
  return rules
}

/** The text form of the rules (what `--dry-run` prints and what parses back to the same rules). */
export function formatScalingRules(rules: ScalingRules): string {
  const items: string[] = []
  if (rules.stabilizationWindowSeconds !== undefined) items.push(`window=${rules.stabilizationWindowSeconds}s`)
  if (rules.selectPolicy !== undefined) items.push(`select=${rules.selectPolicy.toLowerCase()}`)
  for (const p of rules.policies ?? []) items.push(`${p.value}${p.type === 'Percent' ? '%' : 'pods'}/${p.periodSeconds}s`)
  return items.join(',')
}

/** The chart's `behavior` value from the two directions' answers (empty object = Kubernetes' defaults). */
export function hpaBehavior(scaleUp: ScalingRules | undefined, scaleDown: ScalingRules | undefined): HpaBehavior {
  return {...(scaleUp ? {scaleUp} : {}), ...(scaleDown ? {scaleDown} : {})}
}

/**
 * Kubernetes' defaults for what one direction's rules leave out (autoscaling/v2 defaulting: scale-up
 * no window, the larger of 4 pods or 100 % per 15 s; scale-down 100 % per 15 s, and a window of
 * the controller's --horizontal-pod-autoscaler-downscale-stabilization, 5 minutes).
 */
const KUBERNETES_DEFAULTS: Readonly<Record<'scaleUp' | 'scaleDown', Required<ScalingRules>>> = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      {type: 'Pods', value: 4, periodSeconds: 15},
      {type: 'Percent', value: 100, periodSeconds: 15},
    ],
  },
  scaleDown: {stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{type: 'Percent', value: 100, periodSeconds: 15}]},
}

/** One direction's rules as the HPA controller applies them: each field not given takes Kubernetes' default. */
export function withKubernetesDefaults(direction: 'scaleUp' | 'scaleDown', rules: ScalingRules | undefined): Required<ScalingRules> {
  const defaults = KUBERNETES_DEFAULTS[direction]
  return {
    stabilizationWindowSeconds: rules?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: rules?.selectPolicy ?? defaults.selectPolicy,
    policies: rules?.policies ?? defaults.policies,
  }
}
