/**
 * The Kubernetes edge: everything keda-lab asks the cluster through @kubernetes/client-node.
 * Commands and checks get a `Kube` passed in; tests point it at a loopback fake API server.
 *
 * The interface below is the contract shared by install pre-flight (src/lab/install),
 * doctor, uninstall and status. Extend it here (one method per question asked of the cluster);
 * never call client-node from anywhere else.
 */
export interface KubeOptions {
  /** kubeconfig context; default: the current context. */
  context?: string
  /** Path of the kubeconfig; default: $KUBECONFIG or ~/.kube/config (client-node's loadFromDefault). */
  kubeconfig?: string
}

export interface NodeInfo {
  name: string
  /** Allocatable CPU in millicores. */
  cpuMillis: number
  /** Allocatable memory in bytes. */
  memoryBytes: number
  labels: Record<string, string>
}

export interface StorageClassInfo {
  name: string
  provisioner: string
  isDefault: boolean
}

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
  /**
   * Added by the install owner (rollout wait after the app release; owner of createKube please implement):
   * the Deployments in `namespace` (optionally filtered by a label selector) with their rollout counters,
   * read from `apps/v1` Deployment `.spec.replicas` and `.status`.
   */
  listDeployments(namespace: string, labelSelector?: string): Promise<DeploymentInfo[]>
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

// createKube(options) lives here too; it is implemented with @kubernetes/client-node,
// imported dynamically so that `keda-lab --help` never loads it.
