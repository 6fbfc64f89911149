/**
 * A loopback fake Kubernetes API server (node:http) that the REAL @kubernetes/client-node talks to.
 *
 * It keeps objects in memory by group/version/resource/namespace and serves what keda-lab asks:
 * GET/LIST (with labelSelector), POST, PUT, PATCH (JSON merge patch and strategic merge treated as
 * merge), DELETE; namespaces with a `Terminating` phase, `spec.finalizers`, the `/finalize`
 * subresource and the namespace controller's status conditions; objects with `metadata.finalizers`
 * that stay (with a deletionTimestamp) until their finalizers are cleared; `/version`;
 * SelfSubjectAccessReviews answered from an allow-list; API group discovery; and the service proxy
 * `/api/v1/namespaces/<ns>/services/<name>[:<port>]/proxy/...` whose answers tests set.
 *
 * Tests start it with `startFakeKubeApi()`, seed objects with `put()`, point the code at it with
 * `writeKubeconfig(dir)`, and read `requests` to assert what was asked.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'

import {stringify} from 'yaml'

/** Any Kubernetes object as JSON. */
export type KubeObject = {
  apiVersion?: string
  kind?: string
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    finalizers?: string[] | null
    deletionTimestamp?: string
    resourceVersion?: string
    uid?: string
    creationTimestamp?: string
    [key: string]: unknown
  }
  // biome-ignore lint/suspicious/noExplicitAny: the fake stores any kind's spec as given and tests read their own fields
  spec?: any
  // biome-ignore lint/suspicious/noExplicitAny: as spec
  status?: any
  [key: string]: unknown
}

/** One request the fake received, for assertions on order, verbs and content types. */
export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  contentType?: string
  body?: unknown
}

/** What a service-proxy handler receives. */
export interface ProxyRequest {
  method: string
  namespace: string
  service: string
  port?: string
  /** Path after `/proxy`, e.g. '/api/v1/targets'. */
  path: string
  query: Record<string, string>
  headers: IncomingMessage['headers']
  body: string
}

export interface ProxyResponse {
  status?: number
  /** An object is sent as JSON; a string as is. */
  body?: unknown
  headers?: Record<string, string | string[]>
}

export type ProxyHandler = (request: ProxyRequest) => ProxyResponse | Promise<ProxyResponse>

export interface FakeKubeApiOptions {
  /** `/version` answer; default 1.31.2. */
  version?: {major: string; minor: string; gitVersion?: string}
  /**
   * SelfSubjectAccessReview allow-list: entries `verb:group:resource` (group '' = core), each part may
   * be '*'. Default: everything allowed.
   */
  allow?: string[]
  /** How long a deleted namespace stays Terminating before the namespace controller removes it (ms). */
  namespaceTerminationMs?: number
}

export interface FakeKubeApi {
  readonly url: string
  readonly port: number
  /** Every request received, in order. */
  readonly requests: RecordedRequest[]
  /** Creates or replaces an object (apiVersion/kind decide where it lives). Returns the stored copy. */
  put(obj: KubeObject): KubeObject
  /** Reads an object by apiVersion, kind, namespace and name. */
  get(apiVersion: string, kind: string, name: string, namespace?: string): KubeObject | undefined
  /** Lists the objects of one kind (optionally in one namespace). */
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[]
  /** Removes an object outright (no finalizers honoured), as if it never existed. */
  remove(apiVersion: string, kind: string, name: string, namespace?: string): void
  /** Sets the SelfSubjectAccessReview allow-list (see FakeKubeApiOptions.allow). */
  setAllow(allow: string[] | undefined): void
  /** Answers requests sent through the service proxy to `service` in `namespace` (any port). */
  setProxy(namespace: string, service: string, handler: ProxyHandler | Record<string, ProxyResponse>): void
  /** Runs the namespace controller once (it also runs before every request). */
  reconcile(): void
  /** Adds a controller run on every reconcile, e.g. an emulated KEDA operator releasing its finalizers. */
  onReconcile(controller: (api: FakeKubeApi) => void): void
  /** The next request matching `method` and `path` gets this error status (once). */
  failNext(failure: {method: string; path: RegExp; status: number; message?: string}): void
  /** Writes a kubeconfig pointing at this fake into `dir` and returns its path. */
  writeKubeconfig(dir: string): string
  close(): Promise<void>
}

// Resources the fake knows: plural -> {kind, namespaced}. Custom resources register through CRDs or put().
const builtin: Record<string, {group: string; version: string; kind: string; namespaced: boolean}> = {
  namespaces: {group: '', version: 'v1', kind: 'Namespace', namespaced: false},
  nodes: {group: '', version: 'v1', kind: 'Node', namespaced: false},
  persistentvolumes: {group: '', version: 'v1', kind: 'PersistentVolume', namespaced: false},
  pods: {group: '', version: 'v1', kind: 'Pod', namespaced: true},
  services: {group: '', version: 'v1', kind: 'Service', namespaced: true},
  secrets: {group: '', version: 'v1', kind: 'Secret', namespaced: true},
  configmaps: {group: '', version: 'v1', kind: 'ConfigMap', namespaced: true},
  persistentvolumeclaims: {group: '', version: 'v1', kind: 'PersistentVolumeClaim', namespaced: true},
  serviceaccounts: {group: '', version: 'v1', kind: 'ServiceAccount', namespaced: true},
  endpoints: {group: '', version: 'v1', kind: 'Endpoints', namespaced: true},
  events: {group: '', version: 'v1', kind: 'Event', namespaced: true},
  deployments: {group: 'apps', version: 'v1', kind: 'Deployment', namespaced: true},
  statefulsets: {group: 'apps', version: 'v1', kind: 'StatefulSet', namespaced: true},
  daemonsets: {group: 'apps', version: 'v1', kind: 'DaemonSet', namespaced: true},
  storageclasses: {group: 'storage.k8s.io', version: 'v1', kind: 'StorageClass', namespaced: false},
  customresourcedefinitions: {group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', namespaced: false},
  apiservices: {group: 'apiregistration.k8s.io', version: 'v1', kind: 'APIService', namespaced: false},
  clusterroles: {group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole', namespaced: false},
  clusterrolebindings: {group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRoleBinding', namespaced: false},
  roles: {group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'Role', namespaced: true},
  rolebindings: {group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding', namespaced: true},
  mutatingwebhookconfigurations: {group: 'admissionregistration.k8s.io', version: 'v1', kind: 'MutatingWebhookConfiguration', namespaced: false},
  validatingwebhookconfigurations: {group: 'admissionregistration.k8s.io', version: 'v1', kind: 'ValidatingWebhookConfiguration', namespaced: false},
  horizontalpodautoscalers: {group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler', namespaced: true},
  poddisruptionbudgets: {group: 'policy', version: 'v1', kind: 'PodDisruptionBudget', namespaced: true},
  networkpolicies: {group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy', namespaced: true},
  ingresses: {group: 'networking.k8s.io', version: 'v1', kind: 'Ingress', namespaced: true},
  jobs: {group: 'batch', version: 'v1', kind: 'Job', namespaced: true},
  scaledobjects: {group: 'keda.sh', version: 'v1alpha1', kind: 'ScaledObject', namespaced: true},
  triggerauthentications: {group: 'keda.sh', version: 'v1alpha1', kind: 'TriggerAuthentication', namespaced: true},
  servicemonitors: {group: 'monitoring.coreos.com', version: 'v1', kind: 'ServiceMonitor', namespaced: true},
  prometheusrules: {group: 'monitoring.coreos.com', version: 'v1', kind: 'PrometheusRule', namespaced: true},
}

/** Kind -> plural the way the API server names it (lowercase, English plural). */
export function pluralOf(kind: string): string {
  for (const [plural, info] of Object.entries(builtin)) if (info.kind === kind) return plural
  const lower = kind.toLowerCase()
  if (lower.endsWith('s')) return `${lower}es`
  if (lower.endsWith('y')) return `${lower.slice(0, -1)}ies`
  return `${lower}s`
}

function splitApiVersion(apiVersion: string): {group: string; version: string} {
  const i = apiVersion.indexOf('/')
  return i < 0 ? {group: '', version: apiVersion} : {group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1)}
}

/** Label selector matching: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`. */
export function matchesSelector(labels: Record<string, string>, selector: string | undefined): boolean {
  if (!selector) return true
  // Split on commas outside parentheses.
  const terms: string[] = []
  let depth = 0
  let current = ''
  for (const ch of selector) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      terms.push(current)
      current = ''
    } else current += ch
  }
  terms.push(current)
  return terms.every((raw) => {
    const term = raw.trim()
    if (!term) return true
    let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term)
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim())
      const has = m[1]! in labels && values.includes(labels[m[1]!]!)
      return m[2] === 'in' ? has : !has
    }
    m = /^([^\s!=]+)\s*(!=|==|=)\s*(.*)$/.exec(term)
    if (m) return m[2] === '!=' ? labels[m[1]!] !== m[3]!.trim() : labels[m[1]!] === m[3]!.trim()
    if (term.startsWith('!')) return !(term.slice(1) in labels)
    return term in labels
  })
}

/** Field selector matching on dotted paths: `involvedObject.name=x,metadata.name!=y`. */
export function matchesFields(obj: unknown, selector: string | undefined): boolean {
  if (!selector) return true
  return selector.split(',').every((term) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(term.trim())
    if (!m) return true
    const value = m[1]!.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj)
    const equal = String(value ?? '') === m[3]
    return m[2] === '!=' ? !equal : equal
  })
}

/** RFC 7386 JSON merge patch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? {...(target as object)} : {}
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k]
    else out[k] = applyMergePatch(out[k], v)
  }
  return out
}

const clone = <T>(v: T): T => structuredClone(v)

/** Starts the fake on a free loopback port. */
export async function startFakeKubeApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  // key `${group}/${plural}` -> key `${namespace}/${name}` -> object (version-independent, like etcd)
  const store = new Map<string, Map<string, KubeObject>>()
  const kinds = new Map<string, {group: string; version: string; kind: string; namespaced: boolean}>(
    Object.entries(builtin).map(([plural, info]) => [`${info.group}/${plural}`, info]),
  )
  const proxies = new Map<string, ProxyHandler>()
  const controllers: ((api: FakeKubeApi) => void)[] = []
  const failures: {method: string; path: RegExp; status: number; message?: string}[] = []
  let self: FakeKubeApi | undefined
  const requests: RecordedRequest[] = []
  let allow = options.allow
  let rv = 1
  const version = options.version ?? {major: '1', minor: '31', gitVersion: 'v1.31.2'}
  const terminationMs = options.namespaceTerminationMs ?? 0

  const bucket = (group: string, plural: string) => {
    const key = `${group}/${plural}`
    let b = store.get(key)
    if (!b) store.set(key, (b = new Map()))
    return b
  }
  const infoFor = (group: string, plural: string) => kinds.get(`${group}/${plural}`)
  const register = (group: string, version: string, plural: string, kind: string, namespaced: boolean) => {
    if (!kinds.has(`${group}/${plural}`)) kinds.set(`${group}/${plural}`, {group, version, kind, namespaced})
  }
  const locate = (apiVersion: string, kind: string) => {
    const {group, version} = splitApiVersion(apiVersion)
    const plural = pluralOf(kind)
    return {group, version, plural}
  }

  const stamp = (obj: KubeObject) => {
    obj.metadata.resourceVersion = String(rv++)
    obj.metadata.uid ??= `uid-${rv}-${Math.random().toString(16).slice(2, 10)}`
    obj.metadata.creationTimestamp ??= new Date().toISOString()
    return obj
  }

  /** Stores an object; CRDs register their resource so it can be served. */
  const store_ = (group: string, plural: string, obj: KubeObject) => {
    const info = infoFor(group, plural)
    if (info && !info.namespaced) delete obj.metadata.namespace
    if (plural === 'namespaces') {
      obj.spec = {finalizers: ['kubernetes'], ...obj.spec}
      obj.status = {phase: 'Active', ...obj.status}
    }
    if (group === 'apiextensions.k8s.io' && plural === 'customresourcedefinitions') {
      const spec = obj.spec ?? {}
      const served = (spec.versions ?? []).find((v: {storage?: boolean}) => v.storage) ?? spec.versions?.[0]
      if (spec.group && spec.names?.plural && served) register(spec.group, served.name, spec.names.plural, spec.names.kind, spec.scope !== 'Cluster')
    }
    bucket(group, plural).set(`${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, stamp(obj))
    return obj
  }

  const objectsIn = (namespace: string) => {
    const out: {group: string; plural: string; obj: KubeObject}[] = []
    for (const [key, b] of store) {
      const i = key.indexOf('/')
      for (const obj of b.values()) if (obj.metadata.namespace === namespace) out.push({group: key.slice(0, i), plural: key.slice(i + 1), obj})
    }
    return out
  }

  /** Deletes one object the way the API server does: finalizers keep it with a deletionTimestamp. */
  const deleteStored = (group: string, plural: string, key: string): KubeObject | undefined => {
    const b = bucket(group, plural)
    const obj = b.get(key)
    if (!obj) return undefined
    if (plural === 'namespaces') {
      if (!obj.metadata.deletionTimestamp) {
        obj.metadata.deletionTimestamp = new Date().toISOString()
        obj.status = {...obj.status, phase: 'Terminating'}
        stamp(obj)
      }
      return obj
    }
    if ((obj.metadata.finalizers ?? []).length > 0) {
      obj.metadata.deletionTimestamp ??= new Date().toISOString()
      stamp(obj)
      return obj
    }
    b.delete(key)
    return obj
  }

  /** The namespace controller: empties Terminating namespaces and reports what blocks them. */
  const reconcile = () => {
    if (self) for (const controller of controllers) controller(self)
    for (const [key, b] of store) {
      const plural = key.slice(key.indexOf('/') + 1)
      for (const [k, obj] of b) if (obj.metadata.deletionTimestamp && plural !== 'namespaces' && (obj.metadata.finalizers ?? []).length === 0) b.delete(k)
    }
    const namespaces = bucket('', 'namespaces')
    for (const [key, ns] of namespaces) {
      if (!ns.metadata.deletionTimestamp) continue
      if (Date.now() - Date.parse(ns.metadata.deletionTimestamp) < terminationMs) continue
      for (const {group, plural, obj} of objectsIn(ns.metadata.name)) {
        deleteStored(group, plural, `${obj.metadata.namespace}/${obj.metadata.name}`)
      }
      const remaining = objectsIn(ns.metadata.name)
      const counts = new Map<string, number>()
      const finalizers = new Map<string, number>()
      for (const {group, plural, obj} of remaining) {
        const res = group ? `${plural}.${group}` : plural
        counts.set(res, (counts.get(res) ?? 0) + 1)
        for (const f of obj.metadata.finalizers ?? []) finalizers.set(f, (finalizers.get(f) ?? 0) + 1)
      }
      const now = new Date().toISOString()
      const condition = (type: string, has: boolean, reason: string, message: string) => ({
        type,
        status: has ? 'True' : 'False',
        lastTransitionTime: now,
        reason: has ? reason : 'ContentDeleted',
        message: has ? message : 'All content successfully deleted, may be waiting on finalization',
      })
      const contentMsg = [...counts].map(([r, n]) => `${r} has ${n} resource instances`).join(', ')
      const finalizerMsg = [...finalizers].map(([f, n]) => `${f} in ${n} resource instances`).join(', ')
      // An aggregated API whose backing Service is gone (e.g. KEDA's external metrics API after
      // KEDA was removed) makes discovery fail, and the controller never finishes the namespace.
      const unavailable = [...bucket('apiregistration.k8s.io', 'apiservices').values()].filter(
        (a) => a.spec?.service && !(a.status?.conditions ?? []).some((c: {type: string; status: string}) => c.type === 'Available' && c.status === 'True'),
      )
      const discoveryMsg = `Discovery failed for some groups, ${unavailable.length} failing: unable to retrieve the complete list of server APIs: ${unavailable.map((a) => `${a.spec.group}/${a.spec.version}: the server is currently unable to handle the request`).join(', ')}`
      ns.status = {
        phase: 'Terminating',
        conditions: [
          {
            ...condition('NamespaceDeletionDiscoveryFailure', unavailable.length > 0, 'DiscoveryFailed', discoveryMsg),
            ...(unavailable.length > 0 ? {} : {reason: 'ResourcesDiscovered', message: 'All resources successfully discovered'}),
          },
          condition('NamespaceContentRemaining', counts.size > 0, 'SomeResourcesRemain', `Some resources are remaining: ${contentMsg}`),
          condition(
            'NamespaceFinalizersRemaining',
            finalizers.size > 0,
            'SomeFinalizersRemain',
            `Some content in the namespace has finalizers remaining: ${finalizerMsg}`,
          ),
        ],
      }
      if (remaining.length === 0 && unavailable.length === 0) {
        // The controller's own finalizer goes once the content is gone; others (added by a
        // third party) keep the namespace until someone clears them through /finalize.
        ns.spec = {...ns.spec, finalizers: (ns.spec?.finalizers ?? []).filter((f: string) => f !== 'kubernetes')}
      }
      if ((ns.spec?.finalizers ?? []).length === 0) {
        // Like the API server: a deleted namespace with no finalizer left is gone at once, even if
        // content remains (cleared through /finalize) — that content is orphaned; the fake drops it.
        for (const {group, plural, obj} of remaining) bucket(group, plural).delete(`${obj.metadata.namespace}/${obj.metadata.name}`)
        namespaces.delete(key)
      }
    }
  }

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    res.writeHead(status, {'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', ...headers})
    res.end(text)
  }
  const status = (res: ServerResponse, code: number, reason: string, message: string) =>
    send(res, code, {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code})

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      let data = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => (data += c))
      req.on('end', () => resolve(data))
      req.on('error', reject)
    })

  const allowed = (verb: string, group: string, resource: string) =>
    allow === undefined ||
    allow.some((entry) => {
      const [v, g, r] = entry.split(':')
      return (v === '*' || v === verb) && (g === '*' || g === group) && (r === '*' || r === resource)
    })

  const groupsServed = () => {
    const groups = new Map<string, Set<string>>()
    for (const info of kinds.values()) if (info.group) (groups.get(info.group) ?? groups.set(info.group, new Set()).get(info.group)!).add(info.version)
    return groups
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake')
    const query = Object.fromEntries(url.searchParams)
    const text = await readBody(req)
    const contentType = req.headers['content-type']
    let body: unknown
    if (text && contentType?.includes('json')) {
      try {
        body = JSON.parse(text)
      } catch {
        return status(res, 400, 'BadRequest', 'the request body is not valid JSON')
      }
    }
    const method = req.method ?? 'GET'
    requests.push({method, path: url.pathname, query, contentType, body: body ?? (text || undefined)})
    const failure = failures.findIndex((f) => f.method === method && f.path.test(url.pathname))
    if (failure >= 0) {
      const [f] = failures.splice(failure, 1)
      return status(res, f!.status, f!.status === 500 ? 'InternalError' : 'Failure', f!.message ?? `injected failure for ${method} ${url.pathname}`)
    }
    reconcile()

    const path = url.pathname.replace(/\/$/, '')
    if (path === '/version')
      return send(res, 200, {...version, gitVersion: version.gitVersion ?? `v${version.major}.${version.minor}.0`, platform: 'linux/amd64'})
    if (path === '/api')
      return send(res, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}`}],
      })
    if (path === '/apis') {
      return send(res, 200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...groupsServed()].map(([name, vs]) => ({
          name,
          versions: [...vs].map((v) => ({groupVersion: `${name}/${v}`, version: v})),
          preferredVersion: {groupVersion: `${name}/${[...vs][0]}`, version: [...vs][0]},
        })),
      })
    }
    const groupOnly = /^\/apis\/([^/]+)$/.exec(path)
    if (groupOnly) {
      const vs = groupsServed().get(groupOnly[1]!)
      if (!vs) return status(res, 404, 'NotFound', 'the server could not find the requested resource')
      const first = [...vs][0]!
      return send(res, 200, {
        kind: 'APIGroup',
        apiVersion: 'v1',
        name: groupOnly[1],
        versions: [...vs].map((v) => ({groupVersion: `${groupOnly[1]}/${v}`, version: v})),
        preferredVersion: {groupVersion: `${groupOnly[1]}/${first}`, version: first},
      })
    }

    let group: string
    let version_: string
    let rest: string[]
    const m = /^\/api\/(v1)\/?(.*)$/.exec(path) ?? null
    const g = /^\/apis\/([^/]+)\/([^/]+)\/?(.*)$/.exec(path)
    if (m) {
      group = ''
      version_ = 'v1'
      rest = m[2] ? m[2].split('/').map(decodeURIComponent) : []
    } else if (g) {
      group = g[1]!
      version_ = g[2]!
      rest = g[3] ? g[3].split('/').map(decodeURIComponent) : []
    } else return status(res, 404, 'NotFound', 'the server could not find the requested resource')

    // Discovery (what kubectl and helm read to map kinds to resources).
    if (method === 'GET' && rest.length === 0) {
      const list = [...kinds].filter(([, i]) => i.group === group && i.version === version_)
      if (list.length === 0) return status(res, 404, 'NotFound', 'the server could not find the requested resource')
      const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']
      const resourcesList = list.flatMap(([key, i]) => {
        const plural = key.slice(key.indexOf('/') + 1)
        const main = {name: plural, singularName: i.kind.toLowerCase(), namespaced: i.namespaced, kind: i.kind, verbs}
        return plural === 'namespaces'
          ? [
              main,
              {name: 'namespaces/finalize', singularName: '', namespaced: false, kind: 'Namespace', verbs: ['update']},
              {name: 'namespaces/status', singularName: '', namespaced: false, kind: 'Namespace', verbs: ['get', 'patch', 'update']},
            ]
          : [main]
      })
      return send(res, 200, {kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version_}` : version_, resources: resourcesList})
    }

    // Service proxy: /api/v1/namespaces/<ns>/services/<name>[:<port>]/proxy/...
    if (group === '' && rest[0] === 'namespaces' && rest[2] === 'services' && rest[4] === 'proxy') {
      const [service, port] = rest[3]!.split(':')
      const ns = rest[1]!
      if (!bucket('', 'services').has(`${ns}/${service}`)) return status(res, 404, 'NotFound', `services "${service}" not found`)
      const handler = proxies.get(`${ns}/${service}`)
      if (!handler) return status(res, 503, 'ServiceUnavailable', `no endpoints available for service "${service}"`)
      const answer = await handler({
        method,
        namespace: ns,
        service: service!,
        port,
        path: `/${rest.slice(5).join('/')}`,
        query,
        headers: req.headers,
        body: text,
      })
      return send(res, answer.status ?? 200, answer.body ?? '', answer.headers)
    }

    // SelfSubjectAccessReview
    if (group === 'authorization.k8s.io' && rest[0] === 'selfsubjectaccessreviews' && method === 'POST') {
      const attrs = (body as {spec?: {resourceAttributes?: {verb?: string; group?: string; resource?: string}}})?.spec?.resourceAttributes ?? {}
      const ok = allowed(attrs.verb ?? '', attrs.group ?? '', attrs.resource ?? '')
      return send(res, 201, {...(body as object), status: {allowed: ok, ...(ok ? {} : {reason: 'not in the fake allow-list'})}})
    }

    let namespace: string | undefined
    let plural: string
    let name: string | undefined
    let sub: string | undefined
    if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && ['finalize', 'status'].includes(rest[2]!) && rest.length === 3)) {
      namespace = rest[1]
      plural = rest[2]!
      name = rest[3]
      sub = rest[4]
    } else {
      plural = rest[0] ?? ''
      name = rest[1]
      sub = rest[2]
    }
    const info = infoFor(group, plural)
    if (!info || info.version !== version_) return status(res, 404, 'NotFound', 'the server could not find the requested resource')
    if (info.namespaced === false && namespace !== undefined) return status(res, 404, 'NotFound', 'the server could not find the requested resource')
    const b = bucket(group, plural)
    const key = `${namespace ?? ''}/${name ?? ''}`
    const ref = group ? `${plural}.${group}` : plural
    const apiVersion = group ? `${group}/${version_}` : version_

    if (namespace !== undefined && method === 'POST' && plural !== 'namespaces') {
      const ns = bucket('', 'namespaces').get(`/${namespace}`)
      if (!ns) return status(res, 404, 'NotFound', `namespaces "${namespace}" not found`)
      if (ns.metadata.deletionTimestamp)
        return status(
          res,
          403,
          'Forbidden',
          `${ref} "${(body as KubeObject)?.metadata?.name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        )
    }

    if (!name) {
      if (method === 'GET') {
        const items = [...b.values()].filter(
          (o) =>
            (namespace === undefined || o.metadata.namespace === namespace) &&
            matchesSelector(o.metadata.labels ?? {}, query.labelSelector) &&
            matchesFields(o, query.fieldSelector),
        )
        return send(res, 200, {
          kind: `${info.kind}List`,
          apiVersion,
          metadata: {resourceVersion: String(rv)},
          items: items.map((o) => ({apiVersion, kind: info.kind, ...clone(o)})),
        })
      }
      if (method === 'POST') {
        const obj = clone(body as KubeObject)
        if (!obj?.metadata?.name) return status(res, 422, 'Invalid', `${info.kind} is invalid: metadata.name: Required value`)
        if (namespace !== undefined) obj.metadata.namespace = namespace
        const k = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`
        if (b.has(k)) return status(res, 409, 'AlreadyExists', `${ref} "${obj.metadata.name}" already exists`)
        delete obj.metadata.resourceVersion
        return send(res, 201, {apiVersion, kind: info.kind, ...clone(store_(group, plural, {apiVersion, kind: info.kind, ...obj}))})
      }
      return status(res, 405, 'MethodNotAllowed', `${method} is not supported on a collection here`)
    }

    const current = b.get(key)
    if (!current) return status(res, 404, 'NotFound', `${ref} "${name}" not found`)

    if (plural === 'namespaces' && sub === 'finalize') {
      if (method !== 'PUT') return status(res, 405, 'MethodNotAllowed', 'finalize takes PUT')
      current.spec = {...current.spec, finalizers: (body as KubeObject)?.spec?.finalizers ?? []}
      stamp(current)
      reconcile()
      return send(res, 200, clone(current))
    }
    if (sub && sub !== 'status') return status(res, 404, 'NotFound', `subresource ${sub} is not served by the fake`)

    switch (method) {
      case 'GET':
        return send(res, 200, {apiVersion, kind: info.kind, ...clone(current)})
      case 'PUT': {
        const obj = clone(body as KubeObject)
        if (obj.metadata?.resourceVersion && obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
          return status(
            res,
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${ref} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          )
        }
        const next: KubeObject =
          sub === 'status'
            ? {...current, status: obj.status}
            : {
                ...obj,
                metadata: {
                  ...obj.metadata,
                  uid: current.metadata.uid,
                  creationTimestamp: current.metadata.creationTimestamp,
                  deletionTimestamp: current.metadata.deletionTimestamp,
                  namespace: current.metadata.namespace,
                },
              }
        if (plural === 'namespaces') next.status = current.status
        b.set(key, stamp(next))
        return send(res, 200, {apiVersion, kind: info.kind, ...clone(next)})
      }
      case 'PATCH': {
        if (!contentType?.includes('merge-patch+json') && !contentType?.includes('strategic-merge-patch+json')) {
          return status(res, 415, 'UnsupportedMediaType', `the fake only serves merge patches, got ${contentType ?? 'no Content-Type'}`)
        }
        const next = applyMergePatch(current, body) as KubeObject
        next.metadata.name = current.metadata.name
        if (next.metadata.finalizers === undefined || (Array.isArray(next.metadata.finalizers) && next.metadata.finalizers.length === 0))
          delete next.metadata.finalizers
        b.set(key, stamp(next))
        reconcile()
        return send(res, 200, {apiVersion, kind: info.kind, ...clone(b.get(key) ?? next)})
      }
      case 'DELETE': {
        const deleted = deleteStored(group, plural, key)
        reconcile()
        return send(res, 200, {apiVersion, kind: info.kind, ...clone(deleted!)})
      }
      default:
        return status(res, 405, 'MethodNotAllowed', `${method} is not supported`)
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) status(res, 500, 'InternalError', error instanceof Error ? error.message : String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const url = `http://127.0.0.1:${port}`

  self = {
    url,
    port,
    requests,
    put(obj) {
      const {group, plural} = locate(obj.apiVersion ?? 'v1', obj.kind ?? '')
      if (!infoFor(group, plural)) {
        const {version} = splitApiVersion(obj.apiVersion ?? 'v1')
        register(group, version, plural, obj.kind ?? '', obj.metadata.namespace !== undefined)
      }
      return clone(store_(group, plural, clone(obj)))
    },
    get(apiVersion, kind, name, namespace) {
      const {group, plural} = locate(apiVersion, kind)
      const obj = bucket(group, plural).get(`${namespace ?? ''}/${name}`)
      return obj ? clone(obj) : undefined
    },
    list(apiVersion, kind, namespace) {
      const {group, plural} = locate(apiVersion, kind)
      return [...bucket(group, plural).values()].filter((o) => namespace === undefined || o.metadata.namespace === namespace).map(clone)
    },
    remove(apiVersion, kind, name, namespace) {
      const {group, plural} = locate(apiVersion, kind)
      bucket(group, plural).delete(`${namespace ?? ''}/${name}`)
    },
    setAllow(next) {
      allow = next
    },
    setProxy(namespace, service, handler) {
      const fn: ProxyHandler = typeof handler === 'function' ? handler : (r) => handler[r.path] ?? {status: 404, body: `404 page not found: ${r.path}`}
      proxies.set(`${namespace}/${service}`, fn)
    },
    reconcile,
    onReconcile(controller) {
      controllers.push(controller)
    },
    failNext(f) {
      failures.push(f)
    },
    writeKubeconfig: (dir) => writeKubeconfig(dir, {url}),
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return self
}

/**
 * Writes a kubeconfig whose current context (`fake`) points at the fake API and returns its path.
 * `insecure-skip-tls-verify` is required: client-node refuses plain http:// servers without it.
 */
export function writeKubeconfig(dir: string, api: Pick<FakeKubeApi, 'url'>, contextName = 'fake'): string {
  mkdirSync(dir, {recursive: true})
  const path = join(dir, 'kubeconfig')
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: ${contextName}`,
      '  cluster:',
      `    server: ${api.url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      `- name: ${contextName}-user`,
      '  user:',
      '    token: fake-token',
      'contexts:',
      `- name: ${contextName}`,
      '  context:',
      `    cluster: ${contextName}`,
      `    user: ${contextName}-user`,
      `current-context: ${contextName}`,
      '',
    ].join('\n'),
  )
  return path
}

/** Mutable answers of a seeded lab: tests change them to break one thing at a time. */
export interface LabControls {
  namespace: string
  monitoringNamespace: string
  /** Prometheus `/api/v1/targets` activeTargets. */
  targets: {labels: Record<string, string>; scrapePool: string; health: string; lastError: string}[]
  /** Prometheus `/api/v1/rules` groups (alerting rules). */
  ruleGroups: {name: string; file: string; rules: {name: string; type: 'alerting'; health: string; lastError?: string}[]}[]
  /** Grafana's admin password (what /login accepts) — the Secret holds `grafanaSecretPassword`. */
  grafanaPassword: string
  /** Grafana datasources and the answer of each one's health endpoint. */
  datasources: {uid: string; name: string; type: string; health: {status: number; body: unknown}}[]
  /** Loki query_range streams for `{namespace="<ns>"}`. */
  lokiStreams: {stream: Record<string, string>; values: [string, string][]}[]
  /** The LogQL queries Loki received. */
  lokiQueries: Record<string, string>[]
}

/**
 * Seeds the fake with a healthy keda-lab install: namespaces, KEDA's CRD, the worker's Ready
 * ScaledObject, the app Deployments, the Secrets, and the monitoring Services whose proxied
 * answers (Prometheus, Grafana, Loki) come from the returned controls.
 */
export function seedLab(
  api: FakeKubeApi,
  options: {namespace?: string; monitoringNamespace?: string; telegramToken?: string; grafanaPassword?: string; alerts?: string[]} = {},
): LabControls {
  const ns = options.namespace ?? 'keda'
  const mon = options.monitoringNamespace ?? 'keda-monitoring'
  const password = options.grafanaPassword ?? 'grafana-admin-pw'
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const partOf = {'app.kubernetes.io/part-of': 'keda-lab', 'app.kubernetes.io/instance': 'keda-lab'}
  api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: ns}})
  api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: mon}})
  api.put({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: 'scaledobjects.keda.sh',
      labels: {'app.kubernetes.io/part-of': 'keda-operator'},
      annotations: {'meta.helm.sh/release-name': 'keda', 'meta.helm.sh/release-namespace': ns},
    },
    spec: {
      group: 'keda.sh',
      scope: 'Namespaced',
      names: {plural: 'scaledobjects', kind: 'ScaledObject'},
      versions: [{name: 'v1alpha1', served: true, storage: true}],
    },
  })
  api.put({
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: {name: 'keda-lab-worker', namespace: ns, labels: {...partOf, 'app.kubernetes.io/component': 'worker'}, finalizers: ['finalizer.keda.sh']},
    status: {
      conditions: [
        {type: 'Ready', status: 'True', reason: 'ScaledObjectReady', message: 'ScaledObject is defined correctly and is ready for scaling'},
        {type: 'Active', status: 'False', reason: 'ScalerNotActive', message: 'Scaling is not performed because triggers are not active'},
        {type: 'Fallback', status: 'False', reason: 'NoFallbackFound', message: 'No fallbacks are active on this scaled object'},
      ],
    },
  })
  for (const component of ['api', 'worker', 'webhook']) {
    api.put({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: `keda-lab-${component}`, namespace: ns, labels: {...partOf, 'app.kubernetes.io/component': component}},
      spec: {replicas: 1},
      status: {readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1},
    })
  }
  // metrics-server's API and the API's HPA reading CPU from it.
  api.put({
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: {name: 'v1beta1.metrics.k8s.io'},
    spec: {group: 'metrics.k8s.io', version: 'v1beta1', service: {namespace: 'kube-system', name: 'metrics-server', port: 443}},
    status: {conditions: [{type: 'Available', status: 'True', reason: 'Passed', message: 'all checks passed'}]},
  })
  api.put({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {name: 'keda-lab-api', namespace: ns, labels: {...partOf, 'app.kubernetes.io/component': 'api'}},
    spec: {
      scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name: 'keda-lab-api'},
      minReplicas: 1,
      maxReplicas: 5,
      metrics: [{type: 'Resource', resource: {name: 'cpu', target: {type: 'Utilization', averageUtilization: 70}}}],
    },
    status: {
      currentReplicas: 1,
      desiredReplicas: 1,
      currentMetrics: [{type: 'Resource', resource: {name: 'cpu', current: {averageUtilization: 12, averageValue: '12m'}}}],
      conditions: [{type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'the HPA was able to compute the replica count'}],
    },
  })
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {name: 'keda-lab-secrets', namespace: ns},
    data: {'redis-password': b64('redis-pw'), 'telegram-bot-token': b64(options.telegramToken ?? ''), 'webhook-token': b64('webhook-tok')},
  })
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {name: 'keda-lab-grafana', namespace: mon},
    data: {'admin-user': b64('admin'), 'admin-password': b64(password)},
  })
  for (const [name, port] of [
    ['kube-prometheus-stack-prometheus', 9090],
    ['kube-prometheus-stack-grafana', 80],
    ['loki', 3100],
  ] as const) {
    api.put({apiVersion: 'v1', kind: 'Service', metadata: {name, namespace: mon}, spec: {ports: [{port}]}})
  }

  const controls: LabControls = {
    namespace: ns,
    monitoringNamespace: mon,
    targets: ['api', 'worker', 'webhook'].map((c) => ({
      labels: {namespace: ns, component: c, service: `keda-lab-${c}-metrics`, job: `keda-lab-${c}-metrics`, pod: `keda-lab-${c}-abc`},
      scrapePool: `serviceMonitor/${ns}/keda-lab-${c}/0`,
      health: 'up',
      lastError: '',
    })),
    ruleGroups: [
      {
        name: 'keda-lab.all',
        file: `/etc/prometheus/rules/prometheus-kube-prometheus-stack-prometheus-rulefiles-0/${ns}-keda-lab-0000.yaml`,
        rules: (options.alerts ?? ['KedaLabWorkersAtMax']).map((name) => ({name, type: 'alerting', health: 'ok'})),
      },
    ],
    grafanaPassword: password,
    datasources: [
      {
        uid: 'prometheus',
        name: 'Prometheus',
        type: 'prometheus',
        health: {status: 200, body: {status: 'OK', message: 'Successfully queried the Prometheus API.'}},
      },
      {uid: 'loki', name: 'Loki', type: 'loki', health: {status: 200, body: {status: 'OK', message: 'Data source successfully connected.'}}},
    ],
    lokiStreams: [{stream: {namespace: ns, component: 'api', pod: 'keda-lab-api-abc'}, values: [[`${Date.now()}000000`, '{"level":30,"msg":"task queued"}']]}],
    lokiQueries: [],
  }

  api.setProxy(mon, 'kube-prometheus-stack-prometheus', (r) => {
    if (r.path === '/api/v1/targets') return {body: {status: 'success', data: {activeTargets: controls.targets, droppedTargets: []}}}
    if (r.path === '/api/v1/rules') return {body: {status: 'success', data: {groups: controls.ruleGroups}}}
    return {status: 404, body: '404 page not found'}
  })
  const session = 'grafana_session=s3ss10n'
  api.setProxy(mon, 'kube-prometheus-stack-grafana', (r) => {
    if (r.path === '/login' && r.method === 'POST') {
      const creds = JSON.parse(r.body || '{}') as {user?: string; password?: string}
      if (creds.user !== 'admin' || creds.password !== controls.grafanaPassword) return {status: 401, body: {message: 'Invalid username or password'}}
      return {body: {message: 'Logged in'}, headers: {'Set-Cookie': [`${session}; Path=/; HttpOnly; SameSite=Lax`]}}
    }
    if (!(r.headers.cookie ?? '').includes(session)) return {status: 401, body: {message: 'Unauthorized'}}
    if (r.path === '/api/datasources') return {body: controls.datasources.map(({health: _h, ...d}) => d)}
    const m = /^\/api\/datasources\/uid\/([^/]+)\/health$/.exec(r.path)
    const ds = m && controls.datasources.find((d) => d.uid === m[1])
    if (ds) return {status: ds.health.status, body: ds.health.body}
    return {status: 404, body: {message: 'Not found'}}
  })
  api.setProxy(mon, 'loki', (r) => {
    if (r.path !== '/loki/api/v1/query_range') return {status: 404, body: '404 page not found'}
    controls.lokiQueries.push(r.query)
    const matches = r.query.query === `{namespace="${ns}"}`
    return {body: {status: 'success', data: {resultType: 'streams', result: matches ? controls.lokiStreams : []}}}
  })
  return controls
}

/**
 * Stores a Helm release the way Helm 3 and 4 do (Secret `sh.helm.release.v1.<name>.v<revision>`,
 * type helm.sh/release.v1, labels owner=helm/name/status/version, `release` = base64(gzip(JSON)))
 * and the objects of its manifest (with Helm's ownership annotations), so that the REAL `helm list`
 * and `helm uninstall` work against the fake.
 */
export function putHelmRelease(
  api: FakeKubeApi,
  release: {name: string; namespace: string; chart: string; version: string; status?: string; objects?: KubeObject[]},
): void {
  const objects = (release.objects ?? []).map((o) => ({
    ...o,
    metadata: {
      ...o.metadata,
      labels: {'app.kubernetes.io/managed-by': 'Helm', ...o.metadata.labels},
      annotations: {'meta.helm.sh/release-name': release.name, 'meta.helm.sh/release-namespace': release.namespace, ...o.metadata.annotations},
    },
  }))
  const now = new Date().toISOString()
  const manifest = objects.map((o) => `---\n# Source: ${release.chart}/templates/${(o.kind ?? '').toLowerCase()}.yaml\n${stringify(o)}`).join('')
  const record = {
    name: release.name,
    namespace: release.namespace,
    version: 1,
    info: {status: release.status ?? 'deployed', first_deployed: now, last_deployed: now, description: 'Install complete'},
    chart: {metadata: {apiVersion: 'v2', name: release.chart, version: release.version, appVersion: release.version}},
    manifest,
  }
  const encoded = gzipSync(Buffer.from(JSON.stringify(record))).toString('base64')
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'helm.sh/release.v1',
    metadata: {
      name: `sh.helm.release.v1.${release.name}.v1`,
      namespace: release.namespace,
      labels: {name: release.name, owner: 'helm', status: release.status ?? 'deployed', version: '1'},
    },
    data: {release: Buffer.from(encoded).toString('base64')},
  })
  for (const o of objects) api.put(o)
}
