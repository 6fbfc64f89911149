/**
 * `keda-lab tunnel`: makes the lab reachable from this machine until Ctrl-C. On minikube it runs
 * `minikube tunnel` (LoadBalancer addresses); on any cluster, or with --port-forward, it forwards
 * the API, Grafana, Prometheus and Alertmanager Services to local ports (port-forward.ts).
 */
import type {ToolCommand} from '../../adapters/cluster-tools.js'
import type {Kube} from '../../adapters/kube/index.js'
import {KedaLabError} from '../../errors.js'
import {APP_RELEASE} from '../../config/release.js'
import {type ForwardEvent, type ForwardTarget, type RunningForward, startForward} from './port-forward.js'

/** The usual local ports; a taken one is replaced by a free port. */
export const DEFAULT_LOCAL_PORTS = {api: 8000, grafana: 3000, prometheus: 9090, alertmanager: 9093} as const

export type TunnelTargetId = keyof typeof DEFAULT_LOCAL_PORTS

/** The Services forwarded, by the names the charts keda-lab installs give them. */
export function tunnelTargets(namespace: string, monitoringNamespace: string, localPorts: Partial<Record<TunnelTargetId, number>> = {}): ForwardTarget[] {
  const port = (id: TunnelTargetId) => localPorts[id] ?? DEFAULT_LOCAL_PORTS[id]
  return [
    {id: 'api', title: 'API', namespace, service: `${APP_RELEASE}-api`, port: 'http', localPort: port('api'), path: '/docs'},
    {id: 'grafana', title: 'Grafana', namespace: monitoringNamespace, service: 'kube-prometheus-stack-grafana', port: 80, localPort: port('grafana')},
    {
      id: 'prometheus',
      title: 'Prometheus',
      namespace: monitoringNamespace,
      service: 'kube-prometheus-stack-prometheus',
      port: 9090,
      localPort: port('prometheus'),
    },
    {
      id: 'alertmanager',
      title: 'Alertmanager',
      namespace: monitoringNamespace,
      service: 'kube-prometheus-stack-alertmanager',
      port: 9093,
      localPort: port('alertmanager'),
    },
  ]
}

/** `minikube tunnel -p <profile>` (it asks for sudo to add routes and bind ports below 1024). */
export function minikubeTunnel(profile: string): ToolCommand {
  return {bin: 'minikube', args: ['tunnel', '-p', profile]}
}

/** What `minikube tunnel` is about to do, said before its sudo prompt appears. */
export function minikubeTunnelExplanation(profile: string, namespace: string): string[] {
  return [
    `Running \`minikube tunnel -p ${profile}\`: it gives LoadBalancer Services (the API ${APP_RELEASE}-api) an address reachable from this machine.`,
    'It may ask for your password (sudo): it adds a network route to the cluster and may bind privileged ports. keda-lab never sees the password.',
    `Once it runs: kubectl get svc ${APP_RELEASE}-api -n ${namespace} shows the API's EXTERNAL-IP. Ctrl-C stops the tunnel.`,
    'No sudo? Use `keda-lab tunnel --port-forward` instead (local ports, no routes).',
  ]
}

/** How to read Grafana's admin password (never printed by keda-lab itself). */
export function grafanaPasswordHint(monitoringNamespace: string): string {
  return `kubectl get secret keda-lab-grafana -n ${monitoringNamespace} -o jsonpath='{.data.admin-password}' | base64 -d   (user admin)`
}

export interface PortForwardTunnel {
  forwards: RunningForward[]
  /** Targets left out, with why (e.g. monitoring not installed). */
  skipped: {target: ForwardTarget; reason: string}[]
  close(): Promise<void>
}

/**
 * Starts a forward for every target whose Service exists. The API's Service must exist (else the
 * lab is not installed: exit code 3); a missing monitoring Service is skipped and said so.
 */
export async function openPortForwards(options: {
  kube: Pick<Kube, 'getService' | 'listPods' | 'forwardPort'>
  targets: ForwardTarget[]
  address?: string
  onEvent?: (event: ForwardEvent) => void
}): Promise<PortForwardTunnel> {
  const forwards: RunningForward[] = []
  const skipped: PortForwardTunnel['skipped'] = []
  try {
    for (const target of options.targets) {
      const service = await options.kube.getService(target.namespace, target.service)
      if (!service) {
        if (target.id === 'api') {
          throw new KedaLabError(`Service ${target.namespace}/${target.service} does not exist: keda-lab is not installed in namespace ${target.namespace}`, {
            hint: 'install it with `keda-lab install`, or pick the namespace with -n / the context with --context',
            exitCode: 3,
          })
        }
        skipped.push({target, reason: `Service ${target.namespace}/${target.service} does not exist (monitoring not installed?)`})
        continue
      }
      forwards.push(await startForward({kube: options.kube, target, address: options.address, onEvent: options.onEvent}))
    }
  } catch (error) {
    await Promise.all(forwards.map((f) => f.close()))
    throw error
  }
  return {forwards, skipped, close: async () => void (await Promise.all(forwards.map((f) => f.close())))}
}

/**
 * Runs `minikube tunnel` in the foreground with the terminal attached (its sudo prompt needs it)
 * until it exits or `signal` aborts; Ctrl-C in a terminal reaches minikube too.
 */
export async function runMinikubeTunnel(command: ToolCommand, signal?: AbortSignal): Promise<number> {
  const [{execa}, {missingTool}] = await Promise.all([import('execa'), import('../../adapters/cluster-tools.js')])
  const result = await execa(command.bin, command.args, {stdio: 'inherit', reject: false, cancelSignal: signal, forceKillAfterDelay: 5000})
  if ((result as {code?: string}).code === 'ENOENT' || (result.failed && result.exitCode === undefined && /ENOENT/.test(result.message ?? '')))
    throw missingTool(command.bin)
  if (result.isCanceled || signal?.aborted) return 0
  return result.exitCode ?? 1
}
