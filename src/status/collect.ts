/**
 * One entry point for the status command: returns a function that reads the status once (the
 * cluster through one Kube built up front, or a keda-lab dev stack), so `--watch` reuses it.
 */
import type {Kube} from '../adapters/kube/index.js'
import {isKedaLabError, KedaLabError, NoClusterError} from '../errors.js'
import {collectClusterStatus} from './cluster.js'
import {findDevStates} from './dev-state.js'
import {collectLocalStatus} from './local.js'
import {STATUS_EXIT, type StatusReport} from './model.js'

export interface StatusOptions {
  local: boolean
  url?: string
  context?: string
  namespace: string
  monitoringNamespace: string
  env?: NodeJS.ProcessEnv
  /** Injected in tests; default createKube({context}). */
  createKube?: (options: {context?: string}) => Promise<Kube>
}

export async function collectStatus(options: StatusOptions): Promise<() => Promise<StatusReport>> {
  if (options.local) return () => collectLocalStatus({url: options.url, env: options.env})
  let kube: Kube
  try {
    const create =
      options.createKube ??
      (async (o: {context?: string}) =>
        (await import('../adapters/kube/index.js')).createKube({...o, requestTimeoutMs: 10_000, retry: {attempts: 2, baseMs: 250, maxMs: 1000}}))
    kube = await create({context: options.context})
  } catch (error) {
    // No kubeconfig, an unknown context: there is no cluster to look at. A dev stack running here
    // is probably what the user meant to see.
    const dev = error instanceof NoClusterError && error.reason !== 'unreachable' ? findDevStates(options.env ?? process.env)[0] : undefined
    const hint = dev ? `a keda-lab dev stack runs on this machine (API ${dev.apiUrl}): keda-lab status --local` : isKedaLabError(error) ? error.hint : undefined
    if (isKedaLabError(error)) throw new KedaLabError(error.message, {hint, exitCode: STATUS_EXIT.unreachable, cause: error})
    throw error
  }
  return () => collectClusterStatus({kube, namespace: options.namespace, monitoringNamespace: options.monitoringNamespace})
}
