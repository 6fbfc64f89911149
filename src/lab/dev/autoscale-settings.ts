/**
 * `keda-lab dev --autoscale`'s settings: the same answers install gives the worker's HPA (KEDA's),
 * under the same names and with the same defaults, so the local imitation scales as the cluster
 * would. `--worker-scale-up` / `--worker-scale-down` take install's syntax (src/lab/install/behavior.ts);
 * what they leave out keeps Kubernetes' defaults (scale-up at once, at most max(+4, +100 %) per 15 s;
 * scale-down after a 300 s window).
 */
import {ConfigError} from '../../errors.js'
import type {AutoscaleOptions} from '../autoscale.js'
import {formatScalingRules, type HpaBehavior, parseScalingRules, type ScalingRules, withKubernetesDefaults} from '../install/behavior.js'

/** `keda-lab dev --autoscale`'s settings, as the flags give them. */
export interface DevAutoscale {
  minWorkers: number
  maxWorkers: number
  tasksPerWorker: number
  pollingIntervalMs: number
  /** KEDA cooldownPeriod: idle time before scaling to zero (min 0 only). */
  cooldownMs: number
  /** `--worker-scale-up` as typed (install's syntax, e.g. "window=0s,2pods/15s"); undefined = Kubernetes' defaults. */
  scaleUp?: string
  /** `--worker-scale-down` as typed (e.g. "window=30s"); undefined = Kubernetes' defaults (a 300 s window). */
  scaleDown?: string
}

/** The rule the local autoscaler applies; a wrong --worker-scale-up/-down is a ConfigError naming the flag. */
export function autoscaleRule(a: DevAutoscale): AutoscaleOptions {
  const behavior: HpaBehavior = {}
  const scaleUp = parseFlag('worker-scale-up', a.scaleUp)
  const scaleDown = parseFlag('worker-scale-down', a.scaleDown)
  if (scaleUp) behavior.scaleUp = scaleUp
  if (scaleDown) behavior.scaleDown = scaleDown
  return {minReplicas: a.minWorkers, maxReplicas: a.maxWorkers, tasksPerReplica: a.tasksPerWorker, cooldownMs: a.cooldownMs, behavior}
}

function parseFlag(flag: string, raw: string | undefined): ScalingRules | undefined {
  if (raw === undefined) return undefined
  try {
    return parseScalingRules(raw)
  } catch (error) {
    throw new ConfigError(
      `--${flag} ${(error as Error).message}`,
      `items, comma-separated: window=<s>s, <n>pods/<s>s, <n>%/<s>s, select=max|min|disabled, e.g. keda-lab dev --autoscale --${flag} "window=30s,1pods/15s" (the same syntax as install's --${flag})`,
    )
  }
}

/** The line dev prints when its autoscaler starts: the rule, and both directions' rules as applied. */
export function describeAutoscale(rule: AutoscaleOptions, queue: string, pollingIntervalMs: number): string {
  const up = withKubernetesDefaults('scaleUp', rule.behavior?.scaleUp)
  const down = withKubernetesDefaults('scaleDown', rule.behavior?.scaleDown)
  return (
    `autoscale (a local imitation of KEDA, not a replacement): every ${pollingIntervalMs / 1000} s, ` +
    `workers = ceil((LLEN bull:${queue}:wait + LLEN bull:${queue}:active) / ${rule.tasksPerReplica}) ` +
    `within [${rule.minReplicas}, ${rule.maxReplicas}]; scale-down held for a ${down.stabilizationWindowSeconds} s stabilisation window` +
    (rule.minReplicas === 0 ? `, to zero after ${rule.cooldownMs / 1000} s idle (cooldown)` : '') +
    `; HPA behaviour: scale-up ${formatScalingRules(up)}, scale-down ${formatScalingRules(down)}` +
    (rule.behavior?.scaleUp || rule.behavior?.scaleDown ? '' : " (Kubernetes' defaults; --worker-scale-up/--worker-scale-down change them)")
  )
}
