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
