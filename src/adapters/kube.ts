/**
 * The Kubernetes edge: everything keda-lab asks the cluster through @kubernetes/client-node.
 * Commands and checks get a `Kube` passed in; tests point it at a loopback fake API server.
 *
 * The interface below is the contract shared by install pre-flight (src/lab/install),
 * doctor, uninstall and status. Extend it here (one method per question asked of the cluster);
 * never call client-node from anywhere else.
 */
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {delimiter, join} from 'node:path'

import {KedaLabError} from '../errors.js'

/** Where createKube finds the cluster. */
export interface KubeOptions {
  /** kubeconfig context; default: the current context. */
  context?: string
  /** Path of the kubeconfig; default: $KUBECONFIG or ~/.kube/config (client-node's loadFromDefault). */
  kubeconfig?: string
  /** Per-request timeout in milliseconds for raw requests (proxy, generic objects); default 15 s. */
  requestTimeoutMs?: number
  /** Retries of 429 and 5xx answers (default DEFAULT_RETRY). */
  retry?: RetryPolicy
}

/** A node's allocatable resources (install's capacity check) and labels (cluster kind). */
export interface NodeInfo {
  name: string
  /** Allocatable CPU in millicores. */
  cpuMillis: number
  /** Allocatable memory in bytes. */
  memoryBytes: number
  labels: Record<string, string>
}

/** A StorageClass and whether it is the default (persistence needs one). */
export interface StorageClassInfo {
  name: string
  provisioner: string
  isDefault: boolean
}

/** A status condition as the API returns it (namespaces, ScaledObjects, APIServices...). */
export interface KubeCondition {
  type: string
  status: string
  reason?: string
  message?: string
}

/** What keda-lab needs to know about a namespace. */
export interface NamespaceInfo {
  name: string
  /** 'Active' or 'Terminating'. */
  phase: string
  labels: Record<string, string>
  /** Set once deletion was requested. */
  deletionTimestamp?: string
  /** `spec.finalizers` (e.g. 'kubernetes'), cleared through the /finalize subresource. */
  specFinalizers: string[]
  /** `status.conditions`, e.g. NamespaceContentRemaining, NamespaceFinalizersRemaining. */
  conditions: KubeCondition[]
}

/**
 * Any resource, addressed by API group, version and plural. `group: ''` is the core group;
 * `version` may be left out, it is then discovered (the group's preferred version).
 */
export interface ResourceRef {
  group: string
  version?: string
  plural: string
  /** Namespace for namespaced resources; leave out for cluster-scoped ones or to list across all namespaces. */
  namespace?: string
}

/** The metadata of an object, plus its status conditions when it has some. */
export interface ObjectSummary {
  name: string
  namespace?: string
  kind?: string
  labels: Record<string, string>
  annotations: Record<string, string>
  finalizers: string[]
  deletionTimestamp?: string
  conditions: KubeCondition[]
}

/** A core/v1 Event, e.g. KEDA's `KEDAScalerFailed` warnings on a ScaledObject. */
export interface EventInfo {
  /** 'Normal' or 'Warning'. */
  type: string
  reason: string
  message: string
  count: number
  /** When it last happened (ISO), if the API said. */
  lastTimestamp?: string
  involvedKind?: string
  involvedName?: string
}

/** A request sent through the API server's service proxy. */
export interface ServiceProxyRequest {
  namespace: string
  service: string
  /** Port name or number; default: the service's first port. */
  port?: string | number
  method?: 'GET' | 'POST'
  /** Path on the service, e.g. '/api/v1/targets'. */
  path: string
  query?: Record<string, string>
  headers?: Record<string, string>
  body?: string
}

/** The proxied Service's answer, as is (status, headers, body text). */
export interface ServiceProxyResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** Everything keda-lab asks the cluster; one method per question. */
export interface Kube {
  /** The context actually used and the API server's URL (for messages). */
  readonly contextName: string
  readonly server: string
  serverVersion(): Promise<{major: number; minor: number; gitVersion: string}>
  listNodes(): Promise<NodeInfo[]>
  /** SelfSubjectAccessReview: may the current user do `verb` on `resource` (group '' = core)? */
  canI(verb: string, group: string, resource: string, namespace?: string): Promise<boolean>
  listStorageClasses(): Promise<StorageClassInfo[]>
  /** Names of the CustomResourceDefinitions present, e.g. 'scaledobjects.keda.sh'. */
  listCrdNames(): Promise<string[]>
  /** Is the APIService (e.g. 'v1beta1.metrics.k8s.io') registered and Available? */
  apiServiceAvailable(name: string): Promise<boolean>
  /** Creates the namespace when missing (idempotent). */
  ensureNamespace(name: string, labels?: Record<string, string>): Promise<void>
  /** A Secret's decoded string data, or undefined when it does not exist. */
  getSecretData(namespace: string, name: string): Promise<Record<string, string> | undefined>
  /** Creates or replaces an Opaque Secret with these string values. */
  applySecret(namespace: string, name: string, data: Record<string, string>, labels?: Record<string, string>): Promise<void>

  /** The namespace, or undefined when it does not exist (any more). */
  getNamespace(name: string): Promise<NamespaceInfo | undefined>
  /** Requests deletion of the namespace; false when it was already gone. */
  deleteNamespace(name: string): Promise<boolean>
  /** Namespaces currently in phase Terminating. */
  listTerminatingNamespaces(): Promise<NamespaceInfo[]>
  /** Replaces the namespace's `spec.finalizers` through the /finalize subresource (what `--force` does). */
  finalizeNamespace(name: string, finalizers: string[]): Promise<void>
  /** Lists objects of any resource, optionally filtered by a label selector. A resource the cluster does not serve lists as []. */
  listObjects(ref: ResourceRef, labelSelector?: string): Promise<ObjectSummary[]>
  /** Deletes one object; false when it was already gone. */
  deleteObject(ref: ResourceRef, name: string): Promise<boolean>
  /** JSON merge patch (RFC 7386) of one object, e.g. `{metadata: {finalizers: null}}`. */
  mergePatchObject(ref: ResourceRef, name: string, patch: unknown): Promise<void>
  /** Sends one HTTP request to a Service through the API server's service proxy. */
  proxyService(request: ServiceProxyRequest): Promise<ServiceProxyResponse>
  /** Events in a namespace, optionally only those about one object (field selector on involvedObject). */
  listEvents(namespace: string, involvedObject?: {kind?: string; name?: string}): Promise<EventInfo[]>
  /**
   * Added by the install owner (rollout wait after the app release):
   * the Deployments in `namespace` (optionally filtered by a label selector) with their rollout counters,
   * read from `apps/v1` Deployment `.spec.replicas` and `.status`.
   */
  listDeployments(namespace: string, labelSelector?: string): Promise<DeploymentInfo[]>
  /** Services of type LoadBalancer (all namespaces, or one) and the addresses the cluster gave them. */
  listLoadBalancers(namespace?: string): Promise<LoadBalancerInfo[]>
  /** Added for `status`: the Deployments, StatefulSets and DaemonSets of a namespace (desired/ready pods, images). */
  listWorkloads(namespace: string): Promise<WorkloadInfo[]>
  /** Added for `status` and `tunnel`: the pods of a namespace, optionally filtered by a label selector. */
  listPods(namespace: string, labelSelector?: string): Promise<PodInfo[]>
  /** Added for `status`: the autoscaling/v2 HorizontalPodAutoscalers of a namespace (KEDA's included). */
  listHpas(namespace: string): Promise<HpaInfo[]>
  /** Added for `status`: KEDA ScaledObjects of a namespace with spec and status; [] when KEDA's CRD is not served. */
  listScaledObjects(namespace: string): Promise<ScaledObjectInfo[]>
  /** Added for `tunnel`: one Service (selector and ports), or undefined when it does not exist. */
  getService(namespace: string, name: string): Promise<ServiceInfo | undefined>
  /**
   * Added for `tunnel`: forwards one TCP connection (`socket`) to `port` of a pod through the API
   * server (client-node's PortForward, one WebSocket per connection). Resolves once the WebSocket
   * is open; rejects when it cannot be opened (pod gone, no permission, node unreachable).
   */
  forwardPort(namespace: string, pod: string, port: number, socket: import('node:stream').Duplex): Promise<PortForwardConnection>
}

/** A Deployment, StatefulSet or DaemonSet as `status` shows it. */
export interface WorkloadInfo {
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet'
  name: string
  labels: Record<string, string>
  /** `.spec.replicas` (DaemonSet: desiredNumberScheduled). */
  desired: number
  /** `.status.readyReplicas` (DaemonSet: numberReady), 0 when absent. */
  ready: number
  /** The pod template's container images, in order. */
  images: string[]
  /** The pod template's container names, in the same order. */
  containers: string[]
  /** `.spec.selector.matchLabels`. */
  selector: Record<string, string>
}

/** A pod as `status` and `tunnel` need it. */
export interface PodInfo {
  name: string
  labels: Record<string, string>
  phase: string
  /** The pod's Ready condition is True. */
  ready: boolean
  /** Restarts of all its containers. */
  restarts: number
  images: string[]
  /** Declared container ports (to resolve a Service's named targetPort). */
  ports: {name?: string; containerPort: number}[]
  /** Set once deletion was requested. */
  deleting: boolean
  createdAt?: string
}

/** An autoscaling/v2 HorizontalPodAutoscaler. */
export interface HpaInfo {
  name: string
  labels: Record<string, string>
  targetKind: string
  targetName: string
  minReplicas: number
  maxReplicas: number
  currentReplicas: number
  desiredReplicas: number
  /** When it last changed the replica count (ISO). */
  lastScaleTime?: string
  /** CPU utilisation (percent of requests) now and its target, when the HPA scales on CPU. */
  cpu?: {currentPercent?: number; targetPercent?: number}
  conditions: KubeCondition[]
}

/** A KEDA ScaledObject: what it scales, its bounds, and KEDA's status. */
export interface ScaledObjectInfo {
  name: string
  labels: Record<string, string>
  annotations: Record<string, string>
  targetName: string
  minReplicaCount?: number
  maxReplicaCount?: number
  pollingInterval?: number
  cooldownPeriod?: number
  /** `advanced.scalingModifiers` (formula and target), when set. */
  scalingModifiers?: {formula?: string; target?: string}
  triggers: {type: string; name?: string; metadata: Record<string, string>}[]
  /** `.status.hpaName`: the HPA KEDA created for it. */
  hpaName?: string
  lastActiveTime?: string
  conditions: KubeCondition[]
}

/** A Service: selector and ports. */
export interface ServiceInfo {
  name: string
  type: string
  selector: Record<string, string>
  ports: {name?: string; port: number; targetPort?: number | string}[]
}

/** One forwarded connection; `closed` settles when either side ends it, with the remote error text if any. */
export interface PortForwardConnection {
  closed: Promise<{error?: string}>
  close(): void
}

/** A LoadBalancer Service and its `.status.loadBalancer.ingress` addresses (empty: <pending>). */
export interface LoadBalancerInfo {
  namespace: string
  name: string
  addresses: string[]
}

/** A Deployment's rollout state (`keda-lab install` waits until every one is fully rolled out). */
export interface DeploymentInfo {
  name: string
  /** `.spec.replicas` (desired). */
  replicas: number
  /** `.status.readyReplicas`, 0 when absent. */
  readyReplicas: number
  /** `.status.updatedReplicas`, 0 when absent. */
  updatedReplicas: number
  /** `.status.availableReplicas`, 0 when absent. */
  availableReplicas: number
}

/** Well-known resources, so callers do not spell group/version/plural by hand. */
export const resources = {
  namespaces: {group: '', version: 'v1', plural: 'namespaces'},
  pods: {group: '', version: 'v1', plural: 'pods'},
  deployments: {group: 'apps', version: 'v1', plural: 'deployments'},
  services: {group: '', version: 'v1', plural: 'services'},
  secrets: {group: '', version: 'v1', plural: 'secrets'},
  persistentVolumeClaims: {group: '', version: 'v1', plural: 'persistentvolumeclaims'},
  clusterRoles: {group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles'},
  clusterRoleBindings: {group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings'},
  crds: {group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions'},
  mutatingWebhooks: {group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations'},
  validatingWebhooks: {group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations'},
  apiServices: {group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices'},
  scaledObjects: {group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects'},
} as const satisfies Record<string, ResourceRef>

/** CPU quantity ('4', '3800m', '0.5') to millicores. */
export function parseCpuMillis(quantity: string | undefined): number {
  if (!quantity) return 0
  if (quantity.endsWith('m')) return Number.parseInt(quantity, 10)
  if (quantity.endsWith('n')) return Math.floor(Number.parseInt(quantity, 10) / 1e6)
  return Math.round(Number.parseFloat(quantity) * 1000)
}

const memoryUnits: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  m: 1e-3,
}

/** Memory quantity ('16318948Ki', '8Gi', '1e9', '512M') to bytes. */
export function parseMemoryBytes(quantity: string | undefined): number {
  if (!quantity) return 0
  const match = /^([0-9.]+(?:e[0-9]+)?)([A-Za-z]*)$/.exec(quantity.trim())
  if (!match) return 0
  const unit = match[2] ?? ''
  return Math.round(Number.parseFloat(match[1]!) * (unit === '' ? 1 : (memoryUnits[unit] ?? 1)))
}

/** The HTTP status of a client-node ApiException (or of our raw-request errors), if any. */
export function httpStatusOf(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof (error as {code: unknown}).code === 'number') {
    return (error as {code: number}).code
  }
  return undefined
}

/** How the adapter retries the API server's transient answers. */
export interface RetryPolicy {
  /** Attempts in all, the first included; default 7. */
  attempts: number
  /** First back-off in ms, doubled each time; default 250. */
  baseMs: number
  /** Longest single wait in ms (a larger Retry-After is capped to it); default 8000. */
  maxMs: number
}

export const DEFAULT_RETRY: RetryPolicy = {attempts: 7, baseMs: 250, maxMs: 8000}

/**
 * Is this answer worth another try? 429 (e.g. "storage is (re)initializing" right after an API
 * server starts, or priority-and-fairness throttling) and 5xx from the API server itself.
 */
export function isTransient(error: unknown): boolean {
  const status = httpStatusOf(error)
  return status === 429 || (status !== undefined && status >= 500 && status <= 599)
}

/** The Retry-After of an ApiException (or of our raw errors), in ms, when the API server sent one. */
export function retryAfterMs(error: unknown): number | undefined {
  const headers = error && typeof error === 'object' && 'headers' in error ? (error as {headers: unknown}).headers : undefined
  if (!headers || typeof headers !== 'object') return undefined
  const value = (headers as Record<string, unknown>)['retry-after'] ?? (headers as Record<string, unknown>)['Retry-After']
  const seconds = Number(Array.isArray(value) ? value[0] : value)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}

/**
 * Runs `call`, retrying transient API answers with exponential back-off (honouring Retry-After,
 * capped). Anything else — and the last transient answer — is thrown as is.
 */
export async function withRetry<T>(
  call: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call()
    } catch (error) {
      if (attempt >= policy.attempts || !isTransient(error)) throw error
      const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1))
      await sleep(Math.min(policy.maxMs, retryAfterMs(error) ?? backoff))
    }
  }
}

/** The API server's own message from an ApiException body (a Status object, raw or parsed). */
function apiMessage(error: unknown): string {
  if (error && typeof error === 'object' && 'body' in error) {
    let body = (error as {body: unknown}).body
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body)
      } catch {
        return (body as string).slice(0, 300)
      }
    }
    if (body && typeof body === 'object' && 'message' in body) return String((body as {message: unknown}).message)
  }
  if (error instanceof Error) {
    const cause = (error as Error & {cause?: unknown}).cause
    const code = cause && typeof cause === 'object' && 'code' in cause ? ` (${String((cause as {code: unknown}).code)})` : ''
    return error.message.split('\n')[0] + code
  }
  return String(error)
}

/**
 * Throws a clear error when there is no kubeconfig to load: KUBECONFIG unset (or naming no existing
 * file) and no ~/.kube/config, outside a cluster (no service account token).
 */
function assertKubeconfigExists(env: NodeJS.ProcessEnv): void {
  const getCluster =
    'Create a cluster, which writes ~/.kube/config: `minikube start --cpus 4 --memory 8g` (or `kind create cluster`); for an existing cluster, set KUBECONFIG to its kubeconfig file. ' +
    'No cluster needed: `keda-lab dev` runs the lab on this machine and `keda-lab render` writes its manifests.'
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter(Boolean)
    if (files.some((file) => existsSync(file))) return
    throw new KedaLabError(`No kubeconfig found: KUBECONFIG is set to ${env.KUBECONFIG}, but no such file exists`, {hint: getCluster})
  }
  const path = join(env.HOME || homedir(), '.kube', 'config')
  if (existsSync(path) || existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) return
  throw new KedaLabError(`No kubeconfig found: KUBECONFIG is not set and ${path} does not exist, so there is no cluster to talk to`, {hint: getCluster})
}

/** Builds a Kube on @kubernetes/client-node from the kubeconfig (imported only here, only when needed). */
export async function createKube(options: KubeOptions = {}): Promise<Kube> {
  const k8s = await import('@kubernetes/client-node')
  const http = await import('node:http')
  const https = await import('node:https')

  const kc = new k8s.KubeConfig()
  // Without any kubeconfig client-node silently falls back to http://localhost:8080; say so instead.
  if (!options.kubeconfig) assertKubeconfigExists(process.env)
  try {
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig)
    else kc.loadFromDefault()
  } catch (error) {
    throw new KedaLabError(`Cannot read the kubeconfig${options.kubeconfig ? ` ${options.kubeconfig}` : ''}: ${apiMessage(error)}`, {
      hint: 'Point KUBECONFIG at a valid kubeconfig (e.g. `minikube start` writes ~/.kube/config).',
    })
  }
  if (options.context) {
    if (!kc.getContexts().some((c) => c.name === options.context)) {
      const known = kc.getContexts().map((c) => c.name)
      throw new KedaLabError(`kubeconfig context "${options.context}" does not exist`, {
        hint: known.length > 0 ? `Use one of: ${known.join(', ')} (kubectl config get-contexts).` : 'Create a cluster first, e.g. `minikube start`.',
      })
    }
    kc.setCurrentContext(options.context)
  }
  const cluster = kc.getCurrentCluster()
  if (!cluster) {
    throw new KedaLabError('No Kubernetes cluster is configured (the kubeconfig has no current context)', {
      hint: 'Start a cluster (`minikube start` or `kind create cluster`) or pass --context / set KUBECONFIG.',
    })
  }
  const server = cluster.server
  const contextName = kc.getCurrentContext()
  const timeoutMs = options.requestTimeoutMs ?? 15_000

  const core = kc.makeApiClient(k8s.CoreV1Api)
  const version = kc.makeApiClient(k8s.VersionApi)
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api)
  const storage = kc.makeApiClient(k8s.StorageV1Api)
  const apiext = kc.makeApiClient(k8s.ApiextensionsV1Api)
  const apireg = kc.makeApiClient(k8s.ApiregistrationV1Api)
  const apps = kc.makeApiClient(k8s.AppsV1Api)
  const autoscaling = kc.makeApiClient(k8s.AutoscalingV2Api)
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)

  /** Turns a failed call into one line naming what was asked and what the API server said. */
  const fail = (what: string, error: unknown): never => {
    const status = httpStatusOf(error)
    if (status === 401 || status === 403) {
      throw new KedaLabError(`Not allowed to ${what} on ${server}: ${apiMessage(error)}`, {
        hint: 'Use a kubeconfig context with cluster-admin rights (kubectl auth can-i --list).',
        cause: error,
      })
    }
    if (status === undefined) {
      throw new KedaLabError(`Cannot reach the Kubernetes API at ${server} (context ${contextName}) to ${what}: ${apiMessage(error)}`, {
        hint: 'Check that the cluster is running (`kubectl cluster-info`; `minikube status`) or pick another --context.',
        cause: error,
      })
    }
    throw new KedaLabError(`Kubernetes API error ${status} while trying to ${what}: ${apiMessage(error)}`, {cause: error})
  }

  /** Runs a call; a 404 becomes `undefined`, anything else goes through `fail`. */
  const retry = options.retry ?? DEFAULT_RETRY
  /** Every call to the API server goes through here: transient answers are retried. */
  const api = <T>(call: () => Promise<T>) => withRetry(call, retry)
  const orNotFound = async <T>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await api(call)
    } catch (error) {
      if (httpStatusOf(error) === 404) return undefined
      return fail(what, error)
    }
  }
  const must = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await api(call)
    } catch (error) {
      return fail(what, error)
    }
  }

  /**
   * A raw request authenticated by client-node's KubeConfig (tokens, client certificates, exec
   * plugins all apply). Used where the generated clients do not fit: the service proxy (whose
   * generated call URL-encodes the slashes of the path) and resources addressed generically.
   */
  const raw = async (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<ServiceProxyResponse> => {
    const url = new URL(server.replace(/\/$/, '') + path)
    const opts: import('node:https').RequestOptions = {method, headers: {Accept: 'application/json', ...headers}}
    await kc.applyToHTTPSOptions(opts)
    opts.headers = {...(opts.headers as Record<string, string>), Accept: 'application/json', ...headers}
    const lib = url.protocol === 'https:' ? https : http
    return new Promise((resolve, reject) => {
      const req = lib.request(url, {...opts, timeout: timeoutMs}, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8')}))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
      req.on('error', reject)
      if (body !== undefined) req.end(body)
      else req.end()
    })
  }
  /** Raw JSON call; non-2xx answers throw an error carrying `code` and `body` like ApiException. */
  const rawJson = async (method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<unknown> => {
    const res = await raw(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : {'Content-Type': contentType})
    if (res.status < 200 || res.status >= 300) {
      throw Object.assign(new Error(`HTTP ${res.status} for ${method} ${path}`), {code: res.status, body: res.body, headers: res.headers})
    }
    return res.body ? JSON.parse(res.body) : undefined
  }

  const versions = new Map<string, string>()
  /** The group's preferred version (discovery), cached; undefined when the group is not served. */
  const versionOf = async (ref: ResourceRef): Promise<string | undefined> => {
    if (ref.version) return ref.version
    if (ref.group === '') return 'v1'
    if (!versions.has(ref.group)) {
      const group = (await orNotFound(`discover API group ${ref.group}`, () => rawJson('GET', `/apis/${ref.group}`))) as
        | {preferredVersion?: {version?: string}; versions?: {version: string}[]}
        | undefined
      const v = group?.preferredVersion?.version ?? group?.versions?.[0]?.version
      if (!v) return undefined
      versions.set(ref.group, v)
    }
    return versions.get(ref.group)
  }
  const pathOf = (ref: ResourceRef, v: string, name?: string): string => {
    const base = ref.group === '' ? `/api/${v}` : `/apis/${ref.group}/${v}`
    const ns = ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : ''
    return `${base}${ns}/${ref.plural}${name ? `/${encodeURIComponent(name)}` : ''}`
  }
  const describe = (ref: ResourceRef) => `${ref.plural}${ref.group ? `.${ref.group}` : ''}${ref.namespace ? ` in namespace ${ref.namespace}` : ''}`

  type Meta = {
    name?: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    finalizers?: string[]
    deletionTimestamp?: string | Date
  }
  const toDate = (d: string | Date | undefined) => (d === undefined ? undefined : d instanceof Date ? d.toISOString() : String(d))
  const summarize = (obj: {kind?: string; metadata?: Meta; status?: {conditions?: KubeCondition[]}}, kind?: string): ObjectSummary => ({
    name: obj.metadata?.name ?? '',
    namespace: obj.metadata?.namespace,
    kind: obj.kind ?? kind,
    labels: obj.metadata?.labels ?? {},
    annotations: obj.metadata?.annotations ?? {},
    finalizers: obj.metadata?.finalizers ?? [],
    deletionTimestamp: toDate(obj.metadata?.deletionTimestamp),
    conditions: (obj.status?.conditions ?? []).map((c) => ({type: c.type, status: c.status, reason: c.reason, message: c.message})),
  })
  const namespaceInfo = (ns: import('@kubernetes/client-node').V1Namespace): NamespaceInfo => ({
    name: ns.metadata?.name ?? '',
    phase: ns.status?.phase ?? 'Active',
    labels: ns.metadata?.labels ?? {},
    deletionTimestamp: toDate(ns.metadata?.deletionTimestamp),
    specFinalizers: ns.spec?.finalizers ?? [],
    conditions: (ns.status?.conditions ?? []).map((c) => ({type: c.type, status: c.status, reason: c.reason, message: c.message})),
  })

  const kube: Kube = {
    contextName,
    server,

    async serverVersion() {
      const info = await must('read the server version', () => version.getCode())
      return {major: Number.parseInt(info.major, 10), minor: Number.parseInt(info.minor, 10), gitVersion: info.gitVersion}
    },

    async listNodes() {
      const list = await must('list nodes', () => core.listNode())
      return list.items.map((n) => ({
        name: n.metadata?.name ?? '',
        cpuMillis: parseCpuMillis(n.status?.allocatable?.cpu),
        memoryBytes: parseMemoryBytes(n.status?.allocatable?.memory),
        labels: n.metadata?.labels ?? {},
      }))
    },

    async canI(verb, group, resource, namespace) {
      const review = await must(`check permission to ${verb} ${resource}`, () =>
        authz.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {resourceAttributes: {verb, group, resource, ...(namespace ? {namespace} : {})}},
          },
        }),
      )
      return review.status?.allowed === true
    },

    async listStorageClasses() {
      const list = await must('list storage classes', () => storage.listStorageClass())
      return list.items.map((sc) => {
        const a = sc.metadata?.annotations ?? {}
        return {
          name: sc.metadata?.name ?? '',
          provisioner: sc.provisioner,
          isDefault: a['storageclass.kubernetes.io/is-default-class'] === 'true' || a['storageclass.beta.kubernetes.io/is-default-class'] === 'true',
        }
      })
    },

    async listCrdNames() {
      const list = await must('list CustomResourceDefinitions', () => apiext.listCustomResourceDefinition())
      return list.items.map((crd) => crd.metadata?.name ?? '').filter(Boolean)
    },

    async apiServiceAvailable(name) {
      const svc = await orNotFound(`read APIService ${name}`, () => apireg.readAPIService({name}))
      return svc?.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') ?? false
    },

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

    async listObjects(ref, labelSelector) {
      const v = await versionOf(ref)
      if (!v) return []
      const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''
      const list = (await orNotFound(`list ${describe(ref)}`, () => rawJson('GET', pathOf(ref, v) + query))) as
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
        return fail(`delete ${describe(ref)} ${name}`, error)
      }
    },

    async mergePatchObject(ref, name, patch) {
      const v = await versionOf(ref)
      if (!v) throw new KedaLabError(`The cluster does not serve the API group ${ref.group}`)
      try {
        await api(() => rawJson('PATCH', pathOf(ref, v, name), patch, 'application/merge-patch+json'))
      } catch (error) {
        if (httpStatusOf(error) === 404) return // gone meanwhile: nothing left to patch
        fail(`patch ${describe(ref)} ${name}`, error)
      }
    },

    async listDeployments(namespace, labelSelector) {
      const list = await must(`list Deployments in namespace ${namespace}`, () =>
        apps.listNamespacedDeployment({namespace, ...(labelSelector ? {labelSelector} : {})}),
      )
      return list.items.map((d) => ({
        name: d.metadata?.name ?? '',
        // The API defaults an absent .spec.replicas to 1.
        replicas: d.spec?.replicas ?? 1,
        readyReplicas: d.status?.readyReplicas ?? 0,
        updatedReplicas: d.status?.updatedReplicas ?? 0,
        availableReplicas: d.status?.availableReplicas ?? 0,
      }))
    },

    async listLoadBalancers(namespace) {
      const list = await must(`list Services${namespace ? ` in namespace ${namespace}` : ''}`, () =>
        namespace ? core.listNamespacedService({namespace}) : core.listServiceForAllNamespaces(),
      )
      return list.items
        .filter((svc) => svc.spec?.type === 'LoadBalancer')
        .map((svc) => ({
          namespace: svc.metadata?.namespace ?? '',
          name: svc.metadata?.name ?? '',
          addresses: (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter(Boolean),
        }))
    },

    async listEvents(namespace, involvedObject) {
      const fieldSelector = [
        involvedObject?.kind ? `involvedObject.kind=${involvedObject.kind}` : '',
        involvedObject?.name ? `involvedObject.name=${involvedObject.name}` : '',
      ]
        .filter(Boolean)
        .join(',')
      const list = await must(`list events in namespace ${namespace}`, () => core.listNamespacedEvent({namespace, ...(fieldSelector ? {fieldSelector} : {})}))
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

    async listWorkloads(namespace) {
      const [deployments, statefulSets, daemonSets] = await Promise.all([
        must(`list Deployments in namespace ${namespace}`, () => apps.listNamespacedDeployment({namespace})),
        must(`list StatefulSets in namespace ${namespace}`, () => apps.listNamespacedStatefulSet({namespace})),
        must(`list DaemonSets in namespace ${namespace}`, () => apps.listNamespacedDaemonSet({namespace})),
      ])
      type Template = {spec?: {containers?: {name?: string; image?: string}[]}}
      const base = (o: {
        metadata?: {name?: string; labels?: Record<string, string>}
        spec?: {selector?: {matchLabels?: Record<string, string>}; template?: Template}
      }) => ({
        name: o.metadata?.name ?? '',
        labels: o.metadata?.labels ?? {},
        images: (o.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? ''),
        containers: (o.spec?.template?.spec?.containers ?? []).map((c) => c.name ?? ''),
        selector: o.spec?.selector?.matchLabels ?? {},
      })
      return [
        ...deployments.items.map((d): WorkloadInfo => ({kind: 'Deployment', ...base(d), desired: d.spec?.replicas ?? 1, ready: d.status?.readyReplicas ?? 0})),
        ...statefulSets.items.map(
          (d): WorkloadInfo => ({kind: 'StatefulSet', ...base(d), desired: d.spec?.replicas ?? 1, ready: d.status?.readyReplicas ?? 0}),
        ),
        ...daemonSets.items.map(
          (d): WorkloadInfo => ({kind: 'DaemonSet', ...base(d), desired: d.status?.desiredNumberScheduled ?? 0, ready: d.status?.numberReady ?? 0}),
        ),
      ]
    },

    async listPods(namespace, labelSelector) {
      const list = await must(`list pods in namespace ${namespace}`, () => core.listNamespacedPod({namespace, ...(labelSelector ? {labelSelector} : {})}))
      return list.items.map(
        (p): PodInfo => ({
          name: p.metadata?.name ?? '',
          labels: p.metadata?.labels ?? {},
          phase: p.status?.phase ?? 'Unknown',
          ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
          restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
          images: (p.spec?.containers ?? []).map((c) => c.image ?? ''),
          ports: (p.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((port) => ({name: port.name, containerPort: port.containerPort}))),
          deleting: Boolean(p.metadata?.deletionTimestamp),
          createdAt: toDate(p.metadata?.creationTimestamp),
        }),
      )
    },

    async listHpas(namespace) {
      const list = await must(`list HorizontalPodAutoscalers in namespace ${namespace}`, () => autoscaling.listNamespacedHorizontalPodAutoscaler({namespace}))
      return list.items.map((h): HpaInfo => {
        const cpuSpec = (h.spec?.metrics ?? []).find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')
        const cpuNow = (h.status?.currentMetrics ?? []).find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')
        return {
          name: h.metadata?.name ?? '',
          labels: h.metadata?.labels ?? {},
          targetKind: h.spec?.scaleTargetRef.kind ?? '',
          targetName: h.spec?.scaleTargetRef.name ?? '',
          minReplicas: h.spec?.minReplicas ?? 1,
          maxReplicas: h.spec?.maxReplicas ?? 0,
          currentReplicas: h.status?.currentReplicas ?? 0,
          desiredReplicas: h.status?.desiredReplicas ?? 0,
          lastScaleTime: toDate(h.status?.lastScaleTime),
          cpu: cpuSpec ? {targetPercent: cpuSpec.resource?.target.averageUtilization, currentPercent: cpuNow?.resource?.current.averageUtilization} : undefined,
          conditions: (h.status?.conditions ?? []).map((c) => ({type: c.type, status: c.status, reason: c.reason, message: c.message})),
        }
      })
    },

    async listScaledObjects(namespace) {
      const ref = {...resources.scaledObjects, namespace}
      const v = await versionOf(ref)
      if (!v) return []
      type Raw = {
        metadata?: Meta
        spec?: {
          scaleTargetRef?: {name?: string}
          minReplicaCount?: number
          maxReplicaCount?: number
          pollingInterval?: number
          cooldownPeriod?: number
          advanced?: {scalingModifiers?: {formula?: string; target?: string}}
          triggers?: {type: string; name?: string; metadata?: Record<string, string>}[]
        }
        status?: {hpaName?: string; lastActiveTime?: string; conditions?: KubeCondition[]}
      }
      const list = (await orNotFound(`list ${describe(ref)}`, () => rawJson('GET', pathOf(ref, v)))) as {items?: Raw[]} | undefined
      return (list?.items ?? []).map(
        (o): ScaledObjectInfo => ({
          name: o.metadata?.name ?? '',
          labels: o.metadata?.labels ?? {},
          annotations: o.metadata?.annotations ?? {},
          targetName: o.spec?.scaleTargetRef?.name ?? '',
          minReplicaCount: o.spec?.minReplicaCount,
          maxReplicaCount: o.spec?.maxReplicaCount,
          pollingInterval: o.spec?.pollingInterval,
          cooldownPeriod: o.spec?.cooldownPeriod,
          scalingModifiers: o.spec?.advanced?.scalingModifiers,
          triggers: (o.spec?.triggers ?? []).map((t) => ({type: t.type, name: t.name, metadata: t.metadata ?? {}})),
          hpaName: o.status?.hpaName,
          lastActiveTime: o.status?.lastActiveTime,
          conditions: (o.status?.conditions ?? []).map((c) => ({type: c.type, status: c.status, reason: c.reason, message: c.message})),
        }),
      )
    },

    async getService(namespace, name) {
      const svc = await orNotFound(`read Service ${namespace}/${name}`, () => core.readNamespacedService({namespace, name}))
      if (!svc) return undefined
      return {
        name: svc.metadata?.name ?? name,
        type: svc.spec?.type ?? 'ClusterIP',
        selector: svc.spec?.selector ?? {},
        ports: (svc.spec?.ports ?? []).map((p) => ({name: p.name, port: p.port, targetPort: p.targetPort as number | string | undefined})),
      }
    },

    async forwardPort(namespace, pod, port, socket) {
      const {PassThrough} = await import('node:stream')
      const errors: string[] = []
      const errStream = new PassThrough()
      errStream.on('data', (chunk: Buffer) => errors.push(chunk.toString('utf8')))
      const forward = new k8s.PortForward(kc)
      // client-node resolves with the `ws` WebSocket (typed loosely by client-node).
      type Ws = {on(event: 'close', listener: () => void): void; on(event: 'error', listener: (error: Error) => void): void; close(): void}
      let ws: Ws
      try {
        ws = (await forward.portForward(namespace, pod, [port], socket, errStream, socket)) as unknown as Ws
      } catch (error) {
        // A failed WebSocket upgrade carries only the status line; say which pod and port.
        const text =
          error instanceof Error
            ? error.message
            : typeof error === 'object' && error && 'message' in error
              ? String((error as {message: unknown}).message)
              : String(error)
        throw new KedaLabError(`Cannot open a port-forward to pod ${namespace}/${pod} port ${port} through ${server}: ${text}`, {
          hint: `check the pod runs and this context may create pods/portforward (kubectl auth can-i create pods/portforward -n ${namespace})`,
          cause: error,
        })
      }
      let settle: (value: {error?: string}) => void = () => {}
      const closed = new Promise<{error?: string}>((resolve) => (settle = resolve))
      const finish = () => {
        const error = errors.join('').trim()
        settle(error ? {error} : {})
      }
      ws.on('close', () => {
        socket.end()
        finish()
      })
      ws.on('error', (error: Error) => {
        errors.push(error.message)
        socket.destroy()
        finish()
      })
      // The remote side reported an error on the port's error stream: the forward is broken.
      errStream.on('data', () => ws.close())
      socket.on('close', () => ws.close())
      socket.on('error', () => ws.close())
      return {closed, close: () => ws.close()}
    },

    async proxyService(request) {
      const target = request.port === undefined ? request.service : `${request.service}:${request.port}`
      const query = request.query && Object.keys(request.query).length > 0 ? `?${new URLSearchParams(request.query).toString()}` : ''
      const path = `/api/v1/namespaces/${encodeURIComponent(request.namespace)}/services/${encodeURIComponent(target).replace('%3A', ':')}/proxy${request.path.startsWith('/') ? '' : '/'}${request.path}${query}`
      try {
        return await raw(request.method ?? 'GET', path, request.body, request.headers)
      } catch (error) {
        return fail(`reach service ${request.namespace}/${request.service} through the API server proxy`, error)
      }
    },
  }
  return kube
}
