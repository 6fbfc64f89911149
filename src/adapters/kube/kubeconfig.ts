/** Finding the cluster: the kubeconfig (with a clear error when there is none) and its context. */
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {delimiter, join} from 'node:path'

import type * as K8s from '@kubernetes/client-node'

import {KedaLabError, NoClusterError} from '../../errors.js'
import {apiMessage} from './calls.js'
import type {KubeOptions} from './types.js'

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
    throw new NoClusterError(`No kubeconfig found: KUBECONFIG is set to ${env.KUBECONFIG}, but no such file exists`, {
      reason: 'no-kubeconfig',
      hint: getCluster,
    })
  }
  const path = join(env.HOME || homedir(), '.kube', 'config')
  if (existsSync(path) || existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) return
  throw new NoClusterError(`No kubeconfig found: KUBECONFIG is not set and ${path} does not exist, so there is no cluster to talk to`, {
    reason: 'no-kubeconfig',
    hint: getCluster,
  })
}

/** Loads the kubeconfig and picks the context, or says clearly why it cannot. */
export function loadKubeConfig(k8s: typeof K8s, options: KubeOptions): {kc: K8s.KubeConfig; server: string; contextName: string} {
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
    throw new NoClusterError('No Kubernetes cluster is configured (the kubeconfig has no current context)', {
      reason: 'no-context',
      hint: 'Start a cluster (`minikube start` or `kind create cluster`) or pass --context / set KUBECONFIG.',
    })
  }
  return {kc, server: cluster.server, contextName: kc.getCurrentContext()}
}
