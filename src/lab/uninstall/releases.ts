/**
 * The Helm releases keda-lab installs, and the two helm calls uninstall needs: `helm list` to learn
 * which of them exist (and where), and `helm uninstall` for each, in reverse install order.
 */
import {runTool, ToolError} from '../../adapters/cluster-tools.js'
import {helmCommands} from '../../adapters/helm.js'
import {KedaLabError} from '../../errors.js'

/** Install order; uninstall walks it backwards (the app before the monitoring, KEDA last). */
export const INSTALL_ORDER = ['keda', 'redis-ha', 'kube-prometheus-stack', 'loki', 'alloy', 'keda-lab'] as const
/** The name of one of the lab's releases. */
export type LabRelease = (typeof INSTALL_ORDER)[number]
/** INSTALL_ORDER backwards: the app first, KEDA last (it must outlive the app's ScaledObjects). */
export const UNINSTALL_ORDER: readonly LabRelease[] = [...INSTALL_ORDER].reverse()

/** Releases that live in the monitoring namespace; the others live in the application namespace. */
export const MONITORING_RELEASES: readonly LabRelease[] = ['kube-prometheus-stack', 'loki', 'alloy']

/** One entry of `helm list -o json`. */
export interface HelmRelease {
  name: string
  namespace: string
  status?: string
  chart?: string
  revision?: string
}

/** The lab's releases among `all`, in uninstall order: each name only in the namespace keda-lab puts it in. */
export function labReleases(all: readonly HelmRelease[], namespace: string, monitoringNamespace: string): HelmRelease[] {
  return UNINSTALL_ORDER.flatMap((name) => {
    const expected = MONITORING_RELEASES.includes(name) ? monitoringNamespace : namespace
    return all.filter((r) => r.name === name && r.namespace === expected)
  })
}

/** The helm calls uninstall needs (an interface so the run can be driven in tests). */
export interface ReleaseManager {
  /** Every release in every namespace that is not superseded or uninstalled (`helm list --all-namespaces ... -o json`). */
  list(): Promise<HelmRelease[]>
  uninstall(release: HelmRelease): Promise<void>
}

/** How createReleaseManager runs helm. */
export interface ReleaseManagerOptions {
  /** The helm program (default `helm` from PATH). */
  bin?: string
  kubeContext?: string
  env?: NodeJS.ProcessEnv
  /** Helm's own timeout for one uninstall. */
  timeout?: string
}

/** Parses `helm list -o json` (an array; empty output is an error, helm prints `[]` when there is nothing). */
export function parseHelmList(stdout: string): HelmRelease[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(stdout)
  } catch {
    throw new KedaLabError(`could not read the output of \`helm list -o json\`: "${stdout.trim().slice(0, 120)}"`, {
      hint: 'run `helm list --all-namespaces` yourself to see what helm says',
    })
  }
  if (!Array.isArray(parsed)) throw new KedaLabError('`helm list -o json` did not print a list', {hint: 'check your helm version: keda-lab needs Helm 3 or 4'})
  return parsed
    .filter((r): r is Record<string, unknown> => Boolean(r) && typeof r === 'object')
    .map((r) => ({
      name: String(r.name ?? ''),
      namespace: String(r.namespace ?? ''),
      status: r.status === undefined ? undefined : String(r.status),
      chart: r.chart === undefined ? undefined : String(r.chart),
      revision: r.revision === undefined ? undefined : String(r.revision),
    }))
}

/** helm through execa (runTool: a missing helm says where to get it; a failure carries stderr's tail). */
export function createReleaseManager(options: ReleaseManagerOptions = {}): ReleaseManager {
  const helm = helmCommands(options.bin ?? 'helm', options.kubeContext)
  return {
    async list() {
      try {
        return parseHelmList(await runTool(helm.list(), {env: options.env}))
      } catch (error) {
        if (error instanceof ToolError) {
          throw new KedaLabError(`\`helm list\` failed: ${error.stderrTail.replace(/^Error: /, '') || `exit code ${error.toolExitCode}`}`, {
            hint: 'check that helm reaches the cluster: `helm list --all-namespaces` (same kubeconfig and --context as keda-lab)',
            cause: error,
          })
        }
        throw error
      }
    },
    async uninstall(release) {
      await runTool(helm.uninstall(release, options.timeout), {env: options.env})
    },
  }
}
