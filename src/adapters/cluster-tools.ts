/**
 * The external command-line tools keda-lab drives besides the Kubernetes API: helm (see helm.ts),
 * minikube, kind and docker. One runner (`runTool`) for all of them so that every failure carries the
 * same facts — which program, its exit code and the tail of its stderr — and a missing program says
 * where to get it instead of printing a stack trace.
 */
import {KedaLabError} from '../errors.js'

/** One command line to run: the plan prints these as-is under --dry-run. */
export interface ToolCommand {
  bin: string
  args: string[]
  /** Working directory (image builds run in the package root). */
  cwd?: string
}

/** Where to get each program when it is missing. */
const INSTALL_URLS: Record<string, string> = {
  helm: 'https://helm.sh/docs/intro/install/',
  minikube: 'https://minikube.sigs.k8s.io/docs/start/',
  kind: 'https://kind.sigs.k8s.io/docs/user/quick-start/#installation',
  docker: 'https://docs.docker.com/engine/install/',
}

/** A tool ran and failed: exit code and the last lines of its stderr, for the step's error report. */
export class ToolError extends KedaLabError {
  readonly command: ToolCommand
  readonly toolExitCode?: number
  readonly stderrTail: string
  readonly interrupted: boolean

  constructor(command: ToolCommand, details: {exitCode?: number; stderrTail: string; interrupted?: boolean}) {
    super(
      details.interrupted
        ? `${command.bin} ${command.args.slice(0, 2).join(' ')} was interrupted`
        : `${command.bin} ${command.args.slice(0, 2).join(' ')} failed (exit code ${details.exitCode ?? 'unknown'})`,
    )
    this.name = 'ToolError'
    this.command = command
    this.toolExitCode = details.exitCode
    this.stderrTail = details.stderrTail
    this.interrupted = Boolean(details.interrupted)
  }
}

/** Keeps the last `lines` non-empty lines of a program's output. */
export function tail(text: string, lines = 8): string {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(-lines)
    .join('\n')
}

export interface RunToolOptions {
  /** Aborting kills the child (SIGTERM) — how Ctrl-C stops the running step. */
  signal?: AbortSignal
  /** Each line of stdout/stderr as it arrives (progress output in the task list). */
  onLine?: (line: string) => void
  env?: NodeJS.ProcessEnv
}

/** Runs a tool to completion; returns its stdout, throws ToolError / KedaLabError (missing program). */
export async function runTool(command: ToolCommand, options: RunToolOptions = {}): Promise<string> {
  const {execa} = await import('execa')
  const child = execa(command.bin, command.args, {
    cwd: command.cwd,
    env: options.env,
    reject: false,
    cancelSignal: options.signal,
    forceKillAfterDelay: 5000,
    stdin: 'ignore',
    all: true,
  })
  const onLine = options.onLine
  if (onLine) {
    child.all?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) onLine(line.trimEnd())
    })
  }
  const result = await child
  if ((result as {code?: string}).code === 'ENOENT' || (result.failed && /ENOENT/.test(result.message ?? '') && result.exitCode === undefined)) {
    throw missingTool(command.bin)
  }
  if (result.isCanceled || (options.signal?.aborted && result.failed)) {
    throw new ToolError(command, {stderrTail: tail(String(result.stderr ?? '')), interrupted: true})
  }
  if (result.failed) {
    throw new ToolError(command, {exitCode: result.exitCode, stderrTail: tail(String(result.stderr || result.stdout || result.message))})
  }
  return String(result.stdout ?? '')
}

/** The error for a program that is not on PATH. */
export function missingTool(bin: string): KedaLabError {
  const url = INSTALL_URLS[bin]
  return new KedaLabError(`${bin} not found${url ? `: install it from ${url}` : ' on PATH'}`, {
    hint: url ? `install ${bin} (${url}) and make sure it is on PATH, then run the command again` : `put ${bin} on PATH`,
  })
}

/** What kind of cluster the context points at: decides how the image gets in and what hints to give. */
export type ClusterKind = 'minikube' | 'kind' | 'other'

/**
 * Detects minikube/kind from the context name and the nodes' labels: minikube labels its nodes
 * `minikube.k8s.io/name=<profile>`; kind names its contexts `kind-<cluster>` and its nodes
 * `<cluster>-control-plane`.
 */
export function detectClusterKind(contextName: string, nodes: readonly {name: string; labels: Record<string, string>}[]): {kind: ClusterKind; name?: string} {
  const minikubeProfile = nodes.map((n) => n.labels['minikube.k8s.io/name']).find(Boolean)
  if (minikubeProfile) return {kind: 'minikube', name: minikubeProfile}
  if (contextName === 'minikube') return {kind: 'minikube', name: 'minikube'}
  const controlPlane = nodes.find((n) => n.name.endsWith('-control-plane'))
  if (contextName.startsWith('kind-')) return {kind: 'kind', name: contextName.slice('kind-'.length)}
  if (controlPlane && nodes.every((n) => /-(control-plane\d*|worker\d*)$/.test(n.name))) {
    return {kind: 'kind', name: controlPlane.name.replace(/-control-plane$/, '')}
  }
  return {kind: 'other'}
}

/** `minikube image build -t <tag> -p <profile> <dir>`: builds straight into the cluster's runtime. */
export function minikubeImageBuild(profile: string, tag: string, contextDir: string): ToolCommand {
  return {bin: 'minikube', args: ['image', 'build', '-t', tag, '-p', profile, '.'], cwd: contextDir}
}

/** `minikube addons enable metrics-server -p <profile>` (the API's HPA needs the metrics API). */
export function minikubeEnableMetricsServer(profile: string): ToolCommand {
  return {bin: 'minikube', args: ['addons', 'enable', 'metrics-server', '-p', profile]}
}

/** `docker build -t <tag> .` in the package root (kind has no in-cluster build). */
export function dockerBuild(tag: string, contextDir: string): ToolCommand {
  return {bin: 'docker', args: ['build', '-t', tag, '.'], cwd: contextDir}
}

/** `kind load docker-image <tag> --name <cluster>`: copies the local image onto the kind nodes. */
export function kindLoadImage(cluster: string, tag: string): ToolCommand {
  return {bin: 'kind', args: ['load', 'docker-image', tag, '--name', cluster]}
}
