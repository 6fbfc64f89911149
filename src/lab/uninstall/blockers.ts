/**
 * Why a namespace is stuck in Terminating, and how `--force` releases it — the troubleshooting notes'
 * manual procedure as code. The namespace controller says what remains in two status conditions:
 *   NamespaceContentRemaining:    "Some resources are remaining: scaledobjects.keda.sh has 1 resource instances"
 *   NamespaceFinalizersRemaining: "Some content in the namespace has finalizers remaining: finalizer.keda.sh in 1 resource instances"
 * We read those, list the named resources to name the objects, and (with --force) clear the
 * objects' `metadata.finalizers` (merge patch) and the namespace's `spec.finalizers` (/finalize).
 */
import {type Kube, type KubeCondition, type NamespaceInfo, type ResourceRef, resources} from '../../adapters/kube/index.js'

/** One object that keeps a namespace from going away. */
export interface BlockingObject {
  /** e.g. 'scaledobjects.keda.sh' or 'persistentvolumeclaims'. */
  resource: string
  name: string
  finalizers: string[]
}

/** A Terminating namespace and what keeps it from going away. */
export interface NamespaceBlockers {
  namespace: string
  phase: string
  /** Since when the namespace has been terminating (ISO), if it is. */
  deletionTimestamp?: string
  /** The namespace's own `spec.finalizers` (e.g. 'kubernetes'). */
  specFinalizers: string[]
  /** The controller's conditions that are True, with their messages. */
  conditions: KubeCondition[]
  objects: BlockingObject[]
  /**
   * APIServices that are not Available, named when discovery failed
   * (NamespaceDeletionDiscoveryFailure): the namespace controller cannot finish while one is down.
   */
  unavailableApiServices: {name: string; message: string}[]
}

// Resources the lab's releases create that carry finalizers: looked at when the controller has not
// written its conditions yet (or the cluster is old enough not to).
const USUAL_SUSPECTS = ['scaledobjects.keda.sh', 'scaledjobs.keda.sh', 'triggerauthentications.keda.sh', 'persistentvolumeclaims', 'pods']

/** 'scaledobjects.keda.sh' -> {group:'keda.sh', plural:'scaledobjects'}; 'pods' (or 'pods.') -> core. */
export function parseResource(resource: string): Pick<ResourceRef, 'group' | 'plural'> {
  const clean = resource.replace(/\.$/, '')
  const dot = clean.indexOf('.')
  return dot < 0 ? {group: '', plural: clean} : {group: clean.slice(dot + 1), plural: clean.slice(0, dot)}
}

/** The resources named in a NamespaceContentRemaining message. */
export function resourcesFromConditions(conditions: readonly KubeCondition[]): string[] {
  const content = conditions.find((c) => c.type === 'NamespaceContentRemaining' && c.status === 'True')
  if (!content?.message) return []
  return [...content.message.matchAll(/([a-z0-9.-]+?)\.? has \d+ resource instances/g)].map((m) => (m[1] ?? '').replace(/\.$/, ''))
}

/** Lists what blocks `ns`: the conditions, and the objects still inside with the finalizers they carry. */
export async function findBlockers(kube: Kube, ns: NamespaceInfo): Promise<NamespaceBlockers> {
  const named = resourcesFromConditions(ns.conditions)
  const candidates = named.length > 0 ? named : USUAL_SUSPECTS
  const objects: BlockingObject[] = []
  for (const resource of candidates) {
    const items = await kube.listObjects({...parseResource(resource), namespace: ns.name})
    for (const item of items) objects.push({resource, name: item.name, finalizers: item.finalizers})
  }
  const discoveryFailed = ns.conditions.some((c) => c.type === 'NamespaceDeletionDiscoveryFailure' && c.status === 'True')
  const unavailableApiServices = discoveryFailed ? await findUnavailableApiServices(kube) : []
  return {
    namespace: ns.name,
    phase: ns.phase,
    deletionTimestamp: ns.deletionTimestamp,
    specFinalizers: ns.specFinalizers,
    conditions: ns.conditions.filter((c) => c.status === 'True' && c.type.startsWith('Namespace')),
    objects,
    unavailableApiServices,
  }
}

/** APIServices whose Available condition is not True, with the aggregator's reason. */
export async function findUnavailableApiServices(kube: Kube): Promise<{name: string; message: string}[]> {
  return (await kube.listObjects(resources.apiServices)).flatMap((a) => {
    const available = a.conditions.find((c) => c.type === 'Available')
    if (!available || available.status === 'True') return []
    return [{name: a.name, message: [available.reason, available.message].filter(Boolean).join(': ')}]
  })
}

/** One line per blocker, for the report and the doctor's detail. */
export function describeBlockers(b: NamespaceBlockers): string[] {
  const lines = b.conditions.map((c) => `${c.type}: ${c.message ?? c.reason ?? ''}`)
  for (const a of b.unavailableApiServices) lines.push(`APIService ${a.name} is unavailable (${a.message || 'no reason given'})`)
  for (const o of b.objects) {
    lines.push(`${o.resource}/${o.name}${o.finalizers.length > 0 ? ` (finalizers: ${o.finalizers.join(', ')})` : ' (no finalizers: still being deleted)'}`)
  }
  // Once the content is gone, what is left in spec.finalizers is the blocker ('kubernetes' is the
  // namespace controller's own and normal while content remains).
  if (b.objects.length === 0 && b.specFinalizers.length > 0) lines.push(`namespace spec.finalizers: ${b.specFinalizers.join(', ')}`)
  return lines
}

/** What `--force` did to one namespace. */
export interface ForceResult {
  namespace: string
  /** 'resource/name' of each object whose finalizers were cleared. */
  clearedObjects: string[]
  /** The namespace's spec.finalizers removed through /finalize. */
  clearedNamespaceFinalizers: string[]
}

/**
 * Clears the finalizers that hold the namespace: `metadata.finalizers: null` (merge patch) on each
 * blocking object; then, only if the namespace is still there once `settle` has given the
 * namespace controller a moment, its `spec.finalizers` through the /finalize subresource.
 * This skips the clean-up the finalizers stood for (e.g. KEDA restoring a scaled Deployment) —
 * acceptable here because the whole namespace is going away.
 */
export async function forceFinalize(kube: Kube, blockers: NamespaceBlockers, settle: () => Promise<boolean> = async () => false): Promise<ForceResult> {
  const clearedObjects: string[] = []
  for (const o of blockers.objects) {
    if (o.finalizers.length === 0) continue
    await kube.mergePatchObject({...parseResource(o.resource), namespace: blockers.namespace}, o.name, {metadata: {finalizers: null}})
    clearedObjects.push(`${o.resource}/${o.name}`)
  }
  let clearedNamespaceFinalizers: string[] = []
  if (!(await settle())) {
    const current = await kube.getNamespace(blockers.namespace)
    if (current && current.specFinalizers.length > 0) {
      clearedNamespaceFinalizers = current.specFinalizers
      await kube.finalizeNamespace(blockers.namespace, [])
    }
  }
  return {namespace: blockers.namespace, clearedObjects, clearedNamespaceFinalizers}
}

/** How to release a stuck namespace: a discovery failure needs the dangling APIService gone first. */
export function stuckHint(conditions: readonly KubeCondition[], unavailableApiServices: readonly {name: string}[] = []): string {
  if (!conditions.some((c) => c.type === 'NamespaceDeletionDiscoveryFailure'))
    return '`keda-lab uninstall --force` clears these finalizers (skipping the clean-up they stand for)'
  const named = unavailableApiServices.map((a) => a.name)
  const which = named.length > 0 ? `the unavailable APIService ${named.join(', ')}` : 'an unavailable APIService (`kubectl get apiservices | grep False`)'
  const del = named.length > 0 ? ` or \`kubectl delete apiservice ${named.join(' ')}\` if nothing should serve it` : ''
  return `${which} stops the namespace controller: start what serves it again${del}; \`keda-lab uninstall --purge\` deletes the lab's own leftover APIServices, \`--force\` finalizes the namespace anyway`
}
