import {ScaledObject, TriggerAuthentication} from '@kubernetes-models/keda/keda.sh/v1alpha1'
import {PodMonitor, PrometheusRule, ServiceMonitor} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'
import {Deployment} from 'kubernetes-models/apps/v1'
import {HorizontalPodAutoscaler} from 'kubernetes-models/autoscaling/v2'
import {Ingress, NetworkPolicy} from 'kubernetes-models/networking.k8s.io/v1'
import {PodDisruptionBudget} from 'kubernetes-models/policy/v1'
import {ClusterRole, ClusterRoleBinding, Role, RoleBinding} from 'kubernetes-models/rbac.authorization.k8s.io/v1'
import {ConfigMap, Secret, Service, ServiceAccount} from 'kubernetes-models/v1'

import type {K8sObject} from '../helpers/helm.js'

type Validatable = {validate(): void}
type ModelClass = new (data: never) => Validatable

/**
 * apiVersion/kind → model class. Everything the chart renders must be here: an unknown kind is a
 * failure, so that a new template cannot slip through unvalidated.
 */
const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap as unknown as ModelClass,
  'v1/Secret': Secret as unknown as ModelClass,
  'v1/Service': Service as unknown as ModelClass,
  'v1/ServiceAccount': ServiceAccount as unknown as ModelClass,
  'apps/v1/Deployment': Deployment as unknown as ModelClass,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler as unknown as ModelClass,
  'networking.k8s.io/v1/Ingress': Ingress as unknown as ModelClass,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as unknown as ModelClass,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as ModelClass,
  'rbac.authorization.k8s.io/v1/Role': Role as unknown as ModelClass,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding as unknown as ModelClass,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole as unknown as ModelClass,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding as unknown as ModelClass,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject as unknown as ModelClass,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication as unknown as ModelClass,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor as unknown as ModelClass,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor as unknown as ModelClass,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule as unknown as ModelClass,
}

/** Validates one object against its Kubernetes / CRD schema; throws naming the object on failure. */
export function validateObject(object: K8sObject): void {
  const key = `${object.apiVersion}/${object.kind}`
  const Model = MODELS[key]
  if (!Model) throw new Error(`no schema model for ${key} (${object.metadata?.name}): add it to test/chart/k8s-validate.ts`)
  try {
    new Model(structuredClone(object) as never).validate()
  } catch (error) {
    const details = (error as {errors?: unknown}).errors
    throw new Error(`${key} ${object.metadata.name} is invalid: ${String(error)} ${details ? JSON.stringify(details) : ''}`)
  }
}

/**
 * What the installed KEDA models do not check about scalingModifiers (their schema types every
 * field as an optional string): the formula must name only existing triggers, metricType must be
 * one KEDA accepts, and target must be a positive number.
 */
export function checkScalingModifiers(scaledObject: K8sObject): void {
  const spec = scaledObject.spec as {
    advanced?: {scalingModifiers?: {formula?: string; target?: string; metricType?: string; activationTarget?: string}}
    triggers: {name?: string}[]
  }
  const modifiers = spec.advanced?.scalingModifiers
  if (!modifiers) throw new Error(`ScaledObject ${scaledObject.metadata.name} has no advanced.scalingModifiers`)
  if (!modifiers.formula) throw new Error('scalingModifiers.formula is missing')
  if (!modifiers.target || !(Number(modifiers.target) > 0)) throw new Error(`scalingModifiers.target "${modifiers.target}" is not a positive number`)
  if (modifiers.activationTarget !== undefined && !(Number(modifiers.activationTarget) >= 0)) {
    throw new Error(`scalingModifiers.activationTarget "${modifiers.activationTarget}" is not a number >= 0`)
  }
  if (!['AverageValue', 'Value'].includes(modifiers.metricType ?? 'AverageValue')) {
    throw new Error(`scalingModifiers.metricType "${modifiers.metricType}" is not AverageValue or Value`)
  }
  const names = spec.triggers.map((trigger) => trigger.name)
  if (names.some((name) => !name)) throw new Error('every trigger needs a name when scalingModifiers is used')
  if (new Set(names).size !== names.length) throw new Error(`trigger names are not unique: ${names.join(', ')}`)
  const identifiers = modifiers.formula.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []
  for (const identifier of identifiers) {
    if (!names.includes(identifier)) throw new Error(`formula "${modifiers.formula}" names "${identifier}", which is not a trigger`)
  }
}

/** Model packages of the custom resources third-party charts render, by API group. */
const CRD_MODEL_PACKAGES: Record<string, string> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'keda.sh': '@kubernetes-models/keda',
}

/**
 * Validates any object whose kind has a model in kubernetes-models or the KEDA and
 * prometheus-operator model packages (for third-party charts, which render many kinds).
 * A kind without a model is a failure, never a silent pass.
 */
export async function validateAnyObject(object: K8sObject): Promise<void> {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0]! : ''
  const pkg = CRD_MODEL_PACKAGES[group] ?? 'kubernetes-models'
  let Model: ModelClass | undefined
  try {
    const module = (await import(`${pkg}/${object.apiVersion}`)) as Record<string, ModelClass>
    Model = module[object.kind]
  } catch {
    Model = undefined
  }
  const key = `${object.apiVersion}/${object.kind}`
  if (!Model) throw new Error(`no schema model for ${key} (${object.metadata?.name}) in ${pkg}`)
  try {
    new Model(structuredClone(object) as never).validate()
  } catch (error) {
    const details = (error as {errors?: unknown}).errors
    throw new Error(`${key} ${object.metadata.name} is invalid: ${String(error)} ${details ? JSON.stringify(details) : ''}`)
  }
}
