/**
 * `planInstall(options, deps) -> Plan`: everything install will do, computed without side effects.
 * `--dry-run` prints it; `install` applies it step by step (apply.ts); `render` uses its files.
 */
import {join, resolve} from 'node:path'

import {parse as parseYaml} from 'yaml'

import {type ImageSource, imageSource} from './image.js'
import {dockerBuild, kindLoadImage, minikubeEnableMetricsServer, minikubeImageBuild, type ToolCommand} from '../../adapters/cluster-tools.js'
import {helmCommands, type HelmMajor} from '../../adapters/helm.js'
import {chartArgument, type ChartSources, neededRepositories, repositorySources} from '../chart-sources.js'
import {APP_CHART_PATH, CHARTS, type ChartName} from '../charts.js'
import {renderValues, type ValuesContext, type ValuesTemplateName} from '../values/render.js'
import type {AnswerKey, AnswerSource, InstallAnswers} from './options.js'
import type {InstallFacts} from './preflight.js'
import {KEDA_RELEASE, reusesForeignKeda} from './preflight.js'
import type {SecretSpec} from './secrets.js'
import {APP_RELEASE} from '../../config/release.js'

/** The helm command lines planInstall builds (pure). */
type HelmCommands = ReturnType<typeof helmCommands>

export interface InstallOptions {
  answers: InstallAnswers
  sources: Partial<Record<AnswerKey, AnswerSource | undefined>>
  appNamespace: string
  monitoringNamespace: string
  /** Absolute output folder for the rendered values files. */
  outputDir: string
  /** --context, passed to helm as --kube-context. */
  kubeContext?: string
  /** On minikube without the metrics API: enable the addon (asked, or --yes). */
  enableMetricsServerAddon: boolean
  /** Where each third-party chart comes from (--charts, --chart-repo); default: the upstream repositories. */
  chartSources?: ChartSources
}

export interface PlanDeps {
  facts: Pick<InstallFacts, 'nodes' | 'crds' | 'metricsApi' | 'cluster' | 'kedaNamespace' | 'kedaRelease'> & {helmMajor: HelmMajor}
  templates: Record<ValuesTemplateName, string>
  packageRoot: string
  /** keda-lab's version: the tag of the image built into the cluster. */
  version: string
  /**
   * Suffix that makes the tag of an image built into the cluster unique per install run
   * (`<version>-<buildId>`), so that a rebuild rolls the pods: with the same tag and
   * `IfNotPresent`, Kubernetes would keep running the old image. Omitted: `<version>`.
   */
  buildId?: string
  secrets: SecretSpec[]
  /** Whether <packageRoot>/Dockerfile exists (a checkout, or the npm package, which ships it). */
  dockerfileExists: boolean
  /** The published image of this version (`ghcr.io/<owner>/<repo>:<version>` of package.json's repository): pulled by clusters keda-lab cannot build into. */
  publishedImage: string
  helmBin?: string
}

/**
 * After a release's `helm upgrade --install`: record on each CRD its chart brought which release
 * brought it (src/lab/crd-records.ts), read from these two helm commands.
 */
export interface CrdRecordSpec {
  release: string
  namespace: string
  /** `helm show crds …`: the chart's and its subcharts' crds/ folders. */
  showCrds: ToolCommand
  /** `helm get manifest …`: CRDs rendered by the templates. */
  manifest: ToolCommand
}

export type Action =
  | {
      type: 'run'
      command: ToolCommand
      recordCrds?: CrdRecordSpec
      /** While it runs, watch this namespace's PersistentVolumeClaims and fail early on one nothing will bind (claims.ts). */
      watchClaims?: {namespace: string}
    }
  | {type: 'namespace'; name: string; labels: Record<string, string>}
  | {type: 'secret'; secret: SecretSpec}
  | {type: 'rollout'; namespace: string; labelSelector: string; timeoutSeconds: number}

export interface PlanStep {
  id: 'repositories' | 'namespaces-secrets' | 'metrics-server' | 'keda' | 'redis' | 'monitoring' | 'image' | 'application' | 'rollout'
  title: string
  actions: Action[]
  /** Why the step does nothing this time (shown instead of running it). */
  skipped?: string
  notes: string[]
  /** What to do when the step fails. */
  hint: string
}

export interface PlannedFile {
  /** Absolute path. */
  path: string
  content: string
}

export interface InstallSummary {
  api: string[]
  grafana: string[]
  next: string[]
}

export interface Plan {
  /** The values each release gets, parsed, by release name (`keda`, `redis-ha`, …, `keda-lab`). */
  values: Record<string, unknown>
  answers: InstallAnswers
  sources: InstallOptions['sources']
  outputDir: string
  files: PlannedFile[]
  steps: PlanStep[]
  summary: InstallSummary
  /** The image the app runs. */
  image: string
}

const LABELS = {'app.kubernetes.io/part-of': 'keda-lab', 'app.kubernetes.io/managed-by': 'keda-lab'}
/**
 * Pod Security for the app namespace: the app chart's pods meet the `restricted` profile (tested
 * against a real API server's admission), so every pod that does not is reported — as a warning
 * to whoever creates it and in the audit log. Not `enforce`: KEDA's and redis-ha's pods share the
 * namespace, and those charts were not checked against the profile here.
 */
export const APP_NAMESPACE_POD_SECURITY = {
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/warn-version': 'latest',
  'pod-security.kubernetes.io/audit': 'restricted',
  'pod-security.kubernetes.io/audit-version': 'latest',
}

/** Splits `registry/repo:tag` into repository and tag (no tag = latest, pulled every time). */
export function splitImage(image: string): {repository: string; tag: string; pullPolicy: 'IfNotPresent' | 'Always'} {
  const slash = image.lastIndexOf('/')
  const colon = image.lastIndexOf(':')
  if (colon > slash) return {repository: image.slice(0, colon), tag: image.slice(colon + 1), pullPolicy: 'IfNotPresent'}
  return {repository: image, tag: 'latest', pullPolicy: 'Always'}
}

/** The image the app runs: `--image` from its registry, or `keda-lab:<tag>` built into the cluster. */
export function appImage(image: string | undefined, builtTag: string): ValuesContext['image'] {
  return image ? splitImage(image) : {repository: 'keda-lab', tag: builtTag, pullPolicy: 'IfNotPresent'}
}

/** The third-party charts an install puts in (KEDA only when the cluster has none yet; monitoring only when asked). */
export function chartsToInstall(options: {monitoring: boolean; reuseKeda: boolean}): ChartName[] {
  return [...(options.reuseKeda ? [] : ['keda' as const]), 'redisHa', ...(options.monitoring ? (['kubePrometheusStack', 'loki', 'alloy'] as const) : [])]
}

/** Builds the plan. Throws a ConfigError when the answers cannot work on this cluster (before anything changes). */
export function planInstall(options: InstallOptions, deps: PlanDeps): Plan {
  const {answers, appNamespace: ns, monitoringNamespace: monNs} = options
  const helm = helmCommands(deps.helmBin ?? 'helm', options.kubeContext)
  const valuesDir = join(options.outputDir, 'values')
  // Only a KEDA that keda-lab did not install is reused; keda-lab's own release is upgraded.
  const reuseKeda = reusesForeignKeda(deps.facts, ns)
  const cluster = deps.facts.cluster

  const image = planImage(answers.image, deps)
  const rendered = renderValues(
    {
      answers,
      appNamespace: ns,
      monitoringNamespace: monNs,
      nodeCount: deps.facts.nodes.length || undefined,
      kedaNamespace: reuseKeda ? deps.facts.kedaNamespace : undefined,
      image: image.values,
    },
    deps.templates,
  )
  const chartSources = options.chartSources ?? repositorySources()
  const release = releaseAction({helm, major: deps.facts.helmMajor, chartSources, valuesDir})

  const steps: PlanStep[] = [
    repositoriesStep(helm, neededRepositories(chartSources, chartsToInstall({monitoring: answers.monitoring, reuseKeda}))),
    namespacesStep(ns, answers.monitoring ? monNs : undefined, deps.secrets),
    ...metricsServerStep(cluster, deps.facts.metricsApi, options.enableMetricsServerAddon),
    kedaStep(release, ns, reuseKeda ? deps.facts.kedaNamespace : undefined, reuseKeda),
    redisStep(release, ns, answers, rendered.find((r) => r.name === 'redis-ha')?.notes ?? []),
    monitoringStep(release, monNs, answers),
    imageStep(image, cluster, deps),
    applicationStep(helm, deps.facts.helmMajor, resolve(deps.packageRoot, APP_CHART_PATH), ns, valuesDir),
    rolloutStep(ns),
  ]

  return {
    values: Object.fromEntries(rendered.map((r) => [r.name, parseYaml(r.content) as unknown])),
    answers,
    sources: options.sources,
    outputDir: options.outputDir,
    files: rendered.map((r) => ({path: join(valuesDir, r.fileName), content: r.content})),
    steps,
    image: `${image.values.repository}:${image.values.tag}`,
    summary: summarize(options, cluster.kind, cluster.name),
  }
}

/** The app's image: where it comes from, and the values the chart gets for it. */
export interface PlannedImage {
  source: ImageSource
  /** `keda-lab:<version>[-<buildId>]`: the tag of an image built into the cluster. */
  builtTag: string
  values: ValuesContext['image']
}

/** `--image`, a build into minikube/kind tagged per run, or the published image of this version. */
export function planImage(
  flag: string | undefined,
  deps: Pick<PlanDeps, 'version' | 'buildId' | 'dockerfileExists' | 'publishedImage'> & {facts: Pick<PlanDeps['facts'], 'cluster'>},
): PlannedImage {
  const builtVersion = deps.buildId ? `${deps.version}-${deps.buildId}` : deps.version
  const source = imageSource({image: flag, clusterKind: deps.facts.cluster.kind, dockerfileExists: deps.dockerfileExists, publishedImage: deps.publishedImage})
  return {source, builtTag: `keda-lab:${builtVersion}`, values: appImage(source.kind === 'build' ? undefined : source.ref, builtVersion)}
}

/** One third-party release: its chart, name, namespace, Helm timeout, and whether to watch its claims. */
type ReleaseAction = (chart: ChartName, releaseName: string, namespace: string, timeout: string, persistent?: boolean) => Action

/**
 * `helm upgrade --install` of a third-party chart from where `chartSources` says, with its values
 * file from `valuesDir`, rolled back on failure; afterwards its CRDs are recorded (crd-records.ts),
 * and while it runs a persistent release's claims are watched (claims.ts).
 */
export function releaseAction(input: {helm: HelmCommands; major: HelmMajor; chartSources: ChartSources; valuesDir: string}): ReleaseAction {
  const {helm, major, chartSources, valuesDir} = input
  return (chart, releaseName, namespace, timeout, persistent = false) => {
    const source = chartArgument(chartSources[chart])
    return {
      type: 'run',
      command: helm.upgradeInstall(major, {
        release: releaseName,
        ...source,
        namespace,
        valuesFiles: [join(valuesDir, `${releaseName}.yaml`)],
        timeout,
        rollbackOnFailure: true,
      }),
      recordCrds: {
        release: releaseName,
        namespace,
        showCrds: helm.showCrds(source.chart, source.version),
        manifest: helm.getManifest({name: releaseName, namespace}),
      },
      ...(persistent ? {watchClaims: {namespace}} : {}),
    }
  }
}

/** `helm repo add` of each repository the charts come from, then one `helm repo update`. */
export function repositoriesStep(helm: HelmCommands, repos: ReadonlyMap<string, string>): PlanStep {
  return {
    id: 'repositories',
    title: 'Helm repositories',
    actions:
      repos.size === 0
        ? []
        : [
            ...[...repos].map(([name, url]) => ({type: 'run' as const, command: helm.repoAdd(name, url)})),
            {type: 'run', command: helm.repoUpdate([...repos.keys()])},
          ],
    skipped: repos.size === 0 ? 'every chart comes from the --charts folder' : undefined,
    notes: [],
    hint: 'check the network access to the chart repositories (`helm repo update` shows which one fails); without it, use --charts DIR (from `keda-lab charts pull DIR`) or --chart-repo NAME=URL',
  }
}

/** The app namespace (with Pod Security labels), the monitoring namespace when it is another one, then the Secrets. */
export function namespacesStep(ns: string, monitoringNs: string | undefined, secrets: readonly SecretSpec[]): PlanStep {
  const namespaces: Action[] = [{type: 'namespace', name: ns, labels: {...LABELS, ...APP_NAMESPACE_POD_SECURITY}}]
  if (monitoringNs !== undefined && monitoringNs !== ns) namespaces.push({type: 'namespace', name: monitoringNs, labels: LABELS})
  return {
    id: 'namespaces-secrets',
    title: 'Namespaces and Secrets',
    actions: [...namespaces, ...secrets.map((secret) => ({type: 'secret' as const, secret}))],
    notes: [],
    hint: `check that the context may create namespaces and Secrets (kubectl auth can-i create secrets -n ${ns})`,
  }
}

/** minikube's metrics-server addon when the metrics API is missing and the user agreed; no step otherwise. */
export function metricsServerStep(cluster: PlanDeps['facts']['cluster'], metricsApi: boolean, enable: boolean): PlanStep[] {
  if (cluster.kind !== 'minikube' || metricsApi || !enable) return []
  const profile = cluster.name ?? 'minikube'
  return [
    {
      id: 'metrics-server',
      title: 'metrics-server (minikube addon)',
      actions: [{type: 'run', command: minikubeEnableMetricsServer(profile)}],
      notes: [],
      hint: `run \`minikube addons enable metrics-server -p ${profile}\` yourself and look at its output`,
    },
  ]
}

/** KEDA's release, or nothing when a KEDA keda-lab did not install runs in `foreignNamespace`. */
export function kedaStep(release: ReleaseAction, ns: string, foreignNamespace: string | undefined, reuse: boolean): PlanStep {
  return {
    id: 'keda',
    title: `KEDA (${CHARTS.keda.repoName}/${CHARTS.keda.chart} ${CHARTS.keda.version})`,
    actions: reuse ? [] : [release('keda', KEDA_RELEASE, ns, '5m')],
    skipped: reuse ? `a KEDA that keda-lab did not install runs in namespace ${foreignNamespace}: reusing it (a second KEDA would break both)` : undefined,
    notes: [],
    hint: `kubectl get pods -n ${ns} -l app.kubernetes.io/part-of=keda-operator; then run \`keda-lab install\` again (it upgrades in place)`,
  }
}

/** redis-ha with its Sentinels; `valuesNotes` are what rendering its values had to say (anti-affinity). */
export function redisStep(
  release: ReleaseAction,
  ns: string,
  answers: Pick<InstallAnswers, 'redisPersistence' | 'storageClass'>,
  valuesNotes: readonly string[],
): PlanStep {
  return {
    id: 'redis',
    title: `Redis with Sentinels (${CHARTS.redisHa.repoName}/${CHARTS.redisHa.chart} ${CHARTS.redisHa.version})`,
    actions: [release('redisHa', 'redis-ha', ns, '10m', answers.redisPersistence)],
    notes: [
      ...valuesNotes,
      answers.redisPersistence
        ? `persistence on: AOF on a PersistentVolume per replica, ${volumeClass(answers)}`
        : 'persistence off: Redis data is lost when its pods restart',
    ],
    hint: `kubectl get pods,pvc -n ${ns} -l app=redis-ha (Pending pods: not enough nodes/CPU, or PVCs without a StorageClass); then \`keda-lab install\` again`,
  }
}

/** kube-prometheus-stack, Loki and Alloy in the monitoring namespace, or a skipped step with --no-monitoring. */
export function monitoringStep(
  release: ReleaseAction,
  monNs: string,
  answers: Pick<InstallAnswers, 'monitoring' | 'redisPersistence' | 'storageClass'>,
): PlanStep {
  return {
    id: 'monitoring',
    title: 'Monitoring (kube-prometheus-stack, Loki, Alloy)',
    actions: answers.monitoring
      ? [
          release('kubePrometheusStack', 'kube-prometheus-stack', monNs, '10m'),
          // Loki's volume follows Redis persistence (values/render.ts).
          release('loki', 'loki', monNs, '10m', answers.redisPersistence),
          release('alloy', 'alloy', monNs, '5m'),
        ]
      : [],
    skipped: answers.monitoring ? undefined : 'monitoring off (--no-monitoring)',
    notes: answers.monitoring && answers.redisPersistence ? [`Loki's chunks on a PersistentVolume, ${volumeClass(answers)}`] : [],
    hint: `kubectl get pods -n ${monNs}; then \`keda-lab install\` again, or --no-monitoring on a small cluster`,
  }
}

/** Builds the image into minikube or kind; skipped with what is pulled instead (--image, or the published image). */
export function imageStep(image: PlannedImage, cluster: PlanDeps['facts']['cluster'], deps: Pick<PlanDeps, 'version' | 'packageRoot'>): PlanStep {
  const {source, builtTag} = image
  if (source.kind !== 'build') {
    return {
      id: 'image',
      title: 'Application image',
      actions: [],
      skipped:
        source.kind === 'flag'
          ? `using ${source.ref} from its registry (--image)`
          : `pulling ${source.ref}, the published image of keda-lab ${deps.version} (${cluster.kind === 'other' ? 'keda-lab builds its image only into minikube or kind' : 'no Dockerfile to build from'}; --image to run another)`,
      notes: [],
      hint: '',
    }
  }
  const build: ToolCommand[] =
    cluster.kind === 'minikube'
      ? [minikubeImageBuild(cluster.name ?? 'minikube', builtTag, deps.packageRoot)]
      : [dockerBuild(builtTag, deps.packageRoot), kindLoadImage(cluster.name ?? 'kind', builtTag)]
  return {
    id: 'image',
    title: `Application image (${cluster.kind === 'minikube' ? 'minikube image build' : 'docker build + kind load'})`,
    actions: build.map((command) => ({type: 'run' as const, command})),
    notes: [],
    hint:
      cluster.kind === 'minikube'
        ? 'check `minikube status`; or build elsewhere and pass --image'
        : 'check that docker runs (`docker info`) and the kind cluster exists (`kind get clusters`); or pass --image',
  }
}

/** The app chart from `chartPath`, without Helm's wait (the rollout step waits for the pods). */
export function applicationStep(helm: HelmCommands, major: HelmMajor, chartPath: string, ns: string, valuesDir: string): PlanStep {
  return {
    id: 'application',
    title: 'Application (keda-lab chart)',
    actions: [
      {
        type: 'run',
        command: helm.upgradeInstall(major, {
          release: APP_RELEASE,
          chart: chartPath,
          namespace: ns,
          valuesFiles: [join(valuesDir, `${APP_RELEASE}.yaml`)],
          timeout: '5m',
          // keda-lab waits for the app's pods itself (the rollout step): Helm 3's --wait would also
          // wait for the API's LoadBalancer address, which kind, minikube without a tunnel and bare
          // clusters never assign — and --atomic would then leave the release pending-rollback.
          wait: false,
        }),
      },
    ],
    notes: [],
    hint: `kubectl get pods -n ${ns} -l app.kubernetes.io/instance=${APP_RELEASE}; kubectl describe pod <pod> shows image pull or probe errors; then \`keda-lab install\` again`,
  }
}

/** Waits until the app release's Deployments have rolled out (5 minutes at most). */
export function rolloutStep(ns: string): PlanStep {
  return {
    id: 'rollout',
    title: 'Rollout',
    actions: [{type: 'rollout', namespace: ns, labelSelector: `app.kubernetes.io/instance=${APP_RELEASE}`, timeoutSeconds: 300}],
    notes: [],
    hint: `kubectl rollout status deployment -n ${ns} -l app.kubernetes.io/instance=${APP_RELEASE}`,
  }
}

/** Which StorageClass the lab's claims get, as the plan shows it. */
function volumeClass(answers: Pick<InstallAnswers, 'storageClass'>): string {
  return answers.storageClass ? `StorageClass ${answers.storageClass} (--storage-class)` : "the cluster's default StorageClass"
}

function summarize(options: InstallOptions, kind: string, clusterName?: string): InstallSummary {
  const {answers, appNamespace: ns, monitoringNamespace: monNs} = options
  const svc = `${APP_RELEASE}-api`
  const api: string[] = []
  if (answers.expose === 'Ingress') api.push(`API: http://${answers.ingressHost}/ (through the Ingress; point the host name at your ingress controller)`)
  else if (answers.expose === 'NodePort') {
    api.push(
      kind === 'minikube'
        ? `API: minikube service ${svc} -n ${ns} --url -p ${clusterName ?? 'minikube'}`
        : `API: http://<node address>:$(kubectl get svc ${svc} -n ${ns} -o jsonpath='{.spec.ports[0].nodePort}')/`,
    )
  } else if (kind === 'minikube') {
    api.push(
      `API: run \`minikube tunnel\` in another terminal, then http://$(kubectl get svc ${svc} -n ${ns} -o jsonpath='{.status.loadBalancer.ingress[0].ip}')/`,
    )
  } else {
    api.push(`API: http://$(kubectl get svc ${svc} -n ${ns} -o jsonpath='{.status.loadBalancer.ingress[0].ip}')/ (once the load balancer has an address)`)
  }
  api.push(`Try it: curl -X POST <API URL>/api/tasks/add; API docs at <API URL>/docs`)
  const grafana = answers.monitoring
    ? [
        `Grafana: kubectl port-forward -n ${monNs} svc/kube-prometheus-stack-grafana 3000:80, then http://localhost:3000 (user admin)`,
        `Grafana password: kubectl get secret keda-lab-grafana -n ${monNs} -o jsonpath='{.data.admin-password}' | base64 -d`,
      ]
    : ['Grafana: not installed (--no-monitoring)']
  const flags = [ns !== 'keda' ? `-n ${ns}` : '', options.kubeContext ? `--context ${options.kubeContext}` : ''].filter(Boolean).join(' ')
  // Only commands that exist in this version (loadtest is not built yet).
  const next = ['status', 'tunnel', 'doctor', 'uninstall'].map((c) => `keda-lab ${c}${flags ? ` ${flags}` : ''}`)
  return {api, grafana, next}
}
