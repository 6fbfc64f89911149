/**
 * The Kubernetes edge: everything keda-lab asks the cluster through @kubernetes/client-node.
 * Commands and checks get a `Kube` passed in; tests point it at a loopback fake API server or the
 * real control plane.
 *
 * `Kube` (types.ts) is the contract shared by install pre-flight (src/lab/install), doctor,
 * uninstall, status and tunnel. Each concern answers its part in its own file, on the one
 * connection client.ts makes; extend it there (one method per question asked of the cluster),
 * never call client-node from anywhere else.
 */
import {autoscalingMethods} from './autoscaling.js'
import {createKubeClient} from './client.js'
import {clusterMethods} from './cluster.js'
import {jobMethods} from './jobs.js'
import {namespaceMethods} from './namespaces.js'
import {objectMethods} from './objects.js'
import {portForwardMethods} from './port-forward.js'
import {secretMethods} from './secrets.js'
import {serviceProxyMethods} from './service-proxy.js'
import type {Kube, KubeOptions} from './types.js'
import {workloadMethods} from './workloads.js'

export {parseCpuMillis, parseMemoryBytes} from './quantity.js'
export {DEFAULT_RETRY, httpStatusOf, isTransient, type RetryPolicy, retryAfterMs, withRetry} from './retry.js'
export * from './types.js'

/** Builds a Kube on @kubernetes/client-node from the kubeconfig (imported only here, only when needed). */
export async function createKube(options: KubeOptions = {}): Promise<Kube> {
  const c = await createKubeClient(options)
  return {
    contextName: c.contextName,
    server: c.server,
    ...clusterMethods(c),
    ...namespaceMethods(c),
    ...secretMethods(c),
    ...objectMethods(c),
    ...workloadMethods(c),
    ...autoscalingMethods(c),
    ...serviceProxyMethods(c),
    ...portForwardMethods(c),
    ...jobMethods(c),
  }
}
