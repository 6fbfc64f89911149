import {existsSync, readFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import type {K8sObject} from '../helpers/helm.js'

/**
 * kubernetes-models' validate() lets unknown fields through (the Kubernetes schemas allow them),
 * so a typo such as `readinesProbe` would pass it and be silently dropped by the API server. This
 * walks every rendered object against the field lists of the same models' type declarations
 * (.d.ts: the generated classes list every field, inherited ones included) and reports any field
 * the schema does not know. Maps (`{[key: string]: …}`) and scalar aliases are leaves.
 */

const nodeModules = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules')

interface TypeInfo {
  /** Known fields → their type expression; undefined for a leaf (scalar, alias, map). */
  fields?: Map<string, string>
  /** Imported type name → declaration file, to follow field types. */
  imports: Map<string, string>
}

const cache = new Map<string, TypeInfo>()

function resolveModule(specifier: string, fromFile: string): string {
  const base = specifier.startsWith('.') ? resolve(dirname(fromFile), specifier) : join(nodeModules, specifier)
  const file = `${base.replace(/\.js$/, '')}.d.ts`
  if (!existsSync(file)) throw new Error(`cannot find type declarations ${file} (imported by ${fromFile})`)
  return file
}

function parseBody(body: string): Map<string, string> {
  const fields = new Map<string, string>()
  // Top-level members only: exactly four spaces of indentation inside the declaration.
  for (const match of body.matchAll(/^ {4}"([^"]+)"\??: ([^\n]+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string]
    fields.set(name, type.replace(/;$/, '').trim())
  }
  return fields
}

function load(file: string): TypeInfo {
  const cached = cache.get(file)
  if (cached) return cached
  const text = readFileSync(file, 'utf8').replaceAll(/\/\*\*[\s\S]*?\*\//g, '')
  const imports = new Map<string, string>()
  for (const match of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
    const [, names, specifier] = match as unknown as [string, string, string]
    if (specifier.startsWith('@kubernetes-models/base')) continue
    for (const name of names.split(',').map((n) => n.trim())) imports.set(name, resolveModule(specifier, file))
  }
  const info: TypeInfo = {imports}
  const declaredClass = /^export declare class \w+ extends Model<[^>]+> implements [^{]+\{\n([\s\S]*?)^\}/m.exec(text)
  if (declaredClass) {
    info.fields = parseBody(declaredClass[1] ?? '')
  } else {
    const declaredInterface = /^export interface \w+(?: extends ([^{]+))? \{\n([\s\S]*?)^\}/m.exec(text)
    if (declaredInterface) {
      info.fields = parseBody(declaredInterface[2] ?? '')
      for (const parent of (declaredInterface[1] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        if (parent === 'TypeMeta') {
          info.fields.set('apiVersion', 'string')
          info.fields.set('kind', 'string')
          continue
        }
        const parentFile = imports.get(parent)
        if (!parentFile) throw new Error(`${file}: cannot resolve parent type ${parent}`)
        for (const [name, type] of load(parentFile).fields ?? []) info.fields.set(name, type)
        for (const [name, path] of load(parentFile).imports) if (!imports.has(name)) imports.set(name, path)
      }
    }
    // Otherwise a type alias (string, IntOrString, a union of literals): a leaf.
  }
  cache.set(file, info)
  return info
}

function walk(value: unknown, type: string, owner: TypeInfo, path: string, errors: string[]): void {
  if (value === null || value === undefined) return
  const array = /^Array<(.+)>$/.exec(type)
  if (array) {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walk(item, array[1] ?? '', owner, `${path}[${i}]`, errors)
    }
    return
  }
  const file = owner.imports.get(type)
  if (!file) return // scalar, literal union or inline map: nothing to check inside
  walkObject(value, load(file), path, errors)
}

function walkObject(value: unknown, info: TypeInfo, path: string, errors: string[]): void {
  if (!info.fields || typeof value !== 'object' || value === null || Array.isArray(value)) return
  for (const [key, child] of Object.entries(value)) {
    const type = info.fields.get(key)
    if (type === undefined) {
      errors.push(`${path}.${key}: unknown field (known: ${[...info.fields.keys()].join(', ')})`)
      continue
    }
    walk(child, type, info, `${path}.${key}`, errors)
  }
}

/** Declaration file of the model class for each apiVersion/kind the chart renders. */
const MODEL_FILES: Record<string, string> = {
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'v1/Secret': 'kubernetes-models/v1/Secret',
  'v1/Service': 'kubernetes-models/v1/Service',
  'v1/ServiceAccount': 'kubernetes-models/v1/ServiceAccount',
  'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
  'autoscaling/v2/HorizontalPodAutoscaler': 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
  'networking.k8s.io/v1/Ingress': 'kubernetes-models/networking.k8s.io/v1/Ingress',
  'networking.k8s.io/v1/NetworkPolicy': 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
  'rbac.authorization.k8s.io/v1/Role': 'kubernetes-models/rbac.authorization.k8s.io/v1/Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding',
  'keda.sh/v1alpha1/ScaledObject': '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject',
  'keda.sh/v1alpha1/TriggerAuthentication': '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication',
  'monitoring.coreos.com/v1/ServiceMonitor': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PodMonitor': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor',
  'monitoring.coreos.com/v1/PrometheusRule': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
}

/** Fields of `object` (recursively) that its schema does not know; empty when all are known. */
export function unknownFields(object: K8sObject): string[] {
  const key = `${object.apiVersion}/${object.kind}`
  const module = MODEL_FILES[key]
  if (!module) throw new Error(`no model declarations for ${key}: add it to test/chart/strict-fields.ts`)
  const info = load(resolveModule(module, join(nodeModules, 'index.d.ts')))
  if (!info.fields || info.fields.size < 3) throw new Error(`could not read the fields of ${key} from its declarations`)
  const errors: string[] = []
  walkObject(object, info, `${object.kind}/${object.metadata.name}`, errors)
  return errors
}
