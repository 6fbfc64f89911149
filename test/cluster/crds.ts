/**
 * Real CustomResourceDefinitions applied straight to the control plane (for tests that install the
 * app chart without the third-party charts). The files come from the Go modules that ship them,
 * through the one reader the stand-in charts use (test/helpers/chart-repo.ts: realCrdFiles).
 */
import {readFileSync} from 'node:fs'

import {parseAllDocuments} from 'yaml'

import {createKube} from '../../src/adapters/kube/index.js'
import {crdsStillThere, requeueFailedCrdDeletions} from '../../src/lab/uninstall/leftovers.js'
import {realCrdFiles} from '../helpers/chart-repo.js'
import {notYet, waitFor} from '../helpers/processes.js'
import {adminRequest} from './control-plane.js'

export interface CrdObject {
  apiVersion: string
  kind: 'CustomResourceDefinition'
  metadata: {name: string}
  [key: string]: unknown
}

const parse = (files: string[]): CrdObject[] =>
  files
    .flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as CrdObject | null))
    .filter((o): o is CrdObject => o !== null && o.kind === 'CustomResourceDefinition')

/** KEDA's CRDs (ScaledObject, ScaledJob, TriggerAuthentication, …) of the pinned KEDA release. */
export async function kedaCrds(): Promise<CrdObject[]> {
  return parse((await realCrdFiles()).keda)
}

/** prometheus-operator's CRDs, optionally only some (by plural, e.g. 'servicemonitors'). */
export async function prometheusOperatorCrds(plurals?: string[]): Promise<CrdObject[]> {
  const all = parse((await realCrdFiles()).prometheusOperator)
  return plurals ? all.filter((c) => plurals.some((p) => c.metadata.name === `${p}.monitoring.coreos.com`)) : all
}

/** Creates CRDs (409 = already there) and waits until the API server serves each (Established). */
export async function applyCrds(kubeconfig: string, crds: CrdObject[], timeoutMs = 60_000): Promise<void> {
  for (const crd of crds) {
    const res = await adminRequest(kubeconfig, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)
    if (res.status !== 201 && res.status !== 409) throw new Error(`creating CRD ${crd.metadata.name} failed: ${res.status} ${res.body.slice(0, 300)}`)
  }
  const deadline = Date.now() + timeoutMs
  for (const crd of crds) {
    for (;;) {
      const res = await adminRequest(kubeconfig, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`)
      const conditions =
        res.status === 200 ? ((JSON.parse(res.body) as {status?: {conditions?: {type: string; status: string}[]}}).status?.conditions ?? []) : []
      if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) break
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not Established after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

/**
 * Deletes CRDs and waits until they are gone. A deletion the API server's CRD finalizer dropped
 * after a failed attempt is queued again the way `uninstall --purge` does it (see
 * requeueFailedCrdDeletions), else it would wait for the 5-minute resync.
 */
export async function deleteCrds(kubeconfig: string, names: string[], timeoutMs = 120_000): Promise<void> {
  for (const name of names) {
    const res = await adminRequest(kubeconfig, 'DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`)
    if (![200, 202, 404].includes(res.status)) throw new Error(`deleting CRD ${name} failed: ${res.status} ${res.body.slice(0, 300)}`)
  }
  const kube = await createKube({kubeconfig})
  await waitFor(
    async () => {
      const left = await crdsStillThere(kube, names)
      if (left.length === 0) return true
      await requeueFailedCrdDeletions(kube, left, new Date())
      return notYet(left.map((c) => `${c.name} (${c.state ?? 'no Terminating condition'})`).join('; '))
    },
    {timeoutMs, intervalMs: 2000, what: `CRDs ${names.join(', ')} to be deleted`},
  )
}
