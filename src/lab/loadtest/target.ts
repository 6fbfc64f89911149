/**
 * Which API a load test hits, and why: `--target URL`; else a running `keda-lab dev` (its state
 * file, dev-state.ts); else the installed lab: its API Service's LoadBalancer address when it
 * answers, else a port-forward to the Service opened for the run and closed after (the mechanism
 * `keda-lab tunnel --port-forward` uses). The first line a run prints is `describeTarget`.
 */
import type {Kube} from '../../adapters/kube/index.js'
import {isKedaLabError, KedaLabError} from '../../errors.js'
import {APP_RELEASE} from '../../config/release.js'
import type {DevState} from '../../status/dev-state.js'
import {openPortForwards, tunnelTargets} from '../tunnel/run.js'
import type {LoadSummary} from './records.js'

/** A chosen target; `close()` ends what was opened for it (a port-forward). */
export interface ResolvedTarget {
  target: LoadSummary['target']
  /** The dev stack behind it, when it is one (the watcher reads its state). */
  dev?: DevState
  /** The cluster behind it, when it is one (the watcher reads its workloads). */
  kube?: Kube
  namespace?: string
  close(): Promise<void>
}

export interface TargetOptions {
  /** `--target`. */
  url?: string
  /**
   * `--watch cluster`: with `--target`, watch the scaling in the cluster of `context`/`namespace`
   * anyway (the API reached some other way, e.g. a host process or an ingress, the workers' autoscaler
   * in the cluster). Without `--target` the installed lab is watched already.
   */
  watch?: 'cluster'
  namespace: string
  context?: string
}

export interface TargetDeps {
  findDevStates(): DevState[]
  createKube(options: {context?: string}): Promise<Kube>
  /** True when the URL's API answers (GET /readyz), within a short timeout. */
  reachable(url: string): Promise<boolean>
}

const NOT_URL_HINT = 'pass the API URL, e.g. --target http://127.0.0.1:8000'

/** Normalises `--target`, or explains what is wrong with it (before any request). */
export function parseTargetUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new KedaLabError(`--target ${text} is not a URL`, {hint: NOT_URL_HINT, exitCode: 2})
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new KedaLabError(`--target ${text}: only http:// and https:// URLs are supported`, {hint: NOT_URL_HINT, exitCode: 2})
  if (url.search || url.hash)
    throw new KedaLabError(`--target ${text}: give the API's base URL, without a query or fragment`, {hint: NOT_URL_HINT, exitCode: 2})
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

const none = async () => {}

/** `--target URL`, with the cluster connected as well under `--watch cluster`. */
async function flagTarget(url: string, options: TargetOptions, deps: TargetDeps): Promise<ResolvedTarget> {
  const target = {url: parseTargetUrl(url), source: 'flag', reason: 'given with --target'} as const
  if (options.watch !== 'cluster') return {target, close: none}
  const kube = await deps.createKube({context: options.context}).catch((error: unknown) => {
    throw new KedaLabError(`--watch cluster: no cluster to watch (${isKedaLabError(error) ? error.message : (error as Error).message})`, {
      hint: 'check `kubectl get nodes` (KUBECONFIG, --context), or leave out --watch cluster to watch only the queue',
      exitCode: 3,
      cause: error,
    })
  })
  return {
    target: {...target, reason: `given with --target; scaling watched in namespace ${options.namespace} (context ${kube.contextName})`},
    kube,
    namespace: options.namespace,
    close: none,
  }
}

/** The installed lab's API: its LoadBalancer address when that answers from here, else a port-forward. */
async function clusterTarget(options: TargetOptions, deps: TargetDeps): Promise<ResolvedTarget> {
  let kube: Kube
  try {
    kube = await deps.createKube({context: options.context})
  } catch (error) {
    const why = isKedaLabError(error) ? error.message : (error as Error).message
    throw new KedaLabError(`no target: no --target, no keda-lab dev running on this machine, and no cluster (${why})`, {
      hint: 'start the lab locally with `keda-lab dev` (in another terminal), install it with `keda-lab install`, or pass --target URL',
      exitCode: 3,
      cause: error,
    })
  }
  const service = `${APP_RELEASE}-api`
  const api = await kube.getService(options.namespace, service).catch((error: unknown) => {
    throw new KedaLabError(`cannot reach the cluster of context ${kube.contextName}: ${(error as Error).message}`, {
      hint: 'check `kubectl get nodes`; or run the lab locally with `keda-lab dev`, or pass --target URL',
      exitCode: 4,
      cause: error,
    })
  })
  if (!api) {
    throw new KedaLabError(`no target: no --target, no keda-lab dev running on this machine, and keda-lab is not installed in namespace ${options.namespace}`, {
      hint: 'start the lab locally with `keda-lab dev` (in another terminal), install it with `keda-lab install`, or pass --target URL',
      exitCode: 3,
    })
  }
  let lbNote = ''
  if (api.type === 'LoadBalancer') {
    const lb = (await kube.listLoadBalancers(options.namespace)).find((l) => l.name === service)
    const address = lb?.addresses[0]
    const port = api.ports.find((p) => p.name === 'http')?.port ?? api.ports[0]?.port ?? 80
    if (address) {
      const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`
      if (await deps.reachable(url))
        return {
          target: {url, source: 'cluster-lb', reason: `the LoadBalancer address of Service ${options.namespace}/${service} (context ${kube.contextName})`},
          kube,
          namespace: options.namespace,
          close: none,
        }
      lbNote = `; its LoadBalancer address ${url} does not answer from here`
    } else {
      lbNote = '; its LoadBalancer has no address (minikube: only while `minikube tunnel` runs)'
    }
  }
  return portForwardTarget(kube, options.namespace, service, lbNote)
}

/** A port-forward to the API Service, open for this run (closed by the target's `close`). */
async function portForwardTarget(kube: Kube, namespace: string, service: string, lbNote: string): Promise<ResolvedTarget> {
  const [apiTarget] = tunnelTargets(namespace, namespace, {api: 0}).filter((t) => t.id === 'api')
  const tunnel = await openPortForwards({kube, targets: apiTarget ? [apiTarget] : []})
  const forward = tunnel.forwards[0]
  if (!forward) {
    await tunnel.close()
    throw new KedaLabError(`cannot forward a local port to Service ${namespace}/${service}`, {
      hint: 'check the API pods with `keda-lab status`',
      exitCode: 4,
    })
  }
  return {
    target: {
      url: `http://127.0.0.1:${forward.localPort}`,
      source: 'port-forward',
      reason: `a port-forward to Service ${namespace}/${service} (context ${kube.contextName}${lbNote}), open for this run`,
    },
    kube,
    namespace,
    close: () => tunnel.close(),
  }
}

/** Finds the target; throws a KedaLabError (exit 3) when there is none. */
export async function resolveTarget(options: TargetOptions, deps: TargetDeps): Promise<ResolvedTarget> {
  if (options.url !== undefined) return flagTarget(options.url, options, deps)

  const dev = deps.findDevStates()[0]
  if (dev) {
    return {
      target: {url: dev.apiUrl, source: 'dev', reason: `the keda-lab dev running on this machine (pid ${dev.pid}, started ${dev.startedAt})`},
      dev,
      close: none,
    }
  }

  return clusterTarget(options, deps)
}

/** The run's first line: which target and why. */
export function describeTarget(target: LoadSummary['target']): string {
  return `Target: ${target.url} — ${target.reason}`
}
