/**
 * The CRDs a lab release brought, read from Helm's own record of the release — for CRDs installed
 * before keda-lab recorded them on the CRDs (src/lab/crd-records.ts): such a CRD has neither
 * keda-lab's annotations nor Helm's (Helm never labels what it installs from a crds/ folder), so
 * `uninstall --purge` and doctor's leftover check would never see it.
 *
 * Helm keeps each revision of a release in a Secret `sh.helm.release.v1.<release>.v<revision>` in
 * the release's namespace (labels owner=helm, name=<release>, version=<revision>): its `release` key
 * holds the release as gzipped, base64-encoded JSON with the rendered `manifest`, the chart's
 * `files` (its crds/ folder among them) and `info.first_deployed` — the same format for Helm 3 and 4
 * (checked with both). Helm does not keep the chart's subcharts there: the CRDs of a subchart's
 * crds/ folder (kube-prometheus-stack's and Alloy's) cannot be learned from it.
 *
 * A chart names the CRDs it brings, not whether Helm created them: Helm skips a crds/ CRD that
 * already exists, and that one belongs to someone else — deleting it deletes all their objects. So a
 * CRD counts as the release's only when Helm created it (its first field manager is `helm`) around the
 * release's first deployment (Helm creates the crds/ CRDs just before it writes the first revision).
 */
import {gunzipSync} from 'node:zlib'

import {type Kube, type ObjectSummary, resources} from '../../adapters/kube/index.js'
import {CRD_NAMESPACE_ANNOTATION, CRD_RELEASE_ANNOTATION, crdNamesIn, recordedRelease} from '../crd-records.js'
import {INSTALL_ORDER, type LabRelease, MONITORING_RELEASES} from './releases.js'

/** What keda-lab reads of one revision of a Helm release. */
export interface HelmReleaseRecord {
  name: string
  namespace: string
  /** `info.first_deployed` (ISO), when Helm wrote it. */
  firstDeployed?: string
  /** The names of the CRDs in its manifest (templates) and in its chart's crds/ folder. */
  crds: string[]
}

/**
 * Decodes the `release` value of a Helm release Secret (as the Secret's data holds it once the API's
 * own base64 is undone): base64 → (gzip) → JSON. Throws on anything else.
 */
export function decodeHelmRelease(encoded: string): HelmReleaseRecord {
  let bytes = Buffer.from(encoded.trim(), 'base64')
  // Helm gzips the JSON (magic 1f 8b); very old records were plain JSON.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes)
  const release = JSON.parse(bytes.toString('utf8')) as {
    name?: string
    namespace?: string
    manifest?: string
    info?: {first_deployed?: string}
    chart?: {files?: {name?: string; data?: string}[] | null}
  }
  if (typeof release !== 'object' || release === null || typeof release.name !== 'string') throw new Error('not a Helm release record')
  const crdFiles = (release.chart?.files ?? []).filter((f) => typeof f.name === 'string' && /^crds\/.+\.(ya?ml|json)$/.test(f.name))
  const crds = new Set(crdNamesIn(release.manifest ?? ''))
  for (const f of crdFiles) for (const name of crdNamesIn(Buffer.from(f.data ?? '', 'base64').toString('utf8'))) crds.add(name)
  return {name: release.name, namespace: release.namespace ?? '', firstDeployed: release.info?.first_deployed, crds: [...crds].sort()}
}

/** How far a CRD's creation may lie from its release's first deployment (clocks of helm's machine and the API server differ a little). */
export const CREATION_WINDOW_MS = 10 * 60_000

/** The latest revision's record of each lab release found in the lab's namespaces (kept history of an uninstalled release included). */
export async function readLabReleaseRecords(kube: Kube, options: {namespace: string; monitoringNamespace: string}): Promise<HelmReleaseRecord[]> {
  const out: HelmReleaseRecord[] = []
  for (const release of INSTALL_ORDER) {
    const namespace = MONITORING_RELEASES.includes(release) ? options.monitoringNamespace : options.namespace
    const secrets = await kube.listObjects({...resources.secrets, namespace}, `owner=helm,name=${release}`)
    const latest = secrets.sort((a, b) => Number(b.labels.version ?? 0) - Number(a.labels.version ?? 0))[0]
    if (!latest) continue
    const data = await kube.getSecretData(namespace, latest.name)
    if (!data?.release) continue
    try {
      const record = decodeHelmRelease(data.release)
      if (record.name === release && record.namespace === namespace) out.push(record)
    } catch {
      // Not a record keda-lab can read (another tool's Secret with Helm's labels): it proves nothing.
    }
  }
  return out
}

/** A CRD without keda-lab's record that a lab release's Helm record shows it brought. */
export interface UnrecordedCrd {
  name: string
  release: LabRelease
  namespace: string
}

/**
 * Who created the object: the manager of the earliest change recorded in its managed fields, the API
 * server's own status writes left out. Undefined when that cannot be told: no time recorded, or
 * two managers wrote in the same first second (the precision Kubernetes keeps). Helm 4 applies
 * (server-side) a crds/ CRD that already exists, so "helm is among the managers" would not do.
 */
export function creatorOf(obj: Pick<ObjectSummary, 'fieldManagers'>): string | undefined {
  // A write without a time (a server-side apply that changed nothing) is not the creation.
  const writes = (obj.fieldManagers ?? []).filter((f) => f.manager !== 'kube-apiserver' && f.time)
  if (writes.length === 0) return undefined
  const first = Math.min(...writes.map((f) => Date.parse(f.time ?? '')))
  const creators = [...new Set(writes.filter((f) => Date.parse(f.time ?? '') === first).map((f) => f.manager))]
  return creators.length === 1 ? creators[0] : undefined
}

/** Did Helm create this CRD around the release's first deployment? (See the module's comment.) */
export function createdWithRelease(crd: Pick<ObjectSummary, 'createdAt' | 'fieldManagers'>, record: Pick<HelmReleaseRecord, 'firstDeployed'>): boolean {
  if (creatorOf(crd) !== 'helm' || !crd.createdAt || !record.firstDeployed) return false
  const gap = Math.abs(Date.parse(crd.createdAt) - Date.parse(record.firstDeployed))
  return Number.isFinite(gap) && gap <= CREATION_WINDOW_MS
}

/**
 * The CRDs in the cluster that carry no ownership (neither keda-lab's record nor Helm's annotations)
 * and that a lab release's Helm record shows it brought and Helm created with it.
 */
export async function unrecordedReleaseCrds(
  kube: Kube,
  options: {namespace: string; monitoringNamespace: string; records?: readonly HelmReleaseRecord[]},
): Promise<UnrecordedCrd[]> {
  const records = options.records ?? (await readLabReleaseRecords(kube, options))
  if (records.length === 0) return []
  const crds = new Map((await kube.listObjects(resources.crds)).map((c) => [c.name, c]))
  const out: UnrecordedCrd[] = []
  for (const record of records) {
    for (const name of record.crds) {
      const crd = crds.get(name)
      if (!crd || recordedRelease(crd.annotations) || crd.annotations['meta.helm.sh/release-name'] !== undefined) continue
      if (!createdWithRelease(crd, record)) continue
      out.push({name, release: record.name as LabRelease, namespace: record.namespace})
    }
  }
  return out
}

/**
 * Writes keda-lab's record on each such CRD (as install does since it records them), so that what
 * comes after — `uninstall --purge`, doctor's leftover check — knows them once the release and its
 * Helm record are gone. Returns the CRDs recorded.
 */
export async function recordUnrecordedCrds(kube: Kube, crds: readonly UnrecordedCrd[]): Promise<UnrecordedCrd[]> {
  for (const crd of crds) {
    await kube.mergePatchObject(resources.crds, crd.name, {
      metadata: {annotations: {[CRD_RELEASE_ANNOTATION]: crd.release, [CRD_NAMESPACE_ANNOTATION]: crd.namespace}},
    })
  }
  return [...crds]
}
