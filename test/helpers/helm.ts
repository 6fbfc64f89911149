import {existsSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import {parseAllDocuments, stringify} from 'yaml'

import {runTracked} from './processes.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The application chart, as `keda-lab install` deploys it. */
export const CHART_DIR = join(root, 'templates', 'chart', 'keda-lab')

/** Helm majors the lab supports; both are tested, since their flags and schema validators differ. */
export type HelmMajor = 3 | 4

/** Path of the real Helm binary of a major version, extracted by `scripts/fetch-tools.sh`. */
export function helmBinary(major: HelmMajor): string {
  const path = join(root, '.tools', `helm${major}`, 'helm')
  if (!existsSync(path)) {
    // A missing tool is a failure that says how to get it, never a silent skip.
    throw new Error(`Helm ${major} not found at ${path}: run scripts/fetch-tools.sh (or .ci/run) to extract it`)
  }
  return path
}

/** What a Helm run printed and how it ended. */
export interface HelmResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** Runs the real Helm binary of `major` with `args`; never throws on a non-zero exit. */
export async function runHelm(major: HelmMajor, args: string[], timeoutMs = 30_000): Promise<HelmResult> {
  const result = await runTracked(helmBinary(major), args, {
    timeoutMs,
    // Keep Helm away from the user's repositories, cache and plugins.
    env: {...process.env, HELM_CACHE_HOME: join(tmpdir(), 'keda-lab-helm-cache'), HELM_CONFIG_HOME: join(tmpdir(), 'keda-lab-helm-config')},
  })
  // Without the final newline, as execa returned it before.
  const trim = (text: string) => text.replace(/\r?\n$/, '')
  return {exitCode: result.exitCode ?? -1, stdout: trim(result.stdout), stderr: trim(result.stderr)}
}

/** Options of a chart render or lint. */
export interface ChartRunOptions {
  /** Values written to a temporary values file and passed with `-f`. */
  values?: Record<string, unknown>
  /** Extra raw `--set` expressions. */
  set?: string[]
  /** Release namespace (default `keda`, the lab's application namespace). */
  namespace?: string
  /** Release name (default `keda-lab`). */
  release?: string
}

async function withValuesFile<T>(values: Record<string, unknown> | undefined, run: (args: string[]) => Promise<T>): Promise<T> {
  if (!values) return run([])
  const dir = await mkdtemp(join(tmpdir(), 'keda-lab-values-'))
  try {
    const file = join(dir, 'values.yaml')
    await writeFile(file, stringify(values))
    return await run(['-f', file])
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

function setArgs(set: string[] | undefined): string[] {
  return (set ?? []).flatMap((expression) => ['--set', expression])
}

/** `helm template <release> CHART_DIR` with the given values. */
export async function helmTemplate(major: HelmMajor, options: ChartRunOptions = {}): Promise<HelmResult> {
  return withValuesFile(options.values, (valueArgs) =>
    runHelm(major, ['template', options.release ?? 'keda-lab', CHART_DIR, '--namespace', options.namespace ?? 'keda', ...valueArgs, ...setArgs(options.set)]),
  )
}

/** `helm lint --strict CHART_DIR` with the given values. */
export async function helmLint(major: HelmMajor, options: ChartRunOptions = {}): Promise<HelmResult> {
  return withValuesFile(options.values, (valueArgs) =>
    runHelm(major, ['lint', '--strict', CHART_DIR, '--namespace', options.namespace ?? 'keda', ...valueArgs, ...setArgs(options.set)]),
  )
}

/** A rendered Kubernetes object (loosely typed: tests look into it). */
export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: {name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>}
  [key: string]: unknown
}

/** Parses `helm template` output into objects; comment-only documents are dropped. */
export function parseManifests(stdout: string): K8sObject[] {
  const objects: K8sObject[] = []
  for (const doc of parseAllDocuments(stdout)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`)
    const value = doc.toJS() as K8sObject | null
    if (value === null) continue
    if (typeof value !== 'object' || !value.apiVersion || !value.kind) {
      throw new Error(`rendered document is not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`)
    }
    objects.push(value)
  }
  return objects
}

/** Renders the chart and parses it, failing with Helm's own message when the render fails. */
export async function renderChart(major: HelmMajor, options: ChartRunOptions = {}): Promise<K8sObject[]> {
  const result = await helmTemplate(major, options)
  if (result.exitCode !== 0) throw new Error(`helm ${major} template failed (exit ${result.exitCode}): ${result.stderr}`)
  return parseManifests(result.stdout)
}
