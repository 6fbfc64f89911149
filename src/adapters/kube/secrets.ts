/** Secrets: read decoded, create or replace. Never put their values in an error message. */
import type {KubeClient} from './client.js'
import type {Kube} from './types.js'

/** The Secret methods, answered through `c`. */
export function secretMethods(c: KubeClient): Pick<Kube, 'getSecretData' | 'applySecret'> {
  const {must, orNotFound, core} = c
  return {
    async getSecretData(namespace, name) {
      const secret = await orNotFound(`read Secret ${namespace}/${name}`, () => core.readNamespacedSecret({namespace, name}))
      if (!secret) return undefined
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8')
      for (const [k, v] of Object.entries(secret.stringData ?? {})) out[k] = v
      return out
    },

    async applySecret(namespace, name, data, labels) {
      const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]))
      const body = {apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: {name, namespace, labels}, data: encoded}
      // Never put the values in an error message: only the Secret's name.
      const existing = await orNotFound(`read Secret ${namespace}/${name}`, () => core.readNamespacedSecret({namespace, name}))
      if (existing) {
        const replaced = {...body, metadata: {...body.metadata, resourceVersion: existing.metadata?.resourceVersion}}
        await must(`replace Secret ${namespace}/${name}`, () => core.replaceNamespacedSecret({namespace, name, body: replaced}))
      } else {
        await must(`create Secret ${namespace}/${name}`, () => core.createNamespacedSecret({namespace, body}))
      }
    },
  }
}
