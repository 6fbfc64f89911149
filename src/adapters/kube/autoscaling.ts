/** What scales: autoscaling/v2 HorizontalPodAutoscalers and KEDA ScaledObjects (status, the scaling watcher). */
import {conditionsOf, describeRef, type KubeClient, type Meta, pathOf, toDate} from './client.js'
import {type Kube, type KubeCondition, resources, type HpaInfo, type ScaledObjectInfo} from './types.js'

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
export function autoscalingMethods(c: KubeClient): Pick<Kube, 'listHpas' | 'listScaledObjects'> {
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

    async listScaledObjects(namespace) {
      const ref = {...resources.scaledObjects, namespace}
      const v = await versionOf(ref)
      if (!v) return []
      const list = (await orNotFound(`list ${describeRef(ref)}`, () => rawJson('GET', pathOf(ref, v)))) as {items?: RawScaledObject[]} | undefined
      return (list?.items ?? []).map(scaledObjectInfo)
    },
  }
}
