/**
 * The scaling part of `keda-lab status`, read cheaply enough to repeat every second (loadtest's
 * watcher): the worker Deployment, KEDA's ScaledObject and HPA, and the API's HPA — three list
 * calls, no pods, no events, no alerts. The same pure functions as the full status read
 * (cluster.ts) turn the answers into the same figures, so `status` and a load test agree.
 */
import type {Kube} from '../adapters/kube/index.js'
import {APP_RELEASE} from '../config/release.js'
import {apiHpaStatus, scaledObjectStatus} from './cluster.js'
import type {ApiHpaStatus, ScaledObjectStatus} from './model.js'

/** What the scaling read found; a part is absent when the cluster does not have it. */
export interface ScalingStatus {
  /** The worker Deployment's replicas: ready now, and asked for (`.spec.replicas`). */
  workerDeployment?: {ready: number; desired: number}
  worker?: ScaledObjectStatus
  apiHpa?: ApiHpaStatus
}

/** One scaling read of namespace `namespace` (errors of the Kube adapter are thrown as they are). */
export async function collectScalingStatus(kube: Kube, namespace: string): Promise<ScalingStatus> {
  const workerName = `${APP_RELEASE}-worker`
  const [deployments, hpas, scaledObjects] = await Promise.all([kube.listDeployments(namespace), kube.listHpas(namespace), kube.listScaledObjects(namespace)])
  const deployment = deployments.find((d) => d.name === workerName)
  const so = scaledObjects.find((s) => s.targetName === workerName)
  const kedaHpa = so ? (hpas.find((h) => h.name === so.hpaName) ?? hpas.find((h) => h.name === `keda-hpa-${so.name}`)) : undefined
  const apiHpa = hpas.find((h) => h.targetKind === 'Deployment' && h.targetName === `${APP_RELEASE}-api`)
  const workload = deployment
    ? {
        kind: 'Deployment' as const,
        name: deployment.name,
        labels: {},
        desired: deployment.replicas,
        ready: deployment.readyReplicas,
        images: [],
        containers: [],
        selector: {},
      }
    : undefined
  return {
    ...(deployment ? {workerDeployment: {ready: deployment.readyReplicas, desired: deployment.replicas}} : {}),
    ...(so ? {worker: scaledObjectStatus(so, kedaHpa, workload, [])} : {}),
    ...(apiHpa ? {apiHpa: apiHpaStatus(apiHpa)} : {}),
  }
}
