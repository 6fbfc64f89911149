/** Namespaces: create (idempotent), read, delete, and clear what blocks a Terminating one (uninstall --force). */
import type * as K8s from '@kubernetes/client-node'

import {KedaLabError} from '../../errors.js'
import {conditionsOf, type KubeClient, toDate} from './client.js'
import {httpStatusOf} from './retry.js'
import type {Kube, NamespaceInfo} from './types.js'

type NamespaceMethods = Pick<Kube, 'ensureNamespace' | 'getNamespace' | 'deleteNamespace' | 'listTerminatingNamespaces' | 'finalizeNamespace'>

const namespaceInfo = (ns: K8s.V1Namespace): NamespaceInfo => ({
  name: ns.metadata?.name ?? '',
  phase: ns.status?.phase ?? 'Active',
  labels: ns.metadata?.labels ?? {},
  deletionTimestamp: toDate(ns.metadata?.deletionTimestamp),
  specFinalizers: ns.spec?.finalizers ?? [],
  conditions: conditionsOf(ns.status?.conditions),
})

/** The namespace methods, answered through `c`. */
export function namespaceMethods(c: KubeClient): NamespaceMethods {
  const {api, fail, must, orNotFound, core} = c
  const mergePatch = c.k8s.setHeaderOptions('Content-Type', c.k8s.PatchStrategy.MergePatch)
  return {
    async ensureNamespace(name, labels) {
      const existing = await orNotFound(`read namespace ${name}`, () => core.readNamespace({name}))
      if (existing) {
        if (existing.status?.phase === 'Terminating' || existing.metadata?.deletionTimestamp) {
          throw new KedaLabError(`Namespace ${name} is being deleted (Terminating)`, {
            hint: 'Wait until it is gone, or run `keda-lab uninstall --force` to clear what blocks it.',
          })
        }
        const missing = Object.entries(labels ?? {}).filter(([k, v]) => existing.metadata?.labels?.[k] !== v)
        if (missing.length > 0) {
          await must(`label namespace ${name}`, () => core.patchNamespace({name, body: {metadata: {labels: Object.fromEntries(missing)}}}, mergePatch))
        }
        return
      }
      try {
        await api(() => core.createNamespace({body: {apiVersion: 'v1', kind: 'Namespace', metadata: {name, labels}}}))
      } catch (error) {
        if (httpStatusOf(error) !== 409) fail(`create namespace ${name}`, error) // 409: created meanwhile — fine
      }
    },

    async getNamespace(name) {
      const ns = await orNotFound(`read namespace ${name}`, () => core.readNamespace({name}))
      return ns ? namespaceInfo(ns) : undefined
    },

    async deleteNamespace(name) {
      try {
        await api(() => core.deleteNamespace({name}))
        return true
      } catch (error) {
        if (httpStatusOf(error) === 404) return false
        return fail(`delete namespace ${name}`, error)
      }
    },

    async listTerminatingNamespaces() {
      const list = await must('list namespaces', () => core.listNamespace())
      return list.items.map(namespaceInfo).filter((ns) => ns.phase === 'Terminating')
    },

    async finalizeNamespace(name, finalizers) {
      const ns = await orNotFound(`read namespace ${name}`, () => core.readNamespace({name}))
      if (!ns) return
      await must(`finalize namespace ${name}`, () => core.replaceNamespaceFinalize({name, body: {...ns, spec: {...ns.spec, finalizers}}}))
    },
  }
}
