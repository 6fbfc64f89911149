/**
 * The resource metrics API (`metrics.k8s.io`) on the test control plane: the real metrics-server
 * (built by scripts/build-kube-tools.sh) scraping kwok's emulated kubelet `/metrics/resource`, so
 * that the controller-manager's real HPA controller, `kubectl top` and `keda-lab status` read CPU
 * and memory as on a real cluster (../shared/CONTROL-PLANE.md, "CPU metrics for a real HPA").
 *
 * - kwok serves each node's `/metrics/nodes/<node>/metrics/resource` (its module's Metric
 *   `metrics-resource`), with the usage of each container taken from kwok's ResourceUsage /
 *   ClusterResourceUsage objects: {@link setSimulatedUsage} writes them.
 * - metrics-server runs on the host, listening on a Service's loopback ClusterIP, registered as
 *   APIService `v1beta1.metrics.k8s.io` like KEDA's adapter (test/cluster/keda.ts): an FQDN
 *   EndpointSlice under `.invalid` satisfies the aggregator's availability check (the API server
 *   refuses loopback addresses in endpoints) and is never dialled.
 *
 * This module takes the API request function as a parameter (no import of control-plane.ts, which
 * starts what it describes).
 */
import {readFileSync} from 'node:fs'

import {parseAllDocuments} from 'yaml'

/** One request to the API server as the admin: what control-plane.ts's adminRequest does. */
export type AdminRequest = (method: string, path: string, body?: unknown, contentType?: string) => Promise<{status: number; body: string}>

/** The aggregated API's name, as pre-flight and `doctor` look it up. */
export const METRICS_API_SERVICE = 'v1beta1.metrics.k8s.io'
/** The Service metrics-server is reached through (kube-system, as its own manifests do). */
export const METRICS_SERVER_SERVICE = {namespace: 'kube-system', name: 'metrics-server'}
/** metrics-server's loopback ClusterIP (in the control plane's 127.100.0.0/16 service range). */
export const METRICS_SERVER_IP = '127.100.0.50'
/** How often metrics-server scrapes: the HPA sees a change of usage within about this. */
export const METRIC_RESOLUTION_SECONDS = 10

/** The node annotation that points metrics-server at kwok's per-node path (else it asks `/metrics/resource` and finds nothing). */
export function resourceMetricsPathAnnotation(node: string): Record<string, string> {
  return {'metrics.k8s.io/resource-metrics-path': `/metrics/nodes/${node}/metrics/resource`}
}

/** kwok's flag enabling the usage objects {@link setSimulatedUsage} writes. */
export const KWOK_USAGE_CRDS = 'ResourceUsage,ClusterResourceUsage'

/** The CRDs of kwok's usage objects, from the files its module ships (copied by build-kube-tools.sh into kwok's `crd/`). */
export function kwokUsageCrds(crdDir: string): Record<string, unknown>[] {
  return ['kwok.x-k8s.io_resourceusages.yaml', 'kwok.x-k8s.io_clusterresourceusages.yaml'].flatMap((file) =>
    parseAllDocuments(readFileSync(`${crdDir}/${file}`, 'utf8'))
      .map((d) => d.toJS() as Record<string, unknown> | null)
      .filter((o): o is Record<string, unknown> => o?.kind === 'CustomResourceDefinition'),
  )
}

/**
 * Server-side apply of objects (create or update, so a control plane restarted on its old data gets
 * the current port and certificates). `path` is the object's own URL.
 */
export async function applyObjects(request: AdminRequest, objects: {path: string; body: Record<string, unknown>}[]): Promise<void> {
  for (const {path, body} of objects) {
    const res = await request('PATCH', `${path}?fieldManager=keda-lab-tests&force=true`, body, 'application/apply-patch+yaml')
    if (res.status !== 200 && res.status !== 201) throw new Error(`applying ${path} failed: ${res.status} ${res.body.slice(0, 300)}`)
  }
}

/** Waits until each CRD is served (Established). */
export async function waitEstablished(request: AdminRequest, names: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const name of names) {
    for (;;) {
      const res = await request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`)
      const conditions =
        res.status === 200 ? ((JSON.parse(res.body) as {status?: {conditions?: {type: string; status: string}[]}}).status?.conditions ?? []) : []
      if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) break
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

/**
 * Everything the API server needs to serve metrics-server's API: RBAC for its user (the client
 * certificate's CN, as the upstream manifests grant the ServiceAccount), the Service on the loopback
 * ClusterIP, the FQDN EndpointSlice and the APIService whose caBundle verifies its serving certificate.
 */
export function metricsServerObjects(o: {port: number; caBundle: string}): {path: string; body: Record<string, unknown>}[] {
  const {namespace, name} = METRICS_SERVER_SERVICE
  const user = {apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'metrics-server'}
  const rbac = 'rbac.authorization.k8s.io/v1'
  return [
    {
      path: '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:metrics-server',
      body: {
        apiVersion: rbac,
        kind: 'ClusterRole',
        metadata: {name: 'system:metrics-server'},
        rules: [
          {apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get']},
          {apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch']},
        ],
      },
    },
    {
      path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:metrics-server',
      body: {
        apiVersion: rbac,
        kind: 'ClusterRoleBinding',
        metadata: {name: 'system:metrics-server'},
        roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:metrics-server'},
        subjects: [user],
      },
    },
    {
      path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/metrics-server:system:auth-delegator',
      body: {
        apiVersion: rbac,
        kind: 'ClusterRoleBinding',
        metadata: {name: 'metrics-server:system:auth-delegator'},
        roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator'},
        subjects: [user],
      },
    },
    {
      path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings/metrics-server-auth-reader`,
      body: {
        apiVersion: rbac,
        kind: 'RoleBinding',
        metadata: {name: 'metrics-server-auth-reader', namespace},
        roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader'},
        subjects: [user],
      },
    },
    {
      path: `/api/v1/namespaces/${namespace}/services/${name}`,
      body: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {name, namespace, labels: {'k8s-app': 'metrics-server'}},
        spec: {type: 'ClusterIP', clusterIP: METRICS_SERVER_IP, ports: [{name: 'https', port: o.port, targetPort: o.port, protocol: 'TCP'}]},
      },
    },
    {
      path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/${name}-host`,
      body: {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${name}-host`,
          namespace,
          labels: {'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'keda-lab-tests'},
        },
        addressType: 'FQDN',
        endpoints: [{addresses: [`${name}.keda-lab-test.invalid`], conditions: {ready: true}}],
        ports: [{name: 'https', port: o.port, protocol: 'TCP'}],
      },
    },
    {
      path: `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_API_SERVICE}`,
      body: {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: {name: METRICS_API_SERVICE, labels: {'k8s-app': 'metrics-server'}},
        spec: {
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          service: {namespace, name, port: o.port},
          caBundle: o.caBundle,
          groupPriorityMinimum: 100,
          versionPriority: 100,
        },
      },
    },
  ]
}

/** Files metrics-server runs with. */
export interface MetricsServerFiles {
  /** Its kubeconfig (client certificate CN=metrics-server). */
  kubeconfig: string
  /** Serving certificate and key (SANs: the Service's DNS name and ClusterIP). */
  cert: string
  key: string
  /** The cluster CA: kwok's kubelet endpoint is served with a certificate it signed. */
  kubeletCa: string
  /** The front-proxy CA: the aggregator's client certificate is signed by it. */
  frontProxyCa: string
}

/** metrics-server's command line: the recipe's flags, with the kubelet (kwok) verified against the cluster CA. */
export function metricsServerArgs(port: number, f: MetricsServerFiles): string[] {
  return [
    `--bind-address=${METRICS_SERVER_IP}`,
    `--secure-port=${port}`,
    `--tls-cert-file=${f.cert}`,
    `--tls-private-key-file=${f.key}`,
    `--kubeconfig=${f.kubeconfig}`,
    `--authentication-kubeconfig=${f.kubeconfig}`,
    `--authorization-kubeconfig=${f.kubeconfig}`,
    `--requestheader-client-ca-file=${f.frontProxyCa}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--kubelet-certificate-authority=${f.kubeletCa}`,
    '--kubelet-preferred-address-types=InternalIP',
    '--kubelet-use-node-status-port',
    `--metric-resolution=${METRIC_RESOLUTION_SECONDS}s`,
    // Must stay below the resolution, or metrics-server refuses to start.
    '--kubelet-request-timeout=5s',
  ]
}

/** Is the APIService Available (the aggregator reached metrics-server)? With the reason when not. */
export async function metricsApiAvailable(request: AdminRequest): Promise<{available: boolean; detail: string}> {
  const res = await request('GET', `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_API_SERVICE}`)
  if (res.status !== 200) return {available: false, detail: `GET APIService: ${res.status}`}
  const conditions =
    (JSON.parse(res.body) as {status?: {conditions?: {type: string; status: string; reason?: string; message?: string}[]}}).status?.conditions ?? []
  const available = conditions.find((c) => c.type === 'Available')
  return {available: available?.status === 'True', detail: `${available?.reason ?? 'no condition'}: ${available?.message ?? ''}`}
}

/** Simulated usage of one workload's pods (per pod; each is one container in the lab's chart). */
export interface SimulatedUsage {
  namespace: string
  /** The Deployment whose pods use this much (its pod template's container names select them). */
  deployment: string
  /** CPU per pod: a Kubernetes quantity ('250m', '1.5') or cores as a number. */
  cpu: string | number
  /** Memory per pod ('64Mi'). Required: metrics-server drops a pod that reports 0 memory. */
  memory: string
}

/** What every other container of a namespace with simulated usage reports (non-zero memory, so that it is not dropped). */
export const BASELINE_USAGE = {cpu: '1m', memory: '16Mi'}

type Usage = {containers?: string[]; usage: Record<string, {value: string}>}
interface ClusterResourceUsage {
  metadata: {name: string; resourceVersion?: string}
  spec: {selector: {matchNamespaces: string[]}; usages: Usage[]}
}

const quantity = (q: string | number) => (typeof q === 'number' ? `${Math.max(0, Math.round(q * 1000))}m` : q)

/**
 * Sets the CPU and memory kwok reports for each pod of a Deployment (existing and future ones),
 * from now until changed. One ClusterResourceUsage per namespace (`usage-<namespace>`) holds one
 * entry per workload, keyed by its container names, plus {@link BASELINE_USAGE} for the rest; kwok
 * picks the entry by container name (several ClusterResourceUsages matching one pod would race:
 * kwok takes whichever it lists first). metrics-server sees a change within its resolution
 * ({@link METRIC_RESOLUTION_SECONDS}).
 */
export async function setSimulatedUsage(request: AdminRequest, u: SimulatedUsage): Promise<void> {
  const dep = await request('GET', `/apis/apps/v1/namespaces/${u.namespace}/deployments/${u.deployment}`)
  if (dep.status !== 200) throw new Error(`setSimulatedUsage: Deployment ${u.namespace}/${u.deployment}: ${dep.status} ${dep.body.slice(0, 200)}`)
  const containers = (JSON.parse(dep.body) as {spec: {template: {spec: {containers: {name: string}[]}}}}).spec.template.spec.containers.map((c) => c.name)
  const name = `usage-${u.namespace}`
  const path = `/apis/kwok.x-k8s.io/v1alpha1/clusterresourceusages/${name}`
  const current = await request('GET', path)
  const existing = current.status === 200 ? (JSON.parse(current.body) as ClusterResourceUsage).spec.usages : []
  const others = existing.filter((e) => e.containers && !e.containers.some((c) => containers.includes(c)))
  const usages: Usage[] = [
    ...others,
    {containers, usage: {cpu: {value: quantity(u.cpu)}, memory: {value: u.memory}}},
    {usage: {cpu: {value: BASELINE_USAGE.cpu}, memory: {value: BASELINE_USAGE.memory}}},
  ]
  await applyObjects(request, [
    {
      path,
      body: {apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'ClusterResourceUsage', metadata: {name}, spec: {selector: {matchNamespaces: [u.namespace]}, usages}},
    },
  ])
}
