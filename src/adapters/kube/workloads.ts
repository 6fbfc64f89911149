/** What runs in a namespace: Deployments, StatefulSets, DaemonSets, pods, their claims and Services (install's rollout and claim waits, status, tunnel). */
import type {KubeClient} from './client.js'
import {toDate} from './client.js'
import {parseCpuMillis} from './quantity.js'
import type {ClaimInfo, Kube, PodInfo, WorkloadInfo} from './types.js'

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

// Over 80 lines (96) on purpose: a flat list of six independent adapter methods (the longest 24).
/** The workload methods, answered through `c`. */
export function workloadMethods(c: KubeClient): WorkloadMethods {
  const {must, orNotFound, core, apps} = c
  return {
    async listDeployments(namespace, labelSelector) {
      const list = await must(`list Deployments in namespace ${namespace}`, () =>
        apps.listNamespacedDeployment({namespace, ...(labelSelector ? {labelSelector} : {})}),
      )
      return list.items.map((d) => ({
        name: d.metadata?.name ?? '',
        // The API defaults an absent .spec.replicas to 1.
        replicas: d.spec?.replicas ?? 1,
        readyReplicas: d.status?.readyReplicas ?? 0,
        updatedReplicas: d.status?.updatedReplicas ?? 0,
        availableReplicas: d.status?.availableReplicas ?? 0,
      }))
    },

    async listLoadBalancers(namespace) {
      const list = await must(`list Services${namespace ? ` in namespace ${namespace}` : ''}`, () =>
        namespace ? core.listNamespacedService({namespace}) : core.listServiceForAllNamespaces(),
      )
      return list.items
        .filter((svc) => svc.spec?.type === 'LoadBalancer')
        .map((svc) => ({
          namespace: svc.metadata?.namespace ?? '',
          name: svc.metadata?.name ?? '',
          addresses: (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter(Boolean),
        }))
    },

    async listWorkloads(namespace) {
      const [deployments, statefulSets, daemonSets] = await Promise.all([
        must(`list Deployments in namespace ${namespace}`, () => apps.listNamespacedDeployment({namespace})),
        must(`list StatefulSets in namespace ${namespace}`, () => apps.listNamespacedStatefulSet({namespace})),
        must(`list DaemonSets in namespace ${namespace}`, () => apps.listNamespacedDaemonSet({namespace})),
      ])
      return [
        ...deployments.items.map(
          (d): WorkloadInfo => ({kind: 'Deployment', ...workloadBase(d), desired: d.spec?.replicas ?? 1, ready: d.status?.readyReplicas ?? 0}),
        ),
        ...statefulSets.items.map(
          (d): WorkloadInfo => ({kind: 'StatefulSet', ...workloadBase(d), desired: d.spec?.replicas ?? 1, ready: d.status?.readyReplicas ?? 0}),
        ),
        ...daemonSets.items.map(
          (d): WorkloadInfo => ({
            kind: 'DaemonSet',
            ...workloadBase(d),
            desired: d.status?.desiredNumberScheduled ?? 0,
            ready: d.status?.numberReady ?? 0,
          }),
        ),
      ]
    },

    async listPersistentVolumeClaims(namespace) {
      const list = await must(`list PersistentVolumeClaims in namespace ${namespace}`, () => core.listNamespacedPersistentVolumeClaim({namespace}))
      return list.items.map(
        (p): ClaimInfo => ({
          name: p.metadata?.name ?? '',
          phase: p.status?.phase ?? 'Pending',
          storageClass: p.spec?.storageClassName,
          createdAt: toDate(p.metadata?.creationTimestamp),
        }),
      )
    },

    async listPods(namespace, labelSelector) {
      const list = await must(`list pods in namespace ${namespace}`, () => core.listNamespacedPod({namespace, ...(labelSelector ? {labelSelector} : {})}))
      return list.items.map(
        (p): PodInfo => ({
          name: p.metadata?.name ?? '',
          labels: p.metadata?.labels ?? {},
          phase: p.status?.phase ?? 'Unknown',
          ready: (p.status?.conditions ?? []).some((cond) => cond.type === 'Ready' && cond.status === 'True'),
          restarts: (p.status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0),
          images: (p.spec?.containers ?? []).map((ct) => ct.image ?? ''),
          ports: (p.spec?.containers ?? []).flatMap((ct) => (ct.ports ?? []).map((port) => ({name: port.name, containerPort: port.containerPort}))),
          cpuRequestMillis: (p.spec?.containers ?? []).reduce((n, ct) => n + parseCpuMillis(ct.resources?.requests?.cpu), 0),
          deleting: Boolean(p.metadata?.deletionTimestamp),
          createdAt: toDate(p.metadata?.creationTimestamp),
        }),
      )
    },

    async getService(namespace, name) {
      const svc = await orNotFound(`read Service ${namespace}/${name}`, () => core.readNamespacedService({namespace, name}))
      if (!svc) return undefined
      return {
        name: svc.metadata?.name ?? name,
        type: svc.spec?.type ?? 'ClusterIP',
        selector: svc.spec?.selector ?? {},
        ports: (svc.spec?.ports ?? []).map((p) => ({name: p.name, port: p.port, targetPort: p.targetPort as number | string | undefined})),
      }
    },
  }
}
