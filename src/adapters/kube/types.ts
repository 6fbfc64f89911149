/**
 * What the `Kube` adapter answers: the interface every caller programs against (install
 * pre-flight, doctor, uninstall, status, tunnel) and the shapes it returns. One method per
 * question asked of the cluster; the implementations live beside this file, one file per concern.
 */
import type {RetryPolicy} from './retry.js'

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
  /** When the API server created it (ISO). */
  createdAt?: string
  /**
   * Who wrote it and when (`metadata.managedFields`: manager, e.g. `helm` or `kube-apiserver`,
   * operation `Update` or `Apply`, and the time of that manager's last change, if recorded).
   */
  fieldManagers?: {manager: string; operation?: string; time?: string}[]
  conditions: KubeCondition[]
}

/** A core/v1 Event, e.g. KEDA's `KEDAMetricSourceFailed` warnings on a ScaledObject. */
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
  /** Added for install's claim watch: the PersistentVolumeClaims of a namespace and their phase. */
  listPersistentVolumeClaims(namespace: string): Promise<ClaimInfo[]>
  /** Added for `status`: the autoscaling/v2 HorizontalPodAutoscalers of a namespace (KEDA's included). */
  listHpas(namespace: string): Promise<HpaInfo[]>
  /** Added for `status`: KEDA ScaledObjects of a namespace with spec and status; [] when KEDA's CRD is not served. */
  listScaledObjects(namespace: string): Promise<ScaledObjectInfo[]>
  /**
   * Added for `status` (issue 18): the CPU and memory each pod of a namespace uses now, from the
   * resource metrics API (metrics.k8s.io, served by metrics-server); `available: false` with the
   * reason when the cluster does not serve it.
   */
  listPodMetrics(namespace: string, labelSelector?: string): Promise<PodMetricsList>
  /** Added for `tunnel`: one Service (selector and ports), or undefined when it does not exist. */
  getService(namespace: string, name: string): Promise<ServiceInfo | undefined>
  /**
   * Added for `tunnel`: forwards one TCP connection (`socket`) to `port` of a pod through the API
   * server (client-node's PortForward, one WebSocket per connection). Resolves once the WebSocket
   * is open; rejects when it cannot be opened (pod gone, no permission, node unreachable).
   */
  forwardPort(namespace: string, pod: string, port: number, socket: import('node:stream').Duplex): Promise<PortForwardConnection>
  /** Added for `loadtest --runner cluster`: creates a batch/v1 Job from its manifest (a plain object). */
  createJob(namespace: string, manifest: Record<string, unknown>): Promise<void>
  /** Added for `loadtest --runner cluster`: a Job's counters and conditions, or undefined when it does not exist. */
  getJob(namespace: string, name: string): Promise<JobInfo | undefined>
  /**
   * Added for `loadtest --runner cluster`: deletes a Job and its pods (background propagation by
   * default; foreground keeps the Job until its pods are gone); false when it was already gone.
   */
  deleteJob(namespace: string, name: string, propagationPolicy?: 'Background' | 'Foreground'): Promise<boolean>
  /** Added for `loadtest --runner cluster`: a pod container's log (stdout and stderr, as the kubelet keeps it). */
  readPodLog(namespace: string, pod: string, container: string): Promise<string>
  /**
   * Added for `loadtest --runner cluster`: follows a pod container's log (`follow=true`), each piece
   * of text to `onText` as the container writes it; resolves when the log ends (the container
   * exited) or `signal` aborts; rejects when it cannot be followed (the container has not started).
   */
  followPodLog(namespace: string, pod: string, container: string, onText: (text: string) => void, signal: AbortSignal): Promise<void>
}

/** A batch/v1 Job's progress. */
export interface JobInfo {
  name: string
  /** Pods running, succeeded and failed now (`.status`). */
  active: number
  succeeded: number
  failed: number
  /** `Complete` or `Failed` (with its reason, e.g. DeadlineExceeded, BackoffLimitExceeded) once finished. */
  conditions: KubeCondition[]
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

/** CPU and memory of one pod (the sum of its containers), as metrics-server last measured them. */
export interface PodMetricsInfo {
  name: string
  cpuMillis: number
  memoryBytes: number
  /** When the measurement was taken (ISO) and over how long (e.g. '10.5s'). */
  timestamp?: string
  window?: string
}

/** The metrics API's answer: the pods it measured, or why it could not be read. */
export type PodMetricsList = {available: true; pods: PodMetricsInfo[]} | {available: false; reason: string}

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
  /** Sum of its containers' CPU requests in millicores (0 when none is set): the base of an HPA's CPU utilisation. */
  cpuRequestMillis?: number
  /** Set once deletion was requested. */
  deleting: boolean
  createdAt?: string
}

/** A PersistentVolumeClaim: is it bound yet, and through which StorageClass. */
export interface ClaimInfo {
  name: string
  /** 'Pending', 'Bound' or 'Lost'. */
  phase: string
  /** `.spec.storageClassName` (undefined: the default class, if any, was to be used). */
  storageClass?: string
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
