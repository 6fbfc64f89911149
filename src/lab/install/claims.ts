/**
 * Watching the PersistentVolumeClaims while a release with persistent volumes waits to be ready.
 *
 * Why: with a StorageClass whose provisioner is missing or wrong, the claims stay Pending for ever,
 * the pods never start, and `helm --wait` sits out its whole timeout (10 minutes for Redis) before
 * saying "context deadline exceeded". The claims' events say why much earlier: the provisioner
 * reported a failure (`ProvisioningFailed`), or the volume controller is "waiting for a volume to
 * be created by the external provisioner X" (`ExternalProvisioning`) and X never answers — a
 * provisioner that runs says `Provisioning` within seconds. The release step then fails early with
 * that reason and the fix.
 */
import type {EventInfo, Kube} from '../../adapters/kube/index.js'
import {KedaLabError} from '../../errors.js'

/** How long a claim may wait on a provisioner that never answers before the step fails. */
export const CLAIM_GRACE_MS = 45_000

/** The fix for a claim nothing will bind. */
export const CLAIM_HINT =
  "install with --storage-class NAME, naming a StorageClass whose provisioner runs in this cluster (kubectl get storageclass shows each one's provisioner), or with --no-redis-persistence (no PersistentVolumes); a claim already made keeps its class: keda-lab uninstall --purge deletes it first"

/** Events that show a provisioner working on the claim (it will be bound or fail on its own). */
const PROVISIONER_ACTS = new Set(['Provisioning', 'ProvisioningSucceeded'])

const latest = (events: readonly EventInfo[]) => [...events].sort((a, b) => Date.parse(b.lastTimestamp ?? '0') - Date.parse(a.lastTimestamp ?? '0'))[0]

/**
 * The first claim of `namespace` that will not be bound, described (undefined: none, or too early
 * to tell). A claim waiting for its pod to be scheduled (`WaitForFirstConsumer`) is not judged here:
 * that is the pod's problem, which helm's wait reports.
 */
export async function unboundClaim(kube: Kube, namespace: string, now: number, graceMs = CLAIM_GRACE_MS): Promise<string | undefined> {
  for (const claim of await kube.listPersistentVolumeClaims(namespace)) {
    if (claim.phase !== 'Pending') continue
    const events = await kube.listEvents(namespace, {kind: 'PersistentVolumeClaim', name: claim.name})
    const what = `PersistentVolumeClaim ${namespace}/${claim.name} (StorageClass ${claim.storageClass ?? '<default>'})`
    const failed = latest(events.filter((e) => e.reason === 'ProvisioningFailed'))
    if (failed) return `${what} cannot be provisioned: ${failed.message}`
    if (events.some((e) => PROVISIONER_ACTS.has(e.reason))) continue
    const waited = claim.createdAt ? now - Date.parse(claim.createdAt) : 0
    if (waited < graceMs) continue
    const external = latest(events.filter((e) => e.reason === 'ExternalProvisioning' || e.reason === 'FailedBinding'))
    if (!external && events.some((e) => e.reason === 'WaitForFirstConsumer' || e.reason === 'WaitForPodScheduled')) continue
    return `${what} is still Pending after ${Math.round(waited / 1000)} s and no provisioner has acted on it${external ? ` (${external.reason}: ${external.message})` : ' (no event at all)'}`
  }
  return undefined
}

/**
 * Polls `namespace`'s claims until `signal` aborts; rejects with a KedaLabError (reason and fix)
 * as soon as one will not be bound. Errors reading the cluster are not the claims' fault: ignored
 * here (the release step reports its own).
 */
export async function watchClaims(
  kube: Kube,
  namespace: string,
  signal: AbortSignal,
  options: {pollMs?: number; graceMs?: number; now?: () => number} = {},
): Promise<void> {
  const now = options.now ?? Date.now
  while (!signal.aborted) {
    const problem = await unboundClaim(kube, namespace, now(), options.graceMs).catch(() => undefined)
    if (problem) throw new KedaLabError(problem, {hint: CLAIM_HINT})
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.pollMs ?? 3000)
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          resolve()
        },
        {once: true},
      )
    })
  }
}
