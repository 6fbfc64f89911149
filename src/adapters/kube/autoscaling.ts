/** What scales: autoscaling/v2 HorizontalPodAutoscalers and KEDA ScaledObjects (status, the scaling watcher). */
import {conditionsOf, describeRef, type KubeClient, type Meta, pathOf, toDate} from './client.js'
import {parseCpuMillis, parseMemoryBytes} from './quantity.js'
import {httpStatusOf} from './retry.js'
import {type HpaInfo, type Kube, type KubeCondition, type PodMetricsList, resources, type ScaledObjectInfo} from './types.js'

/** A ScaledObject as the API returns it (only the fields keda-lab reads). */
type RawScaledObject = {
  metadata?: Meta
  spec?: {
    scaleTargetRef?: {name?: string}
    minReplicaCount?: number
    maxReplicaCount?: number
    pollingInterval?: number
    cooldownPeriod?: number
    advanced?: {scalingModifiers?: {formula?: string; target?: string}}
    triggers?: {type: string; name?: string; metadata?: Record<string, string>}[]
  }
  status?: {hpaName?: string; lastActiveTime?: string; conditions?: KubeCondition[]}
}

const scaledObjectInfo = (o: RawScaledObject): ScaledObjectInfo => ({
  name: o.metadata?.name ?? '',
  labels: o.metadata?.labels ?? {},
  annotations: o.metadata?.annotations ?? {},
  targetName: o.spec?.scaleTargetRef?.name ?? '',
  minReplicaCount: o.spec?.minReplicaCount,
  maxReplicaCount: o.spec?.maxReplicaCount,
  pollingInterval: o.spec?.pollingInterval,
  cooldownPeriod: o.spec?.cooldownPeriod,
  scalingModifiers: o.spec?.advanced?.scalingModifiers,
  triggers: (o.spec?.triggers ?? []).map((t) => ({type: t.type, name: t.name, metadata: t.metadata ?? {}})),
  hpaName: o.status?.hpaName,
  lastActiveTime: o.status?.lastActiveTime,
  conditions: conditionsOf(o.status?.conditions),
})

/** The autoscaling methods, answered through `c`. */
export function autoscalingMethods(c: KubeClient): Pick<Kube, 'listHpas' | 'listScaledObjects' | 'listPodMetrics'> {
  const {must, orNotFound, rawJson, versionOf} = c
  return {
    async listHpas(namespace) {
      const list = await must(`list HorizontalPodAutoscalers in namespace ${namespace}`, () => c.autoscaling.listNamespacedHorizontalPodAutoscaler({namespace}))
      return list.items.map((h): HpaInfo => {
        const cpuSpec = (h.spec?.metrics ?? []).find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')
        const cpuNow = (h.status?.currentMetrics ?? []).find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')
        return {
          name: h.metadata?.name ?? '',
          labels: h.metadata?.labels ?? {},
          targetKind: h.spec?.scaleTargetRef.kind ?? '',
          targetName: h.spec?.scaleTargetRef.name ?? '',
          minReplicas: h.spec?.minReplicas ?? 1,
          maxReplicas: h.spec?.maxReplicas ?? 0,
          currentReplicas: h.status?.currentReplicas ?? 0,
          desiredReplicas: h.status?.desiredReplicas ?? 0,
          lastScaleTime: toDate(h.status?.lastScaleTime),
          cpu: cpuSpec ? {targetPercent: cpuSpec.resource?.target.averageUtilization, currentPercent: cpuNow?.resource?.current.averageUtilization} : undefined,
          conditions: conditionsOf(h.status?.conditions),
        }
      })
    },

    async listPodMetrics(namespace, labelSelector): Promise<PodMetricsList> {
      const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''
      const path = `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods${query}`
      let list: {items?: {metadata?: Meta; timestamp?: string; window?: string; containers?: {usage?: {cpu?: string; memory?: string}}[]}[]}
      try {
        // Not retried: an unavailable metrics API (503) is an answer here, not a hiccup.
        list = (await rawJson('GET', path)) as typeof list
      } catch (error) {
        const status = httpStatusOf(error)
        if (status === 404) return {available: false, reason: 'the cluster serves no metrics.k8s.io API (metrics-server is not installed)'}
        if (status === 503) return {available: false, reason: 'the metrics.k8s.io API is registered but unavailable (is metrics-server running?)'}
        // The webhook's ServiceAccount of an older chart may lack the rule: a missing figure, not a failed status.
        if (status === 403) return {available: false, reason: `not allowed to list pods.metrics.k8s.io in namespace ${namespace}`}
        return c.fail(`read pod metrics in namespace ${namespace}`, error)
      }
      return {
        available: true,
        pods: (list.items ?? []).map((p) => ({
          name: p.metadata?.name ?? '',
          cpuMillis: (p.containers ?? []).reduce((n, ct) => n + parseCpuMillis(ct.usage?.cpu), 0),
          memoryBytes: (p.containers ?? []).reduce((n, ct) => n + parseMemoryBytes(ct.usage?.memory), 0),
          timestamp: p.timestamp,
          window: p.window,
        })),
      }
    },

    async listScaledObjects(namespace) {
      const ref = {...resources.scaledObjects, namespace}
      const v = await versionOf(ref)
      if (!v) return []
      const list = (await orNotFound(`list ${describeRef(ref)}`, () => rawJson('GET', pathOf(ref, v)))) as {items?: RawScaledObject[]} | undefined
      return (list?.items ?? []).map(scaledObjectInfo)
    },
  }
}
