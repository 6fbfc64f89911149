/**
 * Any resource addressed generically (group, version, plural): list, delete, merge-patch — what
 * uninstall uses to find and remove leftovers — and the Events about an object.
 */
import {KedaLabError} from '../../errors.js'
import {describeRef, type KubeClient, type Meta, pathOf, summarize, toDate} from './client.js'
import {httpStatusOf} from './retry.js'
import type {Kube, KubeCondition} from './types.js'

type ObjectMethods = Pick<Kube, 'listObjects' | 'deleteObject' | 'mergePatchObject' | 'listEvents'>

/** The generic object methods, answered through `c`. */
export function objectMethods(c: KubeClient): ObjectMethods {
  const {api, fail, must, orNotFound, rawJson, versionOf} = c
  return {
    async listObjects(ref, labelSelector) {
      const v = await versionOf(ref)
      if (!v) return []
      const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''
      const list = (await orNotFound(`list ${describeRef(ref)}`, () => rawJson('GET', pathOf(ref, v) + query))) as
        | {kind?: string; items?: {kind?: string; metadata?: Meta; status?: {conditions?: KubeCondition[]}}[]}
        | undefined
      const kind = list?.kind?.replace(/List$/, '')
      return (list?.items ?? []).map((item) => summarize(item, kind))
    },

    async deleteObject(ref, name) {
      const v = await versionOf(ref)
      if (!v) return false
      try {
        await api(() => rawJson('DELETE', pathOf(ref, v, name)))
        return true
      } catch (error) {
        if (httpStatusOf(error) === 404) return false
        return fail(`delete ${describeRef(ref)} ${name}`, error)
      }
    },

    async mergePatchObject(ref, name, patch) {
      const v = await versionOf(ref)
      if (!v) throw new KedaLabError(`The cluster does not serve the API group ${ref.group}`)
      try {
        await api(() => rawJson('PATCH', pathOf(ref, v, name), patch, 'application/merge-patch+json'))
      } catch (error) {
        if (httpStatusOf(error) === 404) return // gone meanwhile: nothing left to patch
        fail(`patch ${describeRef(ref)} ${name}`, error)
      }
    },

    async listEvents(namespace, involvedObject) {
      const fieldSelector = [
        involvedObject?.kind ? `involvedObject.kind=${involvedObject.kind}` : '',
        involvedObject?.name ? `involvedObject.name=${involvedObject.name}` : '',
      ]
        .filter(Boolean)
        .join(',')
      const list = await must(`list events in namespace ${namespace}`, () => c.core.listNamespacedEvent({namespace, ...(fieldSelector ? {fieldSelector} : {})}))
      return list.items.map((e) => ({
        type: e.type ?? 'Normal',
        reason: e.reason ?? '',
        message: e.message ?? '',
        count: e.count ?? 1,
        lastTimestamp: toDate(e.lastTimestamp ?? (e.eventTime as unknown as Date | string | undefined) ?? e.metadata?.creationTimestamp),
        involvedKind: e.involvedObject?.kind,
        involvedName: e.involvedObject?.name,
      }))
    },
  }
}
