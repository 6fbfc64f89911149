/**
 * Where each pinned third-party chart (src/lab/charts.ts) comes from at install time: its
 * repository, a mirror of it (`--chart-repo NAME=URL`), or a .tgz pulled beforehand by
 * `keda-lab charts pull DIR` on a connected machine (`--charts DIR`). A pulled folder carries a
 * manifest (keda-lab-charts.json) with each chart's version and the sha256 of its archive; both,
 * and the name and version in each archive's own Chart.yaml, are checked before anything is
 * installed, so a folder pulled for other pins, a damaged copy or a manifest edited to the pins
 * stops the install with the chart's name instead of installing something else.
 */
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join, resolve} from 'node:path'

import type {ToolCommand} from '../adapters/cluster-tools.js'
import {ToolError} from '../adapters/cluster-tools.js'
import type {PullSpec} from '../adapters/helm.js'
import {parse as parseYaml} from 'yaml'
import {ConfigError, KedaLabError} from '../errors.js'
import {type ArchiveChart, readArchiveChart} from './chart-archive.js'
import {CHARTS, type ChartName, type ChartRef} from './charts.js'

/** File name of the manifest `charts pull` writes beside the archives. */
export const CHARTS_MANIFEST = 'keda-lab-charts.json'

/** One pulled chart in the manifest. */
export interface PulledChart {
  /** Role of the chart in the lab (`keda`, `redisHa`, …: the keys of CHARTS). */
  name: ChartName
  chart: string
  version: string
  /** Repository it was pulled from (upstream or the mirror given with --chart-repo). */
  repoUrl: string
  /** Archive file name inside the folder, e.g. `keda-2.20.2.tgz`. */
  file: string
  /** sha256 of the archive, hex. */
  sha256: string
}

/** keda-lab-charts.json. */
export interface ChartsManifest {
  kind: 'keda-lab-charts'
  /** The helm that pulled the charts (`helm version --short`). */
  pulledWith: string
  charts: PulledChart[]
}

/** Where one chart comes from. */
export type ChartSource = {type: 'repository'; ref: ChartRef; repoName: string; repoUrl: string} | {type: 'archive'; ref: ChartRef; path: string}

export type ChartSources = Record<ChartName, ChartSource>

const CHART_NAMES = Object.keys(CHARTS) as ChartName[]
const REPO_NAMES: string[] = [...new Set(Object.values(CHARTS).map((c) => c.repoName))]

/** The hint for a machine without access to the chart repositories: both ways out. */
export const OFFLINE_HINT =
  'on a machine that reaches the chart repositories run `keda-lab charts pull DIR`, copy DIR here and install with --charts DIR; ' +
  `or point each repository at a mirror with --chart-repo NAME=URL (names: ${REPO_NAMES.join(', ')})`

/** Archive name `helm pull` writes for a chart: `<chart>-<version>.tgz`. */
export function archiveName(ref: ChartRef): string {
  return `${ref.chart}-${ref.version}.tgz`
}

/**
 * Parses the `--chart-repo NAME=URL` values into {repoName: url}. NAME is one of the repository
 * names in src/lab/charts.ts; URL is http(s).
 */
export function parseChartRepoOverrides(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of values ?? []) {
    const text = raw.trim()
    if (text === '') continue
    const eq = text.indexOf('=')
    const name = eq > 0 ? text.slice(0, eq).trim() : ''
    const url =
      eq > 0
        ? text
            .slice(eq + 1)
            .trim()
            .replace(/\/+$/, '')
        : ''
    if (!name || !url)
      throw new ConfigError(
        `--chart-repo "${text.slice(0, 80)}": expected NAME=URL`,
        `e.g. --chart-repo kedacore=https://charts.example.com/kedacore (names: ${REPO_NAMES.join(', ')})`,
      )
    if (!REPO_NAMES.includes(name)) {
      throw new ConfigError(`--chart-repo ${name}: keda-lab installs from no repository of that name`, `use one of: ${REPO_NAMES.join(', ')}`)
    }
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new ConfigError(`--chart-repo ${name}: "${url.slice(0, 80)}" is not a URL`, `e.g. --chart-repo ${name}=https://charts.example.com/${name}`)
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError(
        `--chart-repo ${name}: "${url.slice(0, 80)}" is not an http(s) URL`,
        `Helm reads chart repositories over HTTP(S): e.g. --chart-repo ${name}=https://charts.example.com/${name}`,
      )
    }
    out[name] = url
  }
  return out
}

/** The --chart-repo values: the flags when given, else KEDA_LAB_CHART_REPO split at commas. */
export function chartRepoValues(flagValues: readonly string[] | undefined, env: NodeJS.ProcessEnv): string[] {
  if (flagValues && flagValues.length > 0) return [...flagValues]
  return (env.KEDA_LAB_CHART_REPO ?? '').split(',').filter((v) => v.trim() !== '')
}

/** Every chart from its repository (or the mirror given for that repository). */
export function repositorySources(overrides: Record<string, string> = {}): ChartSources {
  return Object.fromEntries(
    CHART_NAMES.map((name) => {
      const ref: ChartRef = CHARTS[name]
      return [name, {type: 'repository', ref, repoName: ref.repoName, repoUrl: overrides[ref.repoName] ?? ref.repoUrl}]
    }),
  ) as ChartSources
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/**
 * Reads DIR's manifest and checks it against the pins and the archives. Returns the archive path
 * of each chart the manifest lists; charts it does not list are not in the map.
 */
export async function readChartsDir(dir: string): Promise<Partial<Record<ChartName, string>>> {
  const label = `--charts ${dir}`
  const pullHint = 'run `keda-lab charts pull DIR` with this keda-lab version on a machine that reaches the chart repositories, and copy DIR here'
  const manifestPath = join(dir, CHARTS_MANIFEST)
  if (!existsSync(manifestPath)) throw new ConfigError(`${label}: no ${CHARTS_MANIFEST} in it (not a folder written by \`keda-lab charts pull\`)`, pullHint)
  let manifest: ChartsManifest
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as ChartsManifest
  } catch (error) {
    throw new ConfigError(`${label}: ${CHARTS_MANIFEST} is not valid JSON (${(error as Error).message.split('\n')[0]})`, pullHint)
  }
  if (manifest?.kind !== 'keda-lab-charts' || !Array.isArray(manifest.charts)) {
    throw new ConfigError(`${label}: ${CHARTS_MANIFEST} is not a keda-lab charts manifest`, pullHint)
  }
  const out: Partial<Record<ChartName, string>> = {}
  for (const entry of manifest.charts) {
    const ref: ChartRef | undefined = CHARTS[entry.name]
    if (!ref) continue // a chart this version no longer installs
    if (entry.version !== ref.version) {
      throw new ConfigError(`${label}: chart ${ref.chart} is ${entry.version} there, but this keda-lab installs ${ref.chart} ${ref.version}`, pullHint)
    }
    const path = join(dir, entry.file)
    if (!existsSync(path)) throw new ConfigError(`${label}: chart ${ref.chart} ${ref.version}: ${entry.file} is missing`, pullHint)
    const digest = sha256(await readFile(path))
    if (digest !== entry.sha256) {
      throw new ConfigError(
        `${label}: chart ${ref.chart} ${ref.version}: ${entry.file} has sha256 ${digest}, the manifest says ${entry.sha256} (changed or damaged since \`charts pull\`)`,
        pullHint,
      )
    }
    // The manifest vouches for nothing by itself: the archive's own Chart.yaml is what Helm installs.
    let inside: ArchiveChart
    try {
      inside = await readArchiveChart(path)
    } catch (error) {
      throw new ConfigError(`${label}: ${entry.file} cannot be read as a chart: ${(error as Error).message}`, pullHint)
    }
    if (inside.name !== ref.chart || inside.version !== ref.version) {
      throw new ConfigError(
        `${label}: ${entry.file} holds chart ${inside.name} ${inside.version} (its Chart.yaml), but this keda-lab installs ${ref.chart} ${ref.version}${
          entry.version === ref.version && entry.chart === ref.chart
            ? ` (${CHARTS_MANIFEST} says ${entry.chart} ${entry.version}: it does not match its archive)`
            : ''
        }`,
        pullHint,
      )
    }
    out[entry.name] = path
  }
  return out
}

/** Resolves where every chart comes from: the pulled folder first, then the (mirrored) repository. */
export async function resolveChartSources(options: {chartsDir?: string; chartRepos?: readonly string[]; cwd: string}): Promise<ChartSources> {
  const sources = repositorySources(parseChartRepoOverrides(options.chartRepos))
  if (!options.chartsDir) return sources
  const archives = await readChartsDir(resolve(options.cwd, options.chartsDir))
  for (const name of CHART_NAMES) {
    const path = archives[name]
    if (path) sources[name] = {type: 'archive', ref: CHARTS[name], path}
  }
  return sources
}

/** What `helm upgrade --install` / `helm template` get for a chart: `repo/chart` + version, or the archive. */
export function chartArgument(source: ChartSource): {chart: string; version?: string} {
  // A local archive is exactly one version (checked against the pin above); Helm ignores --version for it.
  if (source.type === 'archive') return {chart: source.path}
  return {chart: `${source.repoName}/${source.ref.chart}`, version: source.ref.version}
}

/** One line for people: where a chart comes from. */
export function describeSource(source: ChartSource): string {
  if (source.type === 'archive') return `${source.path} (${source.ref.chart} ${source.ref.version})`
  return `${source.repoName}/${source.ref.chart}@${source.ref.version}${source.repoUrl === source.ref.repoUrl ? '' : ` from ${source.repoUrl}`}`
}

/** The repositories (name → URL) the given charts still need. */
export function neededRepositories(sources: ChartSources, names: readonly ChartName[]): Map<string, string> {
  const repos = new Map<string, string>()
  for (const name of names) {
    const source = sources[name]
    if (source.type === 'repository') repos.set(source.repoName, source.repoUrl)
  }
  return repos
}

/** A pinned chart version a repository does not serve. */
export interface MissingChart {
  chart: string
  /** The pinned version asked for. */
  version: string
  /** The newest version the repository has of that chart, if any. */
  newest?: string
}

/** Whether one chart repository answered, and serves the pinned versions asked of it. */
export interface RepositoryProbe {
  name: string
  url: string
  ok: boolean
  /** Why not (network error or HTTP status). */
  error?: string
  /**
   * The pinned chart versions its index.yaml does not list (the repository answered: `ok` stays
   * true, the pre-flight check fails on these).
   */
  missing?: MissingChart[]
  /**
   * The proxy variable (e.g. HTTPS_PROXY) configured for this URL that the probe did not go through
   * (Node's fetch ignores it unless NODE_USE_ENV_PROXY=1) while Helm will: a network error then
   * says nothing about Helm's access.
   */
  bypassedProxy?: string
}

/** The proxy variable Helm would use for `url` and this probe does not, if any. */
function bypassedProxy(url: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.NODE_USE_ENV_PROXY === '1') return undefined
  const names = url.startsWith('https:') ? ['HTTPS_PROXY', 'https_proxy'] : ['HTTP_PROXY', 'http_proxy']
  return names.find((name) => env[name])
}

/** Orders chart versions (semver: numbers compared as numbers; a pre-release before its release). */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    // Build metadata (after '+') does not order versions: drop it, then split off the pre-release.
    const [core = '', pre] = v.replace(/^v/, '').replace(/\+.*$/s, '').split(/-(.*)/s)
    return {nums: core.split('.').map((n) => Number.parseInt(n, 10) || 0), pre}
  }
  const x = split(a)
  const y = split(b)
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0)
    if (d !== 0) return d
  }
  if (x.pre === y.pre) return 0
  if (x.pre === undefined) return 1
  if (y.pre === undefined) return -1
  return x.pre < y.pre ? -1 : 1
}

/**
 * The versions a repository's index.yaml lists for each of `charts`. Big indexes (megabytes) are
 * cut to the chart's own entry before parsing when the index has the layout `helm repo index`
 * writes; any other layout (a mirror's, JSON) is parsed whole.
 */
export function indexVersions(indexText: string, charts: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  let whole: {entries?: Record<string, {version?: unknown}[]>} | undefined
  for (const chart of charts) {
    const start = new RegExp(`^  ${chart.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:[ \t]*$`, 'm').exec(indexText)
    let entries: {version?: unknown}[] | undefined
    if (start) {
      const rest = indexText.slice(start.index)
      // The entry ends at the next line indented less than its list items (`  - ` continues it).
      const end = /\n(?:\S| {1,2}[^\s-])/.exec(rest.slice(start[0].length))
      const slice = end ? rest.slice(0, start[0].length + end.index) : rest
      try {
        entries = (parseYaml(`entries:\n${slice}`) as {entries?: Record<string, {version?: unknown}[]>})?.entries?.[chart]
      } catch {
        entries = undefined
      }
    }
    if (!Array.isArray(entries)) {
      whole ??= (parseYaml(indexText) ?? {}) as {entries?: Record<string, {version?: unknown}[]>}
      entries = whole.entries?.[chart]
    }
    out.set(chart, Array.isArray(entries) ? entries.map((e) => String(e?.version ?? '')).filter(Boolean) : [])
  }
  return out
}

/**
 * GETs `<url>/index.yaml`; with `charts` (the pinned charts this repository must serve), reads it
 * and lists the pinned versions it does not have — so that a repository or mirror without them
 * fails pre-flight instead of the install halfway. Node's fetch: behind an HTTP proxy, run with
 * NODE_USE_ENV_PROXY=1.
 */
export async function probeRepository(
  name: string,
  url: string,
  timeoutMs = 5000,
  env: NodeJS.ProcessEnv = process.env,
  charts: readonly ChartRef[] = [],
): Promise<RepositoryProbe> {
  const index = `${url.replace(/\/+$/, '')}/index.yaml`
  const mine = charts.filter((c) => c.repoName === name)
  try {
    const res = await fetch(index, {signal: AbortSignal.timeout(mine.length > 0 ? Math.max(timeoutMs, 60_000) : timeoutMs), redirect: 'follow'})
    if (!res.ok || mine.length === 0) {
      await res.body?.cancel().catch(() => {})
      return res.ok ? {name, url, ok: true} : {name, url, ok: false, error: `HTTP ${res.status} for ${index}`}
    }
    let versions: Map<string, string[]>
    try {
      versions = indexVersions(
        await res.text(),
        mine.map((c) => c.chart),
      )
    } catch (error) {
      return {name, url, ok: false, error: `${index} is not a chart repository index (${(error as Error).message.split('\n')[0]})`}
    }
    const missing: MissingChart[] = []
    for (const ref of mine) {
      const listed = versions.get(ref.chart) ?? []
      if (listed.includes(ref.version)) continue
      const newest = [...listed].sort(compareVersions).at(-1)
      missing.push({chart: ref.chart, version: ref.version, ...(newest ? {newest} : {})})
    }
    return {name, url, ok: true, ...(missing.length > 0 ? {missing} : {})}
  } catch (error) {
    const e = error as Error & {cause?: {code?: string; message?: string}}
    const reason = e.name === 'TimeoutError' ? `no answer within ${Math.round(timeoutMs / 1000)} s` : (e.cause?.code ?? e.cause?.message ?? e.message)
    const proxy = bypassedProxy(url, env)
    return {name, url, ok: false, error: `${reason} for ${index}`, ...(proxy ? {bypassedProxy: proxy} : {})}
  }
}

/** Probes the repositories in parallel; each is read for the pinned versions among `charts` it serves. */
export async function probeRepositories(
  repos: ReadonlyMap<string, string>,
  timeoutMs?: number,
  env?: NodeJS.ProcessEnv,
  charts: readonly ChartRef[] = [],
): Promise<RepositoryProbe[]> {
  return Promise.all([...repos].map(([name, url]) => probeRepository(name, url, timeoutMs, env, charts)))
}

/** What `pullCharts` needs from Helm (src/adapters/helm.ts). */
export interface PullHelm {
  version(): Promise<{version: string}>
  pull(spec: PullSpec): ToolCommand
  run(command: ToolCommand): Promise<string>
}

/**
 * `keda-lab charts pull DIR`: `helm pull --version <pin>` of every pinned chart into DIR, then the
 * manifest with each archive's sha256. Returns the manifest it wrote.
 */
export async function pullCharts(options: {
  dir: string
  chartRepos?: readonly string[]
  helm: PullHelm
  onChart?: (chart: PulledChart) => void
}): Promise<ChartsManifest> {
  const sources = repositorySources(parseChartRepoOverrides(options.chartRepos))
  const helmVersion = (await options.helm.version()).version
  await mkdir(options.dir, {recursive: true})
  const charts: PulledChart[] = []
  for (const name of CHART_NAMES) {
    const source = sources[name] as Extract<ChartSource, {type: 'repository'}>
    const {ref} = source
    try {
      await options.helm.run(options.helm.pull({chart: ref.chart, repoUrl: source.repoUrl, version: ref.version, destination: options.dir}))
    } catch (error) {
      if (!(error instanceof ToolError)) throw error
      throw new KedaLabError(`helm pull ${ref.chart} ${ref.version} from ${source.repoUrl} failed: ${error.stderrTail.split('\n').at(-1) || 'no output'}`, {
        hint: `check that ${source.repoUrl}/index.yaml answers and lists ${ref.chart} ${ref.version}, or pull from a mirror with --chart-repo ${ref.repoName}=URL`,
      })
    }
    const file = archiveName(ref)
    const path = join(options.dir, file)
    if (!existsSync(path))
      throw new KedaLabError(`helm pull ${ref.chart} ${ref.version} wrote no ${file} in ${options.dir}`, {
        hint: 'run the same `helm pull` by hand and look at what it writes',
      })
    const chart: PulledChart = {name, chart: ref.chart, version: ref.version, repoUrl: source.repoUrl, file, sha256: sha256(await readFile(path))}
    charts.push(chart)
    options.onChart?.(chart)
  }
  const manifest: ChartsManifest = {kind: 'keda-lab-charts', pulledWith: helmVersion, charts}
  await writeFile(join(options.dir, CHARTS_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`)
  return manifest
}
