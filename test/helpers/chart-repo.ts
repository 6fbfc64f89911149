/**
 * A REAL Helm chart repository on loopback for tests: an HTTP server on 127.0.0.1 (free port) that
 * serves, per pinned repository (`/<repoName>/index.yaml` and the packaged `.tgz`), STAND-IN charts
 * written here for keda, redis-ha, kube-prometheus-stack, loki and alloy at the pinned versions
 * (src/lab/charts.ts). The charts are packaged by the real `helm package` and indexed by the real
 * `helm repo index`, so `helm repo add`, `helm pull` and `helm upgrade --install` really run.
 *
 * The stand-ins are small and honest (each Chart.yaml says it is a stand-in): the Deployments,
 * StatefulSets and Services whose names keda-lab's install, doctor and uninstall rely on, with the
 * labels the app chart's NetworkPolicies select, reading the values keda-lab writes
 * (templates/values/*), plus the REAL CRDs in each chart's crds/ folder — KEDA's from the Go module
 * github.com/kedacore/keda/v2 (config/crd/bases) and prometheus-operator's from
 * github.com/prometheus-operator/prometheus-operator (example/prometheus-operator-crd), read from
 * the Go module cache at test time (`go mod download -json`), never copied into this repository.
 * Pods run the pause image: on kwok no container starts anyway.
 *
 * What the stand-ins leave out of the real charts: KEDA's ValidatingWebhookConfiguration, the operators'
 * RBAC, kube-prometheus-stack's node-exporter DaemonSet, default ServiceMonitors and rules, Loki's
 * gateway and caches, every container that would really run.
 */
import {execFile} from 'node:child_process'
import {createReadStream, existsSync} from 'node:fs'
import {copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join, normalize, sep} from 'node:path'
import {promisify} from 'node:util'

import {CHARTS, type ChartName} from '../../src/lab/charts.js'
import {type HelmMajor, runHelm} from './helm.js'

const run = promisify(execFile)

/** The Go modules the real CRDs come from. */
export const CRD_MODULES = {
  /** KEDA 2.20.2, the app version of the pinned keda chart 2.20.2. */
  keda: {path: 'github.com/kedacore/keda/v2', version: 'v2.20.2', dir: 'config/crd/bases'},
  /**
   * prometheus-operator v0.93.0 (2026-07-28): the newest release before kube-prometheus-stack
   * 88.6.1 (2026-08-28) that the module proxy serves. The chart's own appVersion could not be read
   * here (its repository is not reachable); the CRDs' kinds and versions (monitoring.coreos.com/v1)
   * are what the lab uses.
   */
  prometheusOperator: {path: 'github.com/prometheus-operator/prometheus-operator', version: 'v0.93.0', dir: 'example/prometheus-operator-crd'},
} as const

const moduleDirs = new Map<string, Promise<string>>()

/**
 * The folder of a Go module in the module cache (`go mod download -json`; downloads it through the
 * Go module proxy the first time). Runs outside any Go module so that no go.mod/go.work interferes.
 */
export function goModuleDir(path: string, version: string): Promise<string> {
  const key = `${path}@${version}`
  let dir = moduleDirs.get(key)
  if (!dir) {
    dir = (async () => {
      let stdout: string
      try {
        ;({stdout} = await run('go', ['mod', 'download', '-json', key], {
          cwd: tmpdir(),
          env: {...process.env, GOFLAGS: '-mod=mod', GOWORK: 'off'},
          maxBuffer: 1 << 20,
        }))
      } catch (error) {
        const e = error as NodeJS.ErrnoException & {stdout?: string; stderr?: string}
        if (e.code === 'ENOENT')
          throw new Error(
            'go not found: the stand-in charts read the real CRDs from the Go module cache; install Go (https://go.dev/dl, or apt-get install golang)',
          )
        throw new Error(`go mod download ${key} failed: ${(e.stdout || e.stderr || e.message).trim().slice(0, 400)}`)
      }
      const info = JSON.parse(stdout) as {Dir?: string; Error?: string}
      if (!info.Dir) throw new Error(`go mod download ${key}: ${info.Error ?? 'no Dir in its output'}`)
      return info.Dir
    })()
    moduleDirs.set(key, dir)
    dir.catch(() => moduleDirs.delete(key))
  }
  return dir
}

/**
 * The prometheus-operator CRDs the stand-in carries: the kinds the lab's objects and the stand-in's
 * own use. All ten (4.5 MB of YAML) made Helm's release record of the stand-in overflow the API
 * server's 1 MiB Secret limit ("data: Too long"), seen on the real control plane; the ones left
 * out (AlertmanagerConfig, PrometheusAgent, ScrapeConfig, ThanosRuler) are unused by the lab.
 */
const PROMETHEUS_OPERATOR_KINDS = ['prometheuses', 'alertmanagers', 'servicemonitors', 'podmonitors', 'probes', 'prometheusrules']

/** The real CRD files (absolute paths) of KEDA and prometheus-operator, from the Go module cache. */
export async function realCrdFiles(): Promise<{keda: string[]; prometheusOperator: string[]}> {
  const list = async (m: {path: string; version: string; dir: string}) => {
    const dir = join(await goModuleDir(m.path, m.version), m.dir)
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()
    if (files.length === 0) throw new Error(`no CRD files in ${dir}`)
    return files.map((f) => join(dir, f))
  }
  const [keda, prometheusOperator] = await Promise.all([list(CRD_MODULES.keda), list(CRD_MODULES.prometheusOperator)])
  return {keda, prometheusOperator: prometheusOperator.filter((f) => PROMETHEUS_OPERATOR_KINDS.some((k) => f.endsWith(`monitoring.coreos.com_${k}.yaml`)))}
}

/** Options of the stand-in charts. */
export interface StandInOptions {
  /** The charts to write (default: all five pinned charts). */
  charts?: readonly ChartName[]
  /** Version to give a chart instead of its pin (e.g. to test a mismatch). */
  versions?: Partial<Record<ChartName, string>>
  /** Put the real CRDs into the crds/ folders (default true; needs `go` and the module proxy or cache). */
  crds?: boolean
  /**
   * The KEDA stand-in registers the APIService v1beta1.external.metrics.k8s.io pointing at
   * keda-operator-metrics-apiserver, as the real chart does (default true). Unavailable unless
   * something serves it — which blocks namespace deletion, as on a real cluster.
   */
  kedaMetricsApiService?: boolean
}

/** Writes the stand-in chart folders into `dir`; returns each chart's folder. */
export async function writeStandInCharts(dir: string, options: StandInOptions = {}): Promise<Partial<Record<ChartName, string>>> {
  const names = options.charts ?? (Object.keys(CHARTS) as ChartName[])
  const needsCrds = options.crds !== false && (names.includes('keda') || names.includes('kubePrometheusStack'))
  const crds = needsCrds ? await realCrdFiles() : {keda: [], prometheusOperator: []}
  const out: Partial<Record<ChartName, string>> = {}
  for (const name of names) {
    const ref = CHARTS[name]
    const version = options.versions?.[name] ?? ref.version
    const chartDir = join(dir, ref.chart)
    const files = STAND_INS[name]({version, kedaMetricsApiService: options.kedaMetricsApiService ?? true})
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(chartDir, path, '..'), {recursive: true})
      await writeFile(join(chartDir, path), content)
    }
    const crdFiles = name === 'keda' ? crds.keda : name === 'kubePrometheusStack' ? crds.prometheusOperator : []
    if (crdFiles.length > 0) {
      // As the real charts: KEDA's in the chart's crds/, prometheus-operator's in the crds/ of the `crds` subchart.
      const crdDir = name === 'kubePrometheusStack' ? join(chartDir, 'charts', 'crds', 'crds') : join(chartDir, 'crds')
      await mkdir(crdDir, {recursive: true})
      for (const file of crdFiles) await copyFile(file, join(crdDir, file.split(sep).at(-1)!))
    }
    out[name] = chartDir
  }
  return out
}

/** A chart the repository serves. */
export interface ServedChart {
  name: ChartName
  chart: string
  version: string
  repoName: string
  /** URL of the repository that serves it (`<url>/<repoName>`). */
  repoUrl: string
  /** Absolute path of the packaged .tgz. */
  file: string
}

/** Options of the loopback chart repository. */
export interface ChartRepoOptions extends StandInOptions {
  /** The Helm major that packages and indexes the charts (default 3). */
  helmMajor?: HelmMajor
  /**
   * Repositories holding no packaged chart still LIST their pinned charts at the pinned versions in
   * index.yaml (no archive behind the URL): enough for install's pre-flight, which reads the index,
   * when a fake helm never downloads anything.
   */
  listPinned?: boolean
}

/** A running loopback chart repository. */
export interface ChartRepo {
  /** Base URL, e.g. http://127.0.0.1:40123 (each pinned repository under /<repoName>). */
  url: string
  /** Folder served (one sub-folder per repository with index.yaml and the .tgz files). */
  dir: string
  charts: ServedChart[]
  /** URL of one pinned repository (`kedacore`, `dandydeveloper`, …) on this server. */
  repoUrl(repoName: string): string
  /** `--chart-repo NAME=URL` arguments pointing every pinned repository at this server. */
  chartRepoArgs(): string[]
  /** The same as one KEDA_LAB_CHART_REPO value (comma-separated NAME=URL). */
  chartRepoEnv(): string
  /** Request paths served so far, in order (e.g. `/kedacore/index.yaml`). */
  requests: string[]
  /** Stops the server and deletes its folder. */
  close(): Promise<void>
}

const REPO_NAMES = [...new Set(Object.values(CHARTS).map((c) => c.repoName))]

/**
 * Starts the repository: writes the stand-ins, `helm package`s them, starts the HTTP server on a
 * free loopback port and `helm repo index`es each repository with its URL. `charts: []` serves
 * valid, empty repositories (enough for a pre-flight probe and a fake helm).
 */
export async function startChartRepo(options: ChartRepoOptions = {}): Promise<ChartRepo> {
  const major = options.helmMajor ?? 3
  const root = await mkdtemp(join(tmpdir(), 'keda-lab-chart-repo-'))
  const requests: string[] = []
  let server: Server | undefined
  const close = async () => {
    if (server) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server!.close(() => resolve()))
    }
    await rm(root, {recursive: true, force: true})
  }
  try {
    const served = join(root, 'served')
    for (const repo of REPO_NAMES) await mkdir(join(served, repo), {recursive: true})
    const sources = await writeStandInCharts(join(root, 'sources'), options)
    const packaged: {name: ChartName; file: string}[] = []
    for (const [name, chartDir] of Object.entries(sources) as [ChartName, string][]) {
      const destination = join(served, CHARTS[name].repoName)
      const result = await runHelm(major, ['package', chartDir, '--destination', destination], 60_000)
      if (result.exitCode !== 0) throw new Error(`helm ${major} package ${chartDir} failed: ${result.stderr}`)
      const version = options.versions?.[name] ?? CHARTS[name].version
      packaged.push({name, file: join(destination, `${CHARTS[name].chart}-${version}.tgz`)})
    }

    server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
      requests.push(path)
      const file = normalize(join(served, path))
      if (!file.startsWith(served + sep) || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404).end()
        return
      }
      stat(file).then(
        (s) => {
          if (!s.isFile()) return void res.writeHead(404).end()
          res.writeHead(200, {'content-type': file.endsWith('.yaml') ? 'application/x-yaml' : 'application/gzip', 'content-length': s.size})
          if (req.method === 'HEAD') return void res.end()
          createReadStream(file).pipe(res)
        },
        () => res.writeHead(404).end(),
      )
    })
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject)
      server!.listen(0, '127.0.0.1', () => resolve())
    })
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const repoUrl = (repoName: string) => `${url}/${repoName}`
    for (const repo of REPO_NAMES) {
      const holds = packaged.some((p) => CHARTS[p.name].repoName === repo)
      if (!holds) {
        // An empty repository: the index `helm repo index` writes for an empty folder, without
        // spawning helm (the install harness starts one per test, and helm is slow on a busy machine).
        const pinned = options.listPinned ? Object.values(CHARTS).filter((c) => c.repoName === repo) : []
        const entries = pinned
          .map(
            (c) =>
              `  ${c.chart}:\n  - apiVersion: v2\n    name: ${c.chart}\n    version: ${c.version}\n    urls:\n    - ${repoUrl(repo)}/${c.chart}-${c.version}.tgz\n`,
          )
          .join('')
        await writeFile(
          join(served, repo, 'index.yaml'),
          `apiVersion: v1\nentries:${entries ? `\n${entries}` : ' {}\n'}generated: "${new Date().toISOString()}"\n`,
        )
        continue
      }
      const result = await runHelm(major, ['repo', 'index', join(served, repo), '--url', repoUrl(repo)], 60_000)
      if (result.exitCode !== 0) throw new Error(`helm ${major} repo index failed: ${result.stderr}`)
    }
    for (const p of packaged) if (!existsSync(p.file)) throw new Error(`helm package wrote no ${p.file}`)

    return {
      url,
      dir: served,
      charts: packaged.map(({name, file}) => ({
        name,
        chart: CHARTS[name].chart,
        version: options.versions?.[name] ?? CHARTS[name].version,
        repoName: CHARTS[name].repoName,
        repoUrl: repoUrl(CHARTS[name].repoName),
        file,
      })),
      repoUrl,
      chartRepoArgs: () => REPO_NAMES.flatMap((r) => ['--chart-repo', `${r}=${repoUrl(r)}`]),
      chartRepoEnv: () => REPO_NAMES.map((r) => `${r}=${repoUrl(r)}`).join(','),
      requests,
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}

// ---------------------------------------------------------------------------------------------
// The stand-in charts. Each is a map of file path -> content; templates use the values keda-lab
// writes (templates/values/*.yaml) with defaults for everything else. Their Deployments,
// StatefulSets, Services and ServiceAccounts come from the small builders below (metadata,
// workload, service), so every stand-in spells them the same way.

interface StandInContext {
  version: string
  kedaMetricsApiService: boolean
}

const PAUSE = 'registry.k8s.io/pause:3.10'

const chartYaml = (name: string, version: string, appVersion: string, real: string, dependencies = '') => `apiVersion: v2
name: ${name}
version: ${version}
appVersion: "${appVersion}"
type: application
description: >-
  STAND-IN for keda-lab's tests, NOT the real ${real} chart: only the objects and names keda-lab
  relies on, running the pause image.
${dependencies}`

/**
 * The `crds` subchart the real kube-prometheus-stack and Alloy charts carry (no templates, only a
 * crds/ folder, enabled by `condition`): Helm installs its CRDs and never labels, upgrades or
 * deletes them — nor lists them in the release's manifest.
 */
const crdsSubchart = (condition: string) => ({
  dependency: `dependencies:
  - name: crds
    version: "0.0.0"
    condition: ${condition}
`,
  chart: `apiVersion: v2
name: crds
version: 0.0.0
description: CRDs of the parent chart (a stand-in's copy of the real chart's crds subchart)
`,
})

/**
 * Alloy's PodLogs CRD, written here (the real one ships in Alloy's chart, whose repository this
 * machine cannot reach): its real name, group, kind and scope, no labels, and an open schema. What
 * matters for keda-lab is who brought it, not its schema.
 */
const PODLOGS_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: podlogs.monitoring.grafana.com
spec:
  group: monitoring.grafana.com
  names:
    kind: PodLogs
    listKind: PodLogsList
    plural: podlogs
    singular: podlogs
  scope: Namespaced
  versions:
    - name: v1alpha2
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`

/** A pod template's container: the pause image, resources from values. */
const container = (name: string, resources: string, extra = '') => `        - name: ${name}
          image: ${PAUSE}
          imagePullPolicy: IfNotPresent
${extra}          resources:
            {{- toYaml (${resources} | default dict) | nindent 12 }}`

/**
 * A line of a label (or selector) block: `key: value`, or a line that renders at the indent of the
 * block it stands in (a named template's labels, `include`; a variable's, `toYaml`).
 */
type Line = string | ((indent: number) => string)

/** `{{- include "<define>" <scope> | nindent N }}`, N the indent of the block it stands in. */
const include =
  (define: string, scope = '.'): Line =>
  (indent) =>
    `{{- include "${define}" ${scope} | nindent ${indent} }}`

/** `{{- toYaml <value> | nindent N }}`, N the indent of the block it stands in. */
const toYaml =
  (value: string): Line =>
  (indent) =>
    `{{- toYaml ${value} | nindent ${indent} }}`

/** A chart's label set: the given lines, then its named template's labels. */
const labelsWith =
  (define: string) =>
  (...own: string[]): Line[] => [...own, include(define)]

/** The lines, each indented by `indent` spaces. */
const block = (lines: readonly Line[], indent: number) => lines.map((line) => ' '.repeat(indent) + (typeof line === 'string' ? line : line(indent))).join('\n')

/** An object's metadata: name, namespace (the release's unless given) and labels. */
const metadata = (name: string, labels: readonly Line[], namespace = '{{ .Release.Namespace }}') => `metadata:
  name: ${name}
  namespace: ${namespace}
  labels:
${block(labels, 4)}`

const serviceAccount = (name: string, labels: readonly Line[]) => `apiVersion: v1
kind: ServiceAccount
${metadata(name, labels)}`

/** A Deployment, StatefulSet or DaemonSet of the stand-ins. */
interface WorkloadOptions {
  /** `Deployment`, `StatefulSet`, or a template expression that picks the kind. */
  kind: string
  name: string
  labels: readonly Line[]
  /** The spec's lines before the selector (replicas, serviceName, …). */
  spec: readonly string[]
  selector: readonly Line[]
  /** The pod template's labels (default: the selector's). */
  podLabels?: readonly Line[]
  serviceAccount?: string
  /** Pod spec text before the containers, indented by 6 and ending in a newline (e.g. affinity). */
  podSpec?: string
  /** The `container(…)` blocks, joined by newlines. */
  containers: string
  /** Spec text after the pod template, indented by 2 (e.g. volumeClaimTemplates). */
  after?: string
}

const workload = (w: WorkloadOptions) => `apiVersion: apps/v1
kind: ${w.kind}
${metadata(w.name, w.labels)}
spec:
${block(w.spec, 2)}
  selector:
    matchLabels:
${block(w.selector, 6)}
  template:
    metadata:
      labels:
${block(w.podLabels ?? w.selector, 8)}
    spec:
${w.serviceAccount ? `      serviceAccountName: ${w.serviceAccount}\n` : ''}${w.podSpec ?? ''}      containers:
${w.containers}${w.after ? `\n${w.after}` : ''}`

type PodSetOptions = Omit<WorkloadOptions, 'kind' | 'spec'>

/** A Deployment (one replica unless given). */
const deployment = ({replicas = 1, ...w}: PodSetOptions & {replicas?: number | string}) => workload({...w, kind: 'Deployment', spec: [`replicas: ${replicas}`]})

/** A StatefulSet: replicas, then its serviceName and podManagementPolicy. */
const statefulSet = ({
  replicas,
  serviceName,
  podManagementPolicy,
  ...w
}: PodSetOptions & {replicas: string; serviceName: string; podManagementPolicy?: string}) =>
  workload({
    ...w,
    kind: 'StatefulSet',
    spec: [`replicas: ${replicas}`, `serviceName: ${serviceName}`, ...(podManagementPolicy ? [`podManagementPolicy: ${podManagementPolicy}`] : [])],
  })

interface ServicePort {
  name: string
  port: number | string
  targetPort: number | string
}

/** A Service; `spec` holds the lines before its selector (type, clusterIP, …). */
const service = (s: {
  name: string
  namespace?: string
  labels: readonly Line[]
  spec?: readonly string[]
  selector: readonly Line[]
  ports: readonly ServicePort[]
}) => `apiVersion: v1
kind: Service
${metadata(s.name, s.labels, s.namespace)}
spec:
${s.spec ? `${block(s.spec, 2)}\n` : ''}  selector:
${block(s.selector, 4)}
  ports:
${s.ports.map((p) => `    - name: ${p.name}\n      port: ${p.port}\n      targetPort: ${p.targetPort}`).join('\n')}`

const kedaLabels = labelsWith('keda.labels')
const kpsLabels = labelsWith('kps.labels')
/** redis-ha's full name in `scope` (`.`, or `$` inside a range). */
const redisHa = (scope = '.') => `{{ include "redis-ha.fullname" ${scope} }}`
/** redis-ha's containers' password, from the Secret the values name (`auth: true`). */
const redisAuthEnv = `          {{- if .Values.auth }}
          env:
            - name: AUTH
              valueFrom:
                secretKeyRef:
                  name: {{ .Values.existingSecret | default (include "redis-ha.fullname" .) }}
                  key: {{ .Values.authKey }}
          {{- end }}
`

const STAND_INS: Record<ChartName, (ctx: StandInContext) => Record<string, string>> = {
  keda: ({version, kedaMetricsApiService}) => ({
    'Chart.yaml': chartYaml('keda', version, version, 'kedacore/keda'),
    'values.yaml': `operator:
  replicaCount: 1
resources:
  operator: {}
  metricServer: {}
  webhooks: {}
# As the real chart: each program's logging, and extra flags appended after the chart's own.
logging:
  operator:
    level: info
    format: console
    timeEncoding: rfc3339
  metricServer:
    level: 0
  webhooks:
    level: info
    format: console
    timeEncoding: rfc3339
extraArgs:
  keda: {}
  metricsAdapter: {}
  webhooks: {}
webhooks:
  enabled: true
  name: keda-admission-webhooks
# The real chart registers KEDA's external metrics API (APIService v1beta1.external.metrics.k8s.io).
metricsApiService:
  enabled: ${kedaMetricsApiService}
`,
    'templates/_helpers.tpl': `{{- define "keda.labels" -}}
app.kubernetes.io/part-of: keda-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: keda-{{ .Chart.Version }}
{{- end }}
`,
    'templates/serviceaccount.yaml': `${serviceAccount('keda-operator', kedaLabels())}
`,
    'templates/operator.yaml': `${deployment({
      name: 'keda-operator',
      labels: kedaLabels('app: keda-operator', 'name: keda-operator', 'app.kubernetes.io/name: keda-operator', 'app.kubernetes.io/component: operator'),
      replicas: '{{ .Values.operator.replicaCount }}',
      selector: ['app: keda-operator'],
      podLabels: kedaLabels('app: keda-operator', 'name: keda-operator', 'app.kubernetes.io/name: keda-operator'),
      serviceAccount: 'keda-operator',
      containers: container(
        'keda-operator',
        '.Values.resources.operator',
        `          args:
            - "--leader-elect"
            - "--zap-log-level={{ .Values.logging.operator.level }}"
            - "--zap-encoder={{ .Values.logging.operator.format }}"
            - "--zap-time-encoding={{ .Values.logging.operator.timeEncoding }}"
            {{- range $key, $value := .Values.extraArgs.keda }}
            - "--{{ $key }}={{ $value }}"
            {{- end }}
`,
      ),
    })}
---
${service({
  name: 'keda-operator',
  labels: kedaLabels('app.kubernetes.io/name: keda-operator'),
  selector: ['app: keda-operator'],
  ports: [{name: 'metricsservice', port: 9666, targetPort: 9666}],
})}
`,
    'templates/metrics-apiserver.yaml': `${deployment({
      name: 'keda-operator-metrics-apiserver',
      labels: kedaLabels('app: keda-operator-metrics-apiserver', 'app.kubernetes.io/name: keda-operator-metrics-apiserver'),
      selector: ['app: keda-operator-metrics-apiserver'],
      podLabels: kedaLabels('app: keda-operator-metrics-apiserver', 'app.kubernetes.io/name: keda-operator-metrics-apiserver'),
      serviceAccount: 'keda-operator',
      // The real chart's logging flags for the adapter: --logtostderr=true (which makes it log in
      // console format) and the klog level, then extraArgs.metricsAdapter.
      containers: container(
        'keda-operator-metrics-apiserver',
        '.Values.resources.metricServer',
        `          args:
            - /usr/local/bin/keda-adapter
            - --logtostderr=true
            - --v={{ .Values.logging.metricServer.level }}
            {{- range $key, $value := .Values.extraArgs.metricsAdapter }}
            - --{{ $key }}={{ $value }}
            {{- end }}
`,
      ),
    })}
---
${service({
  name: 'keda-operator-metrics-apiserver',
  labels: kedaLabels('app.kubernetes.io/name: keda-operator-metrics-apiserver'),
  selector: ['app: keda-operator-metrics-apiserver'],
  ports: [{name: 'https', port: 443, targetPort: 6443}],
})}
{{- if .Values.webhooks.enabled }}
---
${deployment({
  name: '{{ .Values.webhooks.name }}',
  labels: kedaLabels('app: {{ .Values.webhooks.name }}', 'app.kubernetes.io/name: {{ .Values.webhooks.name }}'),
  selector: ['app: {{ .Values.webhooks.name }}'],
  podLabels: kedaLabels('app: {{ .Values.webhooks.name }}', 'app.kubernetes.io/name: {{ .Values.webhooks.name }}'),
  serviceAccount: 'keda-operator',
  containers: container(
    '{{ .Values.webhooks.name }}',
    '.Values.resources.webhooks',
    `          args:
            - "--zap-log-level={{ .Values.logging.webhooks.level }}"
            - "--zap-encoder={{ .Values.logging.webhooks.format }}"
            - "--zap-time-encoding={{ .Values.logging.webhooks.timeEncoding }}"
            {{- range $key, $value := .Values.extraArgs.webhooks }}
            - --{{ $key }}={{ $value }}
            {{- end }}
`,
  ),
})}
{{- end }}
{{- if .Values.metricsApiService.enabled }}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.external.metrics.k8s.io
  labels:
    app.kubernetes.io/name: keda-operator-metrics-apiserver
    {{- include "keda.labels" . | nindent 4 }}
spec:
  service:
    name: keda-operator-metrics-apiserver
    namespace: {{ .Release.Namespace }}
    port: 443
  group: external.metrics.k8s.io
  version: v1beta1
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
{{- end }}
`,
  }),

  redisHa: ({version}) => ({
    'Chart.yaml': chartYaml('redis-ha', version, '8.2.1', 'dandydeveloper/redis-ha'),
    'values.yaml': `fullnameOverride: ""
replicas: 3
redis:
  port: 6379
  masterGroupName: mymaster
  config: {}
  resources: {}
sentinel:
  port: 26379
  quorum: 2
  resources: {}
auth: false
existingSecret: ""
authKey: auth
hardAntiAffinity: true
persistentVolume:
  enabled: true
  size: 10Gi
  accessModes: [ReadWriteOnce]
haproxy:
  enabled: false
  replicas: 1
`,
    'templates/_helpers.tpl': `{{- define "redis-ha.fullname" -}}
{{- if .Values.fullnameOverride -}}{{ .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end }}
{{- define "redis-ha.labels" -}}
app: {{ include "redis-ha.fullname" . }}
release: {{ .Release.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
`,
    'templates/configmap.yaml': `apiVersion: v1
kind: ConfigMap
${metadata(`${redisHa()}-configmap`, [include('redis-ha.labels')])}
data:
  redis.conf: |
    port {{ .Values.redis.port }}
    {{- range $key, $value := .Values.redis.config }}
    {{ $key }} {{ $value }}
    {{- end }}
  sentinel.conf: |
    port {{ .Values.sentinel.port }}
    sentinel monitor {{ .Values.redis.masterGroupName }} 127.0.0.1 {{ .Values.redis.port }} {{ .Values.sentinel.quorum }}
  init.sh: |
    MASTER_GROUP="{{ .Values.redis.masterGroupName }}"
`,
    'templates/services.yaml': `${service({
      name: redisHa(),
      labels: [include('redis-ha.labels')],
      spec: ['type: ClusterIP', 'clusterIP: None'],
      selector: [`app: ${redisHa()}`, 'release: {{ .Release.Name }}'],
      ports: [
        {name: 'tcp-server', port: '{{ .Values.redis.port }}', targetPort: 'redis'},
        {name: 'tcp-sentinel', port: '{{ .Values.sentinel.port }}', targetPort: 'sentinel'},
      ],
    })}
{{- range $i := until (int .Values.replicas) }}
---
${service({
  name: `${redisHa('$')}-announce-{{ $i }}`,
  namespace: '{{ $.Release.Namespace }}',
  labels: [include('redis-ha.labels', '$')],
  spec: ['publishNotReadyAddresses: true'],
  selector: [`app: ${redisHa('$')}`, 'release: {{ $.Release.Name }}', `statefulset.kubernetes.io/pod-name: ${redisHa('$')}-server-{{ $i }}`],
  ports: [
    {name: 'tcp-server', port: '{{ $.Values.redis.port }}', targetPort: 'redis'},
    {name: 'tcp-sentinel', port: '{{ $.Values.sentinel.port }}', targetPort: 'sentinel'},
  ],
})}
{{- end }}
`,
    'templates/statefulset.yaml': `${statefulSet({
      name: `${redisHa()}-server`,
      labels: [include('redis-ha.labels')],
      replicas: '{{ .Values.replicas }}',
      serviceName: redisHa(),
      podManagementPolicy: 'OrderedReady',
      selector: [`app: ${redisHa()}`, 'release: {{ .Release.Name }}'],
      podSpec: `      {{- if .Values.hardAntiAffinity }}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels:
                  app: ${redisHa()}
                  release: {{ .Release.Name }}
      {{- end }}
`,
      containers: `${container(
        'redis',
        '.Values.redis.resources',
        `          ports:
            - name: redis
              containerPort: {{ .Values.redis.port }}
${redisAuthEnv}          {{- if .Values.persistentVolume.enabled }}
          volumeMounts:
            - name: data
              mountPath: /data
          {{- end }}
`,
      )}
${container(
  'sentinel',
  '.Values.sentinel.resources',
  `          ports:
            - name: sentinel
              containerPort: {{ .Values.sentinel.port }}
${redisAuthEnv}`,
)}`,
      after: `  {{- if .Values.persistentVolume.enabled }}
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: {{ toYaml .Values.persistentVolume.accessModes | nindent 10 }}
        resources:
          requests:
            storage: {{ .Values.persistentVolume.size }}
        {{- if .Values.persistentVolume.storageClass }}
        storageClassName: {{ if eq "-" .Values.persistentVolume.storageClass }}""{{ else }}{{ .Values.persistentVolume.storageClass | quote }}{{ end }}
        {{- end }}
  {{- end }}`,
    })}
`,
    'templates/haproxy.yaml': `{{- if .Values.haproxy.enabled }}
${deployment({
  name: `${redisHa()}-haproxy`,
  labels: [`app: ${redisHa()}-haproxy`, 'release: {{ .Release.Name }}'],
  replicas: '{{ .Values.haproxy.replicas }}',
  selector: [`app: ${redisHa()}-haproxy`, 'release: {{ .Release.Name }}'],
  containers: container(
    'haproxy',
    'dict',
    `          ports:
            - name: redis
              containerPort: {{ .Values.redis.port }}
`,
  ),
})}
---
${service({
  name: `${redisHa()}-haproxy`,
  labels: [`app: ${redisHa()}-haproxy`, 'release: {{ .Release.Name }}'],
  selector: [`app: ${redisHa()}-haproxy`, 'release: {{ .Release.Name }}'],
  ports: [{name: 'tcp-haproxy', port: '{{ .Values.redis.port }}', targetPort: 'redis'}],
})}
{{- end }}
`,
  }),

  kubePrometheusStack: ({version}) => ({
    'Chart.yaml': chartYaml(
      'kube-prometheus-stack',
      version,
      CRD_MODULES.prometheusOperator.version,
      'prometheus-community/kube-prometheus-stack',
      crdsSubchart('crds.enabled').dependency,
    ),
    'charts/crds/Chart.yaml': crdsSubchart('crds.enabled').chart,
    'values.yaml': `crds:
  enabled: true
prometheus:
  prometheusSpec:
    serviceMonitorSelectorNilUsesHelmValues: true
    podMonitorSelectorNilUsesHelmValues: true
    ruleSelectorNilUsesHelmValues: true
    retention: 10d
    resources: {}
alertmanager:
  alertmanagerSpec:
    secrets: []
    resources: {}
  config:
    route:
      receiver: "null"
    receivers:
      - name: "null"
grafana:
  admin:
    existingSecret: ""
    userKey: admin-user
    passwordKey: admin-password
  additionalDataSources: []
`,
    'templates/_helpers.tpl': `{{- define "kps.labels" -}}
release: {{ .Release.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: kube-prometheus-stack
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
`,
    'templates/operator.yaml': `${serviceAccount('{{ .Release.Name }}-operator', kpsLabels('app: {{ .Release.Name }}-operator'))}
---
${deployment({
  name: '{{ .Release.Name }}-operator',
  labels: kpsLabels('app: {{ .Release.Name }}-operator'),
  selector: ['app: {{ .Release.Name }}-operator', 'release: {{ .Release.Name }}'],
  podLabels: kpsLabels('app: {{ .Release.Name }}-operator'),
  serviceAccount: '{{ .Release.Name }}-operator',
  containers: container('kube-prometheus-stack', 'dict'),
})}
---
${service({
  name: '{{ .Release.Name }}-operator',
  labels: kpsLabels('app: {{ .Release.Name }}-operator'),
  selector: ['app: {{ .Release.Name }}-operator', 'release: {{ .Release.Name }}'],
  ports: [{name: 'https', port: 443, targetPort: 10250}],
})}
`,
    'templates/prometheus.yaml': `{{- $spec := .Values.prometheus.prometheusSpec }}
${serviceAccount('{{ .Release.Name }}-prometheus', kpsLabels())}
---
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
${metadata('{{ .Release.Name }}-prometheus', kpsLabels('app: {{ .Release.Name }}-prometheus'))}
spec:
  replicas: 1
  serviceAccountName: {{ .Release.Name }}-prometheus
  retention: {{ $spec.retention | quote }}
  serviceMonitorSelector: {{ if $spec.serviceMonitorSelectorNilUsesHelmValues }}{matchLabels: {release: {{ .Release.Name }}}}{{ else }}{}{{ end }}
  serviceMonitorNamespaceSelector: {}
  podMonitorSelector: {{ if $spec.podMonitorSelectorNilUsesHelmValues }}{matchLabels: {release: {{ .Release.Name }}}}{{ else }}{}{{ end }}
  podMonitorNamespaceSelector: {}
  ruleSelector: {{ if $spec.ruleSelectorNilUsesHelmValues }}{matchLabels: {release: {{ .Release.Name }}}}{{ else }}{}{{ end }}
  ruleNamespaceSelector: {}
  alerting:
    alertmanagers:
      - namespace: {{ .Release.Namespace }}
        name: {{ .Release.Name }}-alertmanager
        port: http-web
  resources:
    {{- toYaml ($spec.resources | default dict) | nindent 4 }}
---
${service({
  name: '{{ .Release.Name }}-prometheus',
  labels: kpsLabels('app: {{ .Release.Name }}-prometheus', 'self-monitor: "true"'),
  selector: ['app.kubernetes.io/name: prometheus', 'operator.prometheus.io/name: {{ .Release.Name }}-prometheus'],
  ports: [{name: 'http-web', port: 9090, targetPort: 9090}],
})}
`,
    'templates/alertmanager.yaml': `{{- $spec := .Values.alertmanager.alertmanagerSpec }}
${serviceAccount('{{ .Release.Name }}-alertmanager', kpsLabels())}
---
apiVersion: v1
kind: Secret
${metadata('alertmanager-{{ .Release.Name }}-alertmanager', kpsLabels('app: {{ .Release.Name }}-alertmanager'))}
data:
  alertmanager.yaml: {{ toYaml .Values.alertmanager.config | b64enc | quote }}
---
apiVersion: monitoring.coreos.com/v1
kind: Alertmanager
${metadata('{{ .Release.Name }}-alertmanager', kpsLabels('app: {{ .Release.Name }}-alertmanager'))}
spec:
  replicas: 1
  serviceAccountName: {{ .Release.Name }}-alertmanager
  secrets:
    {{- toYaml ($spec.secrets | default list) | nindent 4 }}
  resources:
    {{- toYaml ($spec.resources | default dict) | nindent 4 }}
---
${service({
  name: '{{ .Release.Name }}-alertmanager',
  labels: kpsLabels('app: {{ .Release.Name }}-alertmanager', 'self-monitor: "true"'),
  selector: ['app.kubernetes.io/name: alertmanager', 'alertmanager: {{ .Release.Name }}-alertmanager'],
  ports: [{name: 'http-web', port: 9093, targetPort: 9093}],
})}
`,
    'templates/grafana.yaml': `{{- $admin := .Values.grafana.admin }}
${serviceAccount('{{ .Release.Name }}-grafana', kpsLabels('app.kubernetes.io/name: grafana'))}
---
apiVersion: v1
kind: ConfigMap
${metadata('{{ .Release.Name }}-grafana-datasource', kpsLabels('grafana_datasource: "1"', 'app: {{ .Release.Name }}-grafana'))}
data:
  datasource.yaml: |-
    apiVersion: 1
    datasources:
      - name: Prometheus
        type: prometheus
        uid: prometheus
        url: http://{{ .Release.Name }}-prometheus.{{ .Release.Namespace }}:9090/
        isDefault: true
      {{- with .Values.grafana.additionalDataSources }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
---
${deployment({
  name: '{{ .Release.Name }}-grafana',
  labels: kpsLabels('app.kubernetes.io/name: grafana'),
  selector: ['app.kubernetes.io/name: grafana', 'app.kubernetes.io/instance: {{ .Release.Name }}'],
  serviceAccount: '{{ .Release.Name }}-grafana',
  containers: container(
    'grafana',
    'dict',
    `          ports:
            - name: grafana
              containerPort: 3000
          {{- if $admin.existingSecret }}
          env:
            - name: GF_SECURITY_ADMIN_USER
              valueFrom:
                secretKeyRef:
                  name: {{ $admin.existingSecret }}
                  key: {{ $admin.userKey }}
            - name: GF_SECURITY_ADMIN_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $admin.existingSecret }}
                  key: {{ $admin.passwordKey }}
          {{- end }}
`,
  ),
})}
---
${service({
  name: '{{ .Release.Name }}-grafana',
  labels: kpsLabels('app.kubernetes.io/name: grafana'),
  selector: ['app.kubernetes.io/name: grafana', 'app.kubernetes.io/instance: {{ .Release.Name }}'],
  ports: [{name: 'http-web', port: 80, targetPort: 3000}],
})}
`,
    'templates/kube-state-metrics.yaml': `${deployment({
      name: '{{ .Release.Name }}-kube-state-metrics',
      labels: kpsLabels('app.kubernetes.io/name: kube-state-metrics'),
      selector: ['app.kubernetes.io/name: kube-state-metrics', 'app.kubernetes.io/instance: {{ .Release.Name }}'],
      containers: container('kube-state-metrics', 'dict'),
    })}
---
${service({
  name: '{{ .Release.Name }}-kube-state-metrics',
  labels: kpsLabels('app.kubernetes.io/name: kube-state-metrics'),
  selector: ['app.kubernetes.io/name: kube-state-metrics', 'app.kubernetes.io/instance: {{ .Release.Name }}'],
  ports: [{name: 'http', port: 8080, targetPort: 8080}],
})}
`,
  }),

  loki: ({version}) => ({
    'Chart.yaml': chartYaml('loki', version, '3.5.0', 'grafana-community/loki'),
    'values.yaml': `deploymentMode: SingleBinary
loki:
  auth_enabled: true
  storage:
    type: filesystem
  schemaConfig: {}
singleBinary:
  replicas: 1
  persistence:
    enabled: true
    size: 10Gi
  resources: {}
`,
    'templates/_helpers.tpl': `{{- define "loki.labels" -}}
app.kubernetes.io/name: loki
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
{{- define "loki.selector" -}}
app.kubernetes.io/name: loki
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: single-binary
{{- end }}
`,
    'templates/single-binary.yaml': `{{- if ne .Values.deploymentMode "SingleBinary" }}
{{- fail "this stand-in loki chart renders SingleBinary mode only" }}
{{- end }}
${serviceAccount('{{ .Release.Name }}', [include('loki.labels')])}
---
apiVersion: v1
kind: ConfigMap
${metadata('{{ .Release.Name }}', [include('loki.labels')])}
data:
  config.yaml: |
    auth_enabled: {{ .Values.loki.auth_enabled }}
    server:
      http_listen_port: 3100
    common:
      storage:
        {{ .Values.loki.storage.type }}: {}
    schema_config:
      {{- toYaml .Values.loki.schemaConfig | nindent 6 }}
---
${service({
  name: '{{ .Release.Name }}',
  labels: [include('loki.labels')],
  selector: [include('loki.selector')],
  ports: [
    {name: 'http-metrics', port: 3100, targetPort: 3100},
    {name: 'grpc', port: 9095, targetPort: 9095},
  ],
})}
---
${service({
  name: '{{ .Release.Name }}-headless',
  labels: [include('loki.labels')],
  spec: ['clusterIP: None'],
  selector: [include('loki.selector')],
  ports: [{name: 'http-metrics', port: 3100, targetPort: 3100}],
})}
---
${statefulSet({
  name: '{{ .Release.Name }}',
  labels: ['app.kubernetes.io/component: single-binary', include('loki.labels')],
  replicas: '{{ .Values.singleBinary.replicas }}',
  serviceName: '{{ .Release.Name }}-headless',
  selector: [include('loki.selector')],
  serviceAccount: '{{ .Release.Name }}',
  containers: container(
    'loki',
    '.Values.singleBinary.resources',
    `          ports:
            - name: http-metrics
              containerPort: 3100
          {{- if .Values.singleBinary.persistence.enabled }}
          volumeMounts:
            - name: storage
              mountPath: /var/loki
          {{- end }}
`,
  ),
  after: `  {{- if .Values.singleBinary.persistence.enabled }}
  volumeClaimTemplates:
    - metadata:
        name: storage
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: {{ .Values.singleBinary.persistence.size }}
        {{- with .Values.singleBinary.persistence.storageClass }}
        storageClassName: {{ if eq "-" . }}""{{ else }}{{ . | quote }}{{ end }}
        {{- end }}
  {{- end }}`,
})}
`,
  }),

  alloy: ({version}) => ({
    'Chart.yaml': chartYaml('alloy', version, '1.18.0', 'grafana/alloy', crdsSubchart('crds.create').dependency),
    'charts/crds/Chart.yaml': crdsSubchart('crds.create').chart,
    'charts/crds/crds/monitoring.grafana.com_podlogs.yaml': PODLOGS_CRD,
    'values.yaml': `crds:
  create: true
alloy:
  configMap:
    create: true
    content: ""
  resources: {}
controller:
  type: daemonset
  replicas: 1
`,
    'templates/alloy.yaml': `{{- $labels := dict "app.kubernetes.io/name" "alloy" "app.kubernetes.io/instance" .Release.Name }}
${serviceAccount('{{ .Release.Name }}', [toYaml('$labels')])}
{{- if .Values.alloy.configMap.create }}
---
apiVersion: v1
kind: ConfigMap
${metadata('{{ .Release.Name }}', [toYaml('$labels')])}
data:
  config.alloy: |-
    {{- .Values.alloy.configMap.content | nindent 4 }}
{{- end }}
---
${workload({
  kind: '{{ if eq .Values.controller.type "deployment" }}Deployment{{ else }}DaemonSet{{ end }}',
  name: '{{ .Release.Name }}',
  labels: [toYaml('$labels')],
  spec: ['{{- if eq .Values.controller.type "deployment" }}', 'replicas: {{ .Values.controller.replicas }}', '{{- end }}'],
  selector: [toYaml('$labels')],
  serviceAccount: '{{ .Release.Name }}',
  containers: container(
    'alloy',
    '.Values.alloy.resources',
    `          ports:
            - name: http-metrics
              containerPort: 12345
`,
  ),
})}
---
${service({
  name: '{{ .Release.Name }}',
  labels: [toYaml('$labels')],
  selector: [toYaml('$labels')],
  ports: [{name: 'http-metrics', port: 12345, targetPort: 12345}],
})}
`,
  }),
}
