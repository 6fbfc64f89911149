/**
 * The Helm edge. keda-lab supports Helm 3 and Helm 4: it detects the major version from
 * `helm version --short` and builds each command line for it (Helm 4 renamed `--atomic` to
 * `--rollback-on-failure` and `--force` to `--force-replace`). Command lines are data (ToolCommand)
 * so that `--dry-run` prints exactly what `install` runs.
 */
import {runTool, type RunToolOptions, type ToolCommand, ToolError} from './cluster-tools.js'
import {KedaLabError} from '../errors.js'

export type HelmMajor = 3 | 4

export interface HelmVersion {
  major: HelmMajor
  /** As printed, e.g. `v3.17.3+ge4da497`. */
  version: string
}

/** Parses `helm version --short` output; other majors are rejected with a clear message. */
export function parseHelmVersion(output: string): HelmVersion {
  const match = /v(\d+)\.(\d+)\.(\d+)\S*/.exec(output.trim())
  if (!match)
    throw new KedaLabError(`could not read helm's version from "${output.trim().slice(0, 80)}"`, {
      hint: 'run `helm version --short`; keda-lab needs Helm 3 or 4',
    })
  const major = Number(match[1])
  if (major !== 3 && major !== 4) {
    throw new KedaLabError(`helm ${match[0]} is not supported: keda-lab needs Helm 3 or 4`, {
      hint: 'install Helm 3 or 4 from https://helm.sh/docs/intro/install/',
    })
  }
  return {major, version: match[0]}
}

export interface HelmOptions {
  /** The helm program (default `helm` from PATH). */
  bin?: string
  /** `--kube-context` added to every cluster command. */
  kubeContext?: string
  env?: NodeJS.ProcessEnv
}

/** One `helm upgrade --install`. */
export interface ReleaseSpec {
  release: string
  /** `repo/chart` or a local chart directory. */
  chart: string
  namespace: string
  /** Pinned chart version (omitted for the local app chart). */
  version?: string
  valuesFiles: string[]
  /** Helm's `--timeout`, e.g. `10m`. */
  timeout: string
  /** Roll back (or uninstall a first install) when the release does not become ready (needs `wait`). */
  rollbackOnFailure?: boolean
  /**
   * Let Helm wait for the release's resources (default true). false: no `--wait` (and so no
   * rollback) — for a release whose readiness the caller judges itself: Helm 3 would also wait
   * for a LoadBalancer Service's address, which many clusters never assign.
   */
  wait?: boolean
}

/** One `helm pull` of a pinned chart straight from its repository URL (no `helm repo add`). */
export interface PullSpec {
  /** Chart name inside the repository. */
  chart: string
  /** Repository URL (upstream or a mirror). */
  repoUrl: string
  /** Exact chart version. */
  version: string
  /** Folder the .tgz is written to. */
  destination: string
}

export interface Helm {
  readonly bin: string
  /** Runs `helm version --short` (read-only; also under --dry-run). ENOENT → "helm not found: …". */
  version(): Promise<HelmVersion>
  repoAdd(name: string, url: string): ToolCommand
  repoUpdate(names: string[]): ToolCommand
  pull(spec: PullSpec): ToolCommand
  upgradeInstall(major: HelmMajor, spec: ReleaseSpec): ToolCommand
  template(spec: Omit<ReleaseSpec, 'timeout' | 'rollbackOnFailure'>): ToolCommand
  run(command: ToolCommand, options?: RunToolOptions): Promise<string>
}

/** The command lines, for a given helm program and context; pure. */
export function helmCommands(bin = 'helm', kubeContext?: string) {
  const ctx = kubeContext ? ['--kube-context', kubeContext] : []
  return {
    repoAdd: (name: string, url: string): ToolCommand => ({bin, args: ['repo', 'add', name, url, '--force-update']}),
    repoUpdate: (names: string[]): ToolCommand => ({bin, args: ['repo', 'update', ...names]}),
    /**
     * `helm pull <chart> --repo <url> --version <v> --destination <dir>`: the same flags in Helm 3
     * and 4; `--repo` leaves the user's repository list alone.
     */
    pull: (spec: PullSpec): ToolCommand => ({
      bin,
      args: ['pull', spec.chart, '--repo', spec.repoUrl, '--version', spec.version, '--destination', spec.destination],
    }),
    upgradeInstall(major: HelmMajor, spec: ReleaseSpec): ToolCommand {
      const args = ['upgrade', '--install', spec.release, spec.chart, '--namespace', spec.namespace]
      if (spec.version) args.push('--version', spec.version)
      for (const file of spec.valuesFiles) args.push('--values', file)
      // Helm 4's --wait takes a strategy; `watcher` is its kstatus-based equivalent of Helm 3's --wait.
      if (spec.wait !== false) args.push(major === 4 ? '--wait=watcher' : '--wait')
      args.push('--timeout', spec.timeout)
      if (spec.rollbackOnFailure && spec.wait !== false) args.push(major === 4 ? '--rollback-on-failure' : '--atomic')
      return {bin, args: [...args, ...ctx]}
    },
    /**
     * Every release in every namespace, including failed, pending (an interrupted install) and
     * half-uninstalled ones. The state flags are spelled out because Helm 4 dropped `--all`; these
     * four exist in Helm 3 and 4 alike.
     */
    list: (): ToolCommand => ({bin, args: ['list', '--all-namespaces', '--deployed', '--failed', '--pending', '--uninstalling', '--output', 'json', ...ctx]}),
    /**
     * `helm show crds`: the CRDs of a chart's crds/ folder AND of its subcharts' (Helm 3 and 4), from
     * `repo/chart` + version or a local archive. No cluster involved.
     */
    showCrds: (chart: string, version?: string): ToolCommand => ({bin, args: ['show', 'crds', chart, ...(version ? ['--version', version] : [])]}),
    /** `helm get manifest`: what the release's templates rendered (CRDs in templates included, crds/ folders not). */
    getManifest: (release: {name: string; namespace: string}): ToolCommand => ({
      bin,
      args: ['get', 'manifest', release.name, '--namespace', release.namespace, ...ctx],
    }),
    /** `helm uninstall`: the same flags in Helm 3 and 4. */
    uninstall: (release: {name: string; namespace: string}, timeout = '5m'): ToolCommand => ({
      bin,
      args: ['uninstall', release.name, '--namespace', release.namespace, '--timeout', timeout, ...ctx],
    }),
    template(spec: Omit<ReleaseSpec, 'timeout' | 'rollbackOnFailure'>): ToolCommand {
      const args = ['template', spec.release, spec.chart, '--namespace', spec.namespace]
      if (spec.version) args.push('--version', spec.version)
      for (const file of spec.valuesFiles) args.push('--values', file)
      return {bin, args}
    },
  }
}

/** Creates the Helm adapter (execa underneath, loaded lazily). */
export function createHelm(options: HelmOptions = {}): Helm {
  const bin = options.bin ?? 'helm'
  const commands = helmCommands(bin, options.kubeContext)
  return {
    bin,
    ...commands,
    async version() {
      try {
        return parseHelmVersion(await runTool({bin, args: ['version', '--short']}, {env: options.env}))
      } catch (error) {
        if (error instanceof ToolError)
          throw new KedaLabError(`\`helm version\` failed: ${error.stderrTail || 'no output'}`, {
            hint: 'reinstall helm from https://helm.sh/docs/intro/install/',
          })
        throw error
      }
    },
    run: (command, runOptions) => runTool(command, {env: options.env, ...runOptions}),
  }
}
