/**
 * What `keda-lab tunnel` does, with its I/O edges passed in: pick minikube tunnel or port-forwards,
 * run until Ctrl-C (SIGINT/SIGTERM), clean up.
 */
import {detectClusterKind} from '../../adapters/cluster-tools.js'
import type {Kube} from '../../adapters/kube/index.js'
import {isKedaLabError, KedaLabError} from '../../errors.js'
import type {ForwardEvent} from './port-forward.js'
import {grafanaPasswordHint, minikubeTunnel, minikubeTunnelExplanation, openPortForwards, runMinikubeTunnel, type TunnelTargetId, tunnelTargets} from './run.js'

export interface TunnelOptions {
  portForward: boolean
  context?: string
  namespace: string
  monitoringNamespace: string
  address: string
  localPorts: Partial<Record<TunnelTargetId, number>>
}

export interface TunnelDeps {
  print(line: string): void
  printEvent(event: ForwardEvent): void
  createKube?: (options: {context?: string}) => Promise<Kube>
  /** Resolves when the user asks to stop (default: SIGINT or SIGTERM). */
  stopRequested?: (signal: AbortSignal) => Promise<void>
}

const untilSignal = (abort: AbortSignal) =>
  new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    abort.addEventListener('abort', stop, {once: true})
  })

export async function runTunnel(options: TunnelOptions, deps: TunnelDeps): Promise<void> {
  let kube: Kube
  try {
    const create = deps.createKube ?? (async (o: {context?: string}) => (await import('../../adapters/kube/index.js')).createKube(o))
    kube = await create({context: options.context})
    // One cheap call first: an unreachable cluster fails here with a clear message.
    await kube.serverVersion()
  } catch (error) {
    if (isKedaLabError(error)) throw new KedaLabError(error.message, {hint: error.hint, exitCode: 4, cause: error})
    throw error
  }
  const done = new AbortController()
  const stopRequested = deps.stopRequested ?? untilSignal

  if (!options.portForward) {
    const cluster = detectClusterKind(kube.contextName, await kube.listNodes())
    if (cluster.kind === 'minikube') {
      const profile = cluster.name ?? 'minikube'
      for (const line of minikubeTunnelExplanation(profile, options.namespace)) deps.print(line)
      const code = await runMinikubeTunnel(minikubeTunnel(profile), done.signal)
      if (code !== 0)
        throw new KedaLabError(`minikube tunnel exited with code ${code}`, {
          hint: 'read its output above; or use `keda-lab tunnel --port-forward` (no sudo needed)',
        })
      return
    }
    deps.print(`Context ${kube.contextName} is not minikube: forwarding the lab's Services to local ports through the API server (--port-forward).`)
  }

  const tunnel = await openPortForwards({
    kube,
    targets: tunnelTargets(options.namespace, options.monitoringNamespace, options.localPorts),
    address: options.address,
    onEvent: deps.printEvent,
  })
  for (const s of tunnel.skipped) deps.print(`${s.target.title.padEnd(12)} not forwarded: ${s.reason}`)
  if (tunnel.forwards.some((f) => f.target.id === 'grafana')) deps.print(`Grafana password: ${grafanaPasswordHint(options.monitoringNamespace)}`)
  deps.print('Forwarding until Ctrl-C.')
  try {
    await stopRequested(done.signal)
  } finally {
    done.abort()
    await tunnel.close()
    deps.print('Tunnel closed.')
  }
}
