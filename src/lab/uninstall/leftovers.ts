/**
 * Cluster-scoped objects the lab's releases leave behind after `helm uninstall`: CRDs (Helm never
 * deletes the CRDs of a chart's or subchart's crds/ folder, e.g. prometheus-operator's and Alloy's;
 * install records which release brought each: src/lab/crd-records.ts), ClusterRoles,
 * ClusterRoleBindings, webhook configurations and APIServices (KEDA's external metrics API — a
 * dangling one breaks discovery for the whole cluster).
 */
import {type Kube, type ObjectSummary, type ResourceRef, resources} from '../../adapters/kube/index.js'
import {recordedRelease} from '../crd-records.js'
import {INSTALL_ORDER, type LabRelease, MONITORING_RELEASES} from './releases.js'
import type {UnrecordedCrd} from './release-records.js'

/** The kinds looked at, in the order they are removed with --purge (CRDs last: removing them deletes their objects). */
export const LEFTOVER_KINDS: readonly {kind: string; ref: ResourceRef}[] = [
  {kind: 'APIService', ref: resources.apiServices},
  {kind: 'MutatingWebhookConfiguration', ref: resources.mutatingWebhooks},
  {kind: 'ValidatingWebhookConfiguration', ref: resources.validatingWebhooks},
  {kind: 'ClusterRoleBinding', ref: resources.clusterRoleBindings},
  {kind: 'ClusterRole', ref: resources.clusterRoles},
  {kind: 'CustomResourceDefinition', ref: resources.crds},
]

/** A cluster-scoped object left by one of the lab's releases. */
export interface Leftover {
  kind: string
  name: string
  /** The release it came from. */
  release: LabRelease
}

const isLabRelease = (name: string | undefined): name is LabRelease => INSTALL_ORDER.includes(name as LabRelease)

/**
 * Which of the lab's releases an object belongs to, or undefined. Ownership records decide when
 * present — Helm's annotations, or for CRDs of charts' crds/ folders the record install wrote
 * (src/lab/crd-records.ts) — so another team's KEDA in another namespace is never ours; otherwise
 * the charts' labels.
 */
export function owningRelease(obj: ObjectSummary, namespace: string, monitoringNamespace: string): LabRelease | undefined {
  const expected = (release: LabRelease) => (MONITORING_RELEASES.includes(release) ? monitoringNamespace : namespace)
  const helmRelease = obj.annotations['meta.helm.sh/release-name']
  if (helmRelease !== undefined) {
    if (!isLabRelease(helmRelease)) return undefined
    return obj.annotations['meta.helm.sh/release-namespace'] === expected(helmRelease) ? helmRelease : undefined
  }
  const recorded = recordedRelease(obj.annotations)
  if (recorded) return isLabRelease(recorded.release) && recorded.namespace === expected(recorded.release) ? recorded.release : undefined
  const l = obj.labels
  if (isLabRelease(l['app.kubernetes.io/instance'])) return l['app.kubernetes.io/instance']
  if (l.release === 'kube-prometheus-stack') return 'kube-prometheus-stack'
  if (l['app.kubernetes.io/part-of'] === 'keda-operator') return 'keda'
  if (l['app.kubernetes.io/part-of'] === 'keda-lab') return 'keda-lab'
  return undefined
}

/** The cluster-scoped objects of the lab's releases that are not installed (any more). */
export async function findLeftovers(
  kube: Kube,
  options: {
    namespace: string
    monitoringNamespace: string
    installed: readonly string[]
    /** CRDs without a record that Helm's own release records show a lab release brought (release-records.ts). */
    unrecorded?: readonly UnrecordedCrd[]
  },
): Promise<Leftover[]> {
  const out: Leftover[] = []
  const fromHelmRecords = new Map((options.unrecorded ?? []).map((c) => [c.name, c.release]))
  for (const {kind, ref} of LEFTOVER_KINDS) {
    for (const obj of await kube.listObjects(ref)) {
      // Already being deleted (a CRD waits for its objects to go): on its way out, not left over.
      if (obj.deletionTimestamp) continue
      const release =
        owningRelease(obj, options.namespace, options.monitoringNamespace) ?? (kind === 'CustomResourceDefinition' ? fromHelmRecords.get(obj.name) : undefined)
      if (release && !options.installed.includes(release)) out.push({kind, name: obj.name, release})
    }
  }
  return out
}

/** Deletes the leftovers (--purge), in LEFTOVER_KINDS order; returns those removed. */
export async function removeLeftovers(kube: Kube, leftovers: readonly Leftover[]): Promise<Leftover[]> {
  const removed: Leftover[] = []
  for (const {kind, ref} of LEFTOVER_KINDS) {
    for (const l of leftovers.filter((x) => x.kind === kind)) {
      if (await kube.deleteObject(ref, l.name)) removed.push(l)
    }
  }
  return removed
}

/** A CRD deleted with --purge that is still there, with what the API server's CRD finalizer last said. */
export interface TerminatingCrd {
  name: string
  /** Its Terminating condition (`reason: message`) when the finalizer set one. */
  state?: string
  /** True when that condition says the finalizer failed to delete the CRD's objects. */
  failed: boolean
}

/** Which of the CRDs `names` still exist, and how far the API server got deleting each. */
export async function crdsStillThere(kube: Kube, names: readonly string[]): Promise<TerminatingCrd[]> {
  const wanted = new Set(names)
  return (await kube.listObjects(resources.crds))
    .filter((crd) => wanted.has(crd.name))
    .map((crd) => {
      const terminating = crd.conditions.find((c) => c.type === 'Terminating')
      return {
        name: crd.name,
        state: terminating ? `${terminating.reason ?? terminating.status}: ${terminating.message ?? ''}`.trim() : undefined,
        failed: terminating?.status === 'True' && terminating.reason === 'InstanceDeletionFailed',
      }
    })
}

/** Touched on a CRD to requeue its deletion (see {@link requeueFailedCrdDeletions}). */
export const CRD_REQUEUE_ANNOTATION = 'keda-lab.dev/purge-requeued-at'

/**
 * The API server deletes a CRD's objects before the CRD. When that fails — the CRD's storage is
 * still "(re)initializing" right after the CRD was created or changed — its finalizer retries,
 * and a retry that meets a write conflict drops the CRD; a change of the Terminating condition
 * alone does not queue it again, so the CRD waits for the informer's 5-minute resync
 * (apiextensions-apiserver pkg/controller/finalizer/crd_finalizer.go, v0.34). Any other change
 * queues it at once: each CRD whose deletion failed gets an annotation touched. Returns their names.
 */
export async function requeueFailedCrdDeletions(kube: Kube, crds: readonly TerminatingCrd[], at: Date): Promise<string[]> {
  const requeued: string[] = []
  for (const crd of crds.filter((c) => c.failed)) {
    await kube.mergePatchObject(resources.crds, crd.name, {metadata: {annotations: {[CRD_REQUEUE_ANNOTATION]: at.toISOString()}}})
    requeued.push(crd.name)
  }
  return requeued
}
