/**
 * Renders every values file `keda-lab install` hands to Helm: the documented bases in
 * templates/values/*.yaml with the computed keys set (comments kept), and the app chart's values
 * built from the answers. Pure: the templates come in as strings, the result goes out as strings.
 * No secret value is ever written: the files reference the Secrets install creates beforehand.
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {parseDocument, stringify} from 'yaml'

import {hpaBehavior} from '../install/behavior.js'
import type {InstallAnswers} from '../install/options.js'

/** The third-party charts with a values template, by file name (without .yaml). */
export const VALUES_TEMPLATE_NAMES = ['keda', 'redis-ha', 'kube-prometheus-stack', 'loki', 'alloy'] as const
export type ValuesTemplateName = (typeof VALUES_TEMPLATE_NAMES)[number]

/** Names of the Secrets install creates (shared contract with the app chart). */
export const SECRET_NAMES = {
  app: 'keda-lab-secrets',
  webhookToken: 'keda-lab-webhook-token',
  grafana: 'keda-lab-grafana',
} as const

export interface ValuesContext {
  answers: InstallAnswers
  appNamespace: string
  monitoringNamespace: string
  /** Nodes in the cluster; undefined when unknown (render without a cluster): assume a multi-node cluster. */
  nodeCount?: number
  /** Namespace of a reused KEDA operator; undefined = KEDA is installed into the app namespace. */
  kedaNamespace?: string
  image: {repository: string; tag: string; pullPolicy: 'IfNotPresent' | 'Always'}
}

export interface RenderedValues {
  /** `keda`, `redis-ha`, ..., `keda-lab` (the app). */
  name: ValuesTemplateName | 'keda-lab'
  fileName: string
  content: string
  /** Notes for the user (e.g. anti-affinity relaxed on one node). */
  notes: string[]
}

/** Reads the base values templates from `<packageRoot>/templates/values`. */
export async function loadValuesTemplates(packageRoot: string): Promise<Record<ValuesTemplateName, string>> {
  const entries = await Promise.all(
    VALUES_TEMPLATE_NAMES.map(async (name) => [name, await readFile(join(packageRoot, 'templates', 'values', `${name}.yaml`), 'utf8')] as const),
  )
  return Object.fromEntries(entries) as Record<ValuesTemplateName, string>
}

/** Whether Redis gets hard anti-affinity, and why not when it does not. */
export function redisAntiAffinity(nodeCount: number | undefined, replicas: number): {hard: boolean; note?: string} {
  if (nodeCount === undefined) return {hard: true}
  if (nodeCount <= 1)
    return {
      hard: false,
      note: 'one node: Redis anti-affinity relaxed to "preferred" (hard anti-affinity would leave replicas Pending); a node failure takes Redis down',
    }
  if (nodeCount < replicas)
    return {hard: false, note: `${nodeCount} nodes for ${replicas} Redis replicas: anti-affinity relaxed to "preferred" so every replica can be scheduled`}
  return {hard: true}
}

function edit(template: string, fileName: string, sets: [path: (string | number)[], value: unknown][], replace: Record<string, string> = {}): string {
  let text = template
  for (const [token, value] of Object.entries(replace)) text = text.split(token).join(value)
  const doc = parseDocument(text)
  if (doc.errors.length > 0) throw new Error(`templates/values/${fileName}: ${doc.errors[0]?.message}`)
  for (const [path, value] of sets) doc.setIn(path, value)
  return doc.toString({lineWidth: 0})
}

/**
 * The `--storage-class` key of a chart's persistent volume, when one was asked for and persistence is
 * on: every chart the lab installs with a volume takes it (redis-ha, Loki), so no claim falls back to
 * the cluster's default behind the user's back.
 */
function storageClassSet(path: string[], answers: InstallAnswers): [string[], unknown][] {
  return answers.redisPersistence && answers.storageClass ? [[path, answers.storageClass]] : []
}

/** Renders the values of every chart the plan installs (third-party ones only when they are installed). */
export function renderValues(ctx: ValuesContext, templates: Record<ValuesTemplateName, string>): RenderedValues[] {
  const {answers, appNamespace, monitoringNamespace} = ctx
  const out: RenderedValues[] = []

  out.push({name: 'keda', fileName: 'keda.yaml', content: edit(templates.keda, 'keda.yaml', []), notes: []})

  const anti = redisAntiAffinity(ctx.nodeCount, answers.redisReplicas)
  out.push({
    name: 'redis-ha',
    fileName: 'redis-ha.yaml',
    content: edit(templates['redis-ha'], 'redis-ha.yaml', [
      [['replicas'], answers.redisReplicas],
      // A majority of the Sentinels must agree before a failover: 2 of 3, 1 of 1.
      [['sentinel', 'quorum'], Math.floor(answers.redisReplicas / 2) + 1],
      [['hardAntiAffinity'], anti.hard],
      [['persistentVolume', 'enabled'], answers.redisPersistence],
      // --storage-class: the claims' class (the chart's key; unset = the cluster's default).
      ...storageClassSet(['persistentVolume', 'storageClass'], answers),
      [['redis', 'config', 'appendonly'], answers.redisPersistence ? 'yes' : 'no'],
    ]),
    notes: anti.note ? [anti.note] : [],
  })

  if (answers.monitoring) {
    const webhookUrl = `http://keda-lab-webhook.${appNamespace}.svc:8080/alerts`
    const lokiUrl = `http://loki.${monitoringNamespace}.svc:3100`
    const kps = parseDocument(templates['kube-prometheus-stack'])
    const receivers = kps.getIn(['alertmanager', 'config', 'receivers']) as {items: unknown[]} | undefined
    const webhookIndex = (receivers?.items ?? []).findIndex((r) => (r as {get(k: string): unknown}).get('name') === 'keda-lab-webhook')
    const sets: [(string | number)[], unknown][] = [[['grafana', 'additionalDataSources', 0, 'url'], lokiUrl]]
    if (answers.webhook && webhookIndex >= 0) {
      sets.push([['alertmanager', 'config', 'receivers', webhookIndex, 'webhook_configs', 0, 'url'], webhookUrl])
    } else if (webhookIndex >= 0) {
      // No webhook deployed: every alert goes to the "null" receiver (still visible in Alertmanager's UI).
      sets.push([['alertmanager', 'config', 'route', 'routes'], []])
      sets.push([['alertmanager', 'config', 'receivers'], [{name: 'null'}]])
      sets.push([['alertmanager', 'alertmanagerSpec', 'secrets'], []])
    }
    out.push({
      name: 'kube-prometheus-stack',
      fileName: 'kube-prometheus-stack.yaml',
      content: edit(templates['kube-prometheus-stack'], 'kube-prometheus-stack.yaml', sets),
      notes: [],
    })
    out.push({
      name: 'loki',
      fileName: 'loki.yaml',
      content: edit(templates.loki, 'loki.yaml', [
        [['singleBinary', 'persistence', 'enabled'], answers.redisPersistence],
        ...storageClassSet(['singleBinary', 'persistence', 'storageClass'], answers),
      ]),
      notes: [],
    })
    out.push({
      name: 'alloy',
      fileName: 'alloy.yaml',
      content: edit(templates.alloy, 'alloy.yaml', [], {'@@APP_NAMESPACE@@': appNamespace, '@@LOKI_PUSH_URL@@': `${lokiUrl}/loki/api/v1/push`}),
      notes: [],
    })
  }

  out.push({name: 'keda-lab', fileName: 'keda-lab.yaml', content: renderAppValues(ctx), notes: []})
  return out
}

/** The app chart's values (templates/chart/keda-lab): only the keys the answers decide. */
export function renderAppValues(ctx: ValuesContext): string {
  const {answers} = ctx
  const values = {
    image: ctx.image,
    imagePullSecrets: answers.imagePullSecret ? [{name: answers.imagePullSecret}] : [],
    redis: {
      mode: 'sentinel',
      sentinel: {hosts: ['redis-ha:26379'], masterName: 'mymaster'},
      auth: {enabled: true, existingSecret: SECRET_NAMES.app, passwordKey: 'redis-password'},
    },
    secrets: {create: false, name: SECRET_NAMES.app},
    api: {
      redisWaitReplicas: answers.redisWaitReplicas ?? 0,
      service: {type: answers.expose === 'Ingress' ? 'ClusterIP' : answers.expose, port: 80},
      ingress: {enabled: answers.expose === 'Ingress', host: answers.ingressHost ?? ''},
      autoscaling: {
        enabled: true,
        minReplicas: answers.apiMinReplicas,
        maxReplicas: answers.apiMaxReplicas,
        targetCPUUtilizationPercentage: answers.apiCpuTarget,
        behavior: hpaBehavior(answers.apiScaleUp, answers.apiScaleDown),
      },
    },
    worker: {
      autoscaling: {
        minReplicaCount: answers.workerMinReplicas,
        maxReplicaCount: answers.workerMaxReplicas,
        tasksPerReplica: answers.tasksPerReplica,
        scaleToZero: answers.scaleToZero,
        behavior: hpaBehavior(answers.workerScaleUp, answers.workerScaleDown),
      },
    },
    webhook: {enabled: answers.webhook, telegram: {chatIds: answers.telegramChatIds}},
    monitoring: {enabled: answers.monitoring, namespace: ctx.monitoringNamespace},
    ...(ctx.kedaNamespace && ctx.kedaNamespace !== ctx.appNamespace ? {networkPolicy: {keda: {namespace: ctx.kedaNamespace}}} : {}),
  }
  return (
    '# Values for the keda-lab app chart, rendered by `keda-lab install` from its answers.\n' +
    '# Defaults and documentation of every key: templates/chart/keda-lab/values.yaml.\n' +
    `# Secrets are not here: the chart reads them from the Secret ${SECRET_NAMES.app} (created by install).\n` +
    stringify(values, {lineWidth: 0})
  )
}
