/** Small readers of the real API server for cluster tests (admin client certificate). */
import {adminRequest} from './control-plane.js'

/** GET a path as JSON; undefined on 404. */
export async function getJson<T = Record<string, unknown>>(kubeconfig: string, path: string): Promise<T | undefined> {
  const res = await adminRequest(kubeconfig, 'GET', path)
  if (res.status === 404) return undefined
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body.slice(0, 300)}`)
  return JSON.parse(res.body) as T
}

/** Names of the items of a list path (e.g. /apis/apps/v1/namespaces/x/deployments). */
export async function listNames(kubeconfig: string, path: string): Promise<string[]> {
  const list = await getJson<{items: {metadata: {name: string}}[]}>(kubeconfig, path)
  return (list?.items ?? []).map((i) => i.metadata.name).sort()
}
