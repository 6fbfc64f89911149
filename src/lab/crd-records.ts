/**
 * Which CustomResourceDefinitions each of the lab's releases brought, recorded on the CRDs
 * themselves at install time.
 *
 * Why: Helm never deletes, labels or records the CRDs of a chart's `crds/` folders — nor those of its
 * subcharts' (Alloy's `podlogs.monitoring.grafana.com` comes unlabeled from its `crds` subchart,
 * kube-prometheus-stack's from its own) — and `helm get manifest` does not list them. A list of
 * known API groups goes stale the day a chart adds a CRD. So after each `helm upgrade --install`,
 * install asks Helm what the chart brings (`helm show crds`: the crds/ folders of the chart and of
 * every subchart; `helm get manifest`: CRDs rendered by templates) and writes the release's name and
 * namespace into each such CRD's annotations. Uninstall (`--purge`) and doctor's leftover check read
 * those annotations — the same source — and need neither the chart nor the network.
 *
 * Only a CRD that did not exist before the release's `helm upgrade --install` ran is recorded (and
 * one already recorded stays so): a CRD that was there before belongs to someone else — Helm skipped
 * it — and `--purge` must never delete another team's CRDs with all their objects. The record is
 * written even when the helm step fails, so that the CRDs a failed first install created are known.
 */
import {parseAllDocuments} from 'yaml'

import type {Kube} from '../adapters/kube/index.js'
import {resources} from '../adapters/kube/index.js'

/** Annotation naming the release that brought a CRD (as Helm's `meta.helm.sh/release-name`). */
export const CRD_RELEASE_ANNOTATION = 'keda-lab.dev/release-name'
/** Annotation naming that release's namespace (as Helm's `meta.helm.sh/release-namespace`). */
export const CRD_NAMESPACE_ANNOTATION = 'keda-lab.dev/release-namespace'

/** The names of the CustomResourceDefinitions in a multi-document YAML text (`helm show crds`, `helm get manifest`). */
export function crdNamesIn(yamlText: string): string[] {
  const names: string[] = []
  for (const doc of parseAllDocuments(yamlText)) {
    const obj = doc.toJS() as {kind?: unknown; metadata?: {name?: unknown}} | null
    if (obj && typeof obj === 'object' && obj.kind === 'CustomResourceDefinition' && typeof obj.metadata?.name === 'string') names.push(obj.metadata.name)
  }
  return [...new Set(names)].sort()
}

/** One release whose CRDs are recorded. */
export interface ReleaseCrds {
  release: string
  namespace: string
  /** The CRDs its chart brings (crds/ folders and rendered templates). */
  names: readonly string[]
  /** CRD names present before this `helm upgrade --install` ran. */
  before: ReadonlySet<string>
}

/** What recordReleaseCrds did. */
export interface RecordResult {
  recorded: string[]
  /** CRDs of the chart that another owner had before the lab (left alone). */
  foreign: string[]
}

/**
 * Writes the release into the annotations of each CRD its chart brought. Left alone: CRDs that do
 * not exist (a disabled subchart's), that another release owns, or that were there before this
 * `helm upgrade --install` without the release's record (someone else's: Helm did not create them).
 */
export async function recordReleaseCrds(kube: Kube, spec: ReleaseCrds): Promise<RecordResult> {
  const present = new Map((await kube.listObjects(resources.crds)).map((crd) => [crd.name, crd]))
  const result: RecordResult = {recorded: [], foreign: []}
  for (const name of spec.names) {
    const crd = present.get(name)
    if (!crd) continue
    const a = crd.annotations
    const recordedRelease = a[CRD_RELEASE_ANNOTATION]
    if (recordedRelease !== undefined) {
      if (recordedRelease === spec.release && a[CRD_NAMESPACE_ANNOTATION] === spec.namespace) result.recorded.push(name)
      else result.foreign.push(name)
      continue
    }
    // A CRD rendered by this release's templates carries Helm's ownership: the release's, whatever came before.
    const helmRelease = a['meta.helm.sh/release-name']
    const helmOwn = helmRelease === spec.release && a['meta.helm.sh/release-namespace'] === spec.namespace
    if (!helmOwn && (helmRelease !== undefined || spec.before.has(name))) {
      result.foreign.push(name)
      continue
    }
    await kube.mergePatchObject(resources.crds, name, {
      metadata: {annotations: {[CRD_RELEASE_ANNOTATION]: spec.release, [CRD_NAMESPACE_ANNOTATION]: spec.namespace}},
    })
    result.recorded.push(name)
  }
  return result
}

/** The release recorded on an object by recordReleaseCrds, if any. */
export function recordedRelease(annotations: Record<string, string>): {release: string; namespace?: string} | undefined {
  const release = annotations[CRD_RELEASE_ANNOTATION]
  return release === undefined ? undefined : {release, namespace: annotations[CRD_NAMESPACE_ANNOTATION]}
}
