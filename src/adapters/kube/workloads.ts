/** What runs in a namespace: Deployments, StatefulSets, DaemonSets, pods, their claims and Services (install's rollout and claim waits, status, tunnel). */
import type * as K8s from '@kubernetes/client-node'

import type {KubeClient} from './client.js'
import {toDate} from './client.js'
import {parseCpuMillis} from './quantity.js'
import type {ClaimInfo, DeploymentInfo, Kube, LoadBalancerInfo, PodInfo, ServiceInfo, WorkloadInfo} from './types.js'

type WorkloadMethods = Pick<Kube, 'listDeployments' | 'listLoadBalancers' | 'listWorkloads' | 'listPods' | 'listPersistentVolumeClaims' | 'getService'>

type Template = {spec?: {containers?: {name?: string; image?: string}[]}}
/** The fields every kind of workload shares. */
const workloadBase = (o: {
  metadata?: {name?: string; labels?: Record<string, string>}
  spec?: {selector?: {matchLabels?: Record<string, string>}; template?: Template}
}) => ({
  name: o.metadata?.name ?? '',
  labels: o.metadata?.labels ?? {},
  images: (o.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? ''),
  containers: (o.spec?.template?.spec?.containers ?? []).map((c) => c.name ?? ''),
  selector: o.spec?.selector?.matchLabels ?? {},
})

/** The workload methods, answered through `c`; each lists or reads, then maps with a pure function below. */
export function workloadMethods(c: KubeClient): WorkloadMethods {
  const {must, orNotFound, core, apps} = c
  const selecting = (labelSelector?: string) => (labelSelector ? {labelSelector} : {})
  return {
    async listDeployments(namespace, labelSelector) {
      const list = await must(`list Deployments in namespace ${namespace}`, () => apps.listNamespacedDeployment({namespace, ...selecting(labelSelector)}))
      return list.items.map(toDeploymentInfo)
    },

    async listLoadBalancers(namespace) {
      const list = await must(`list Services${namespace ? ` in namespace ${namespace}` : ''}`, () =>
        namespace ? core.listNamespacedService({namespace}) : core.listServiceForAllNamespaces(),
      )
      return list.items.filter((svc) => svc.spec?.type === 'LoadBalancer').map(toLoadBalancerInfo)
    },

    async listWorkloads(namespace) {
      const [deployments, statefulSets, daemonSets] = await Promise.all([
        must(`list Deployments in namespace ${namespace}`, () => apps.listNamespacedDeployment({namespace})),
        must(`list StatefulSets in namespace ${namespace}`, () => apps.listNamespacedStatefulSet({namespace})),
        must(`list DaemonSets in namespace ${namespace}`, () => apps.listNamespacedDaemonSet({namespace})),
      ])
      return [
        ...deployments.items.map((d) => toWorkloadInfo('Deployment', d)),
        ...statefulSets.items.map((s) => toWorkloadInfo('StatefulSet', s)),
        ...daemonSets.items.map((d) => toWorkloadInfo('DaemonSet', d)),
      ]
    },

    async listPersistentVolumeClaims(namespace) {
      const list = await must(`list PersistentVolumeClaims in namespace ${namespace}`, () => core.listNamespacedPersistentVolumeClaim({namespace}))
      return list.items.map(toClaimInfo)
    },

    async listPods(namespace, labelSelector) {
      const list = await must(`list pods in namespace ${namespace}`, () => core.listNamespacedPod({namespace, ...selecting(labelSelector)}))
      return list.items.map(toPodInfo)
    },

    async getService(namespace, name) {
      const svc = await orNotFound(`read Service ${namespace}/${name}`, () => core.readNamespacedService({namespace, name}))
      return svc ? toServiceInfo(svc, name) : undefined
    },
  }
}

export function toDeploymentInfo(d: K8s.V1Deployment): DeploymentInfo {
  return {
    name: d.metadata?.name ?? '',
    // The API defaults an absent .spec.replicas to 1.
    replicas: d.spec?.replicas ?? 1,
    readyReplicas: d.status?.readyReplicas ?? 0,
    updatedReplicas: d.status?.updatedReplicas ?? 0,
    availableReplicas: d.status?.availableReplicas ?? 0,
  }
}

export function toLoadBalancerInfo(svc: K8s.V1Service): LoadBalancerInfo {
  return {
    namespace: svc.metadata?.namespace ?? '',
    name: svc.metadata?.name ?? '',
    addresses: (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter(Boolean),
  }
}

/** A Deployment's or StatefulSet's desired count is its replicas (absent means 1); a DaemonSet's is what it should schedule. */
export function toWorkloadInfo(kind: 'Deployment' | 'StatefulSet', o: K8s.V1Deployment | K8s.V1StatefulSet): WorkloadInfo
export function toWorkloadInfo(kind: 'DaemonSet', o: K8s.V1DaemonSet): WorkloadInfo
export function toWorkloadInfo(kind: WorkloadInfo['kind'], o: K8s.V1Deployment | K8s.V1StatefulSet | K8s.V1DaemonSet): WorkloadInfo {
  if (kind === 'DaemonSet') {
    const status = (o as K8s.V1DaemonSet).status
    return {kind, ...workloadBase(o), desired: status?.desiredNumberScheduled ?? 0, ready: status?.numberReady ?? 0}
  }
  const d = o as K8s.V1Deployment | K8s.V1StatefulSet
  return {kind, ...workloadBase(o), desired: d.spec?.replicas ?? 1, ready: d.status?.readyReplicas ?? 0}
}

export function toClaimInfo(p: K8s.V1PersistentVolumeClaim): ClaimInfo {
  return {
    name: p.metadata?.name ?? '',
    phase: p.status?.phase ?? 'Pending',
    storageClass: p.spec?.storageClassName,
    createdAt: toDate(p.metadata?.creationTimestamp),
  }
}

/** Ready is the pod's Ready condition; restarts and CPU requests are summed over its containers. */
export function toPodInfo(p: K8s.V1Pod): PodInfo {
  const containers = p.spec?.containers ?? []
  return {
    name: p.metadata?.name ?? '',
    labels: p.metadata?.labels ?? {},
    phase: p.status?.phase ?? 'Unknown',
    ready: (p.status?.conditions ?? []).some((cond) => cond.type === 'Ready' && cond.status === 'True'),
    restarts: (p.status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0),
    images: containers.map((ct) => ct.image ?? ''),
    ports: containers.flatMap((ct) => (ct.ports ?? []).map((port) => ({name: port.name, containerPort: port.containerPort}))),
    cpuRequestMillis: containers.reduce((n, ct) => n + parseCpuMillis(ct.resources?.requests?.cpu), 0),
    deleting: Boolean(p.metadata?.deletionTimestamp),
    createdAt: toDate(p.metadata?.creationTimestamp),
  }
}

export function toServiceInfo(svc: K8s.V1Service, name: string): ServiceInfo {
  return {
    name: svc.metadata?.name ?? name,
    type: svc.spec?.type ?? 'ClusterIP',
    selector: svc.spec?.selector ?? {},
    ports: (svc.spec?.ports ?? []).map((p) => ({name: p.name, port: p.port, targetPort: p.targetPort as number | string | undefined})),
  }
}
