/** Small readers of the real API server for cluster tests (admin client certificate). */
import {readFileSync, writeFileSync} from 'node:fs'

import {createKube, type Kube} from '../../src/adapters/kube/index.js'
import {createTelegram} from '../../src/adapters/telegram.js'
import {DEFAULT_SERVICES, type DoctorContext} from '../../src/lab/doctor/checks.js'
import {freePort} from '../helpers/processes.js'
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

/**
 * A credential of its own for a client under test: a ServiceAccount in kube-system bound to
 * cluster-admin, and a kubeconfig with its token (TokenRequest API) and the cluster's CA. Its user
 * name (returned) tells that client's requests apart in the audit log from the admin's, kwok's and
 * the controllers'.
 */
export async function clusterAdminServiceAccount(kubeconfig: string, name: string, path: string): Promise<{kubeconfig: string; username: string}> {
  const must = async (method: string, url: string, body: unknown) => {
    const res = await adminRequest(kubeconfig, method, url, body)
    if (res.status !== 201) throw new Error(`${method} ${url}: ${res.status} ${res.body.slice(0, 300)}`)
    return JSON.parse(res.body) as Record<string, unknown>
  }
  await must('POST', '/api/v1/namespaces/kube-system/serviceaccounts', {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name}})
  await must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: {name},
    roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin'},
    subjects: [{kind: 'ServiceAccount', name, namespace: 'kube-system'}],
  })
  await serviceAccountKubeconfig(kubeconfig, 'kube-system', name, path)
  return {kubeconfig: path, username: `system:serviceaccount:kube-system:${name}`}
}

/**
 * What a pod's mounted token gives: a kubeconfig (mode 0600) with a fresh token of ServiceAccount
 * `namespace/name` (TokenRequest API, one hour) and the cluster's server and CA only.
 */
export async function serviceAccountKubeconfig(kubeconfig: string, namespace: string, name: string, path: string): Promise<string> {
  const res = await adminRequest(kubeconfig, 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {expirationSeconds: 3600},
  })
  if (res.status !== 201) throw new Error(`token of ServiceAccount ${namespace}/${name}: ${res.status} ${res.body.slice(0, 300)}`)
  const token = (JSON.parse(res.body) as {status: {token: string}}).status.token
  const admin = readFileSync(kubeconfig, 'utf8')
  const field = (key: string) => {
    const value = new RegExp(`${key}: "?([^"\\s]+)`).exec(admin)?.[1]
    if (!value) throw new Error(`no ${key} in ${kubeconfig}`)
    return value
  }
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{name: lab, cluster: {server: ${field('server')}, certificate-authority-data: ${field('certificate-authority-data')}}}]
users: [{name: ${name}, user: {token: ${token}}}]
contexts: [{name: ${name}, context: {cluster: lab, user: ${name}}}]
current-context: ${name}
`,
    {mode: 0o600},
  )
  return path
}

/**
 * What `keda-lab doctor` builds, for running its checks in-process against the real API server
 * (`kube` from the real client-node on `kubeconfig`, unless a wrapped one is given): no Helm release,
 * and a Telegram Bot API address where nothing listens unless `telegramUrl` is given (nothing leaves
 * the machine).
 */
export async function doctorContext(
  kubeconfig: string,
  o: {namespace: string; monitoringNamespace?: string; telegramUrl?: string; now?: () => number; kube?: Kube; expectedAlerts?: DoctorContext['expectedAlerts']},
): Promise<DoctorContext> {
  return {
    kube: o.kube ?? (await createKube({kubeconfig})),
    releases: {list: async () => []},
    namespace: o.namespace,
    monitoringNamespace: o.monitoringNamespace ?? `${o.namespace}-mon`,
    telegram: createTelegram({apiUrl: o.telegramUrl ?? `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000}),
    expectedAlerts: o.expectedAlerts ?? [],
    services: DEFAULT_SERVICES,
    logWindowMs: 15 * 60_000,
    stuckAfterMs: 120_000,
    now: o.now ?? Date.now,
  }
}
