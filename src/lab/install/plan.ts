/**
 * `planInstall(options, deps) -> Plan`: everything install will do, computed without side effects.
 * `--dry-run` prints it; `install` applies it step by step (apply.ts); `render` uses its files.
 */
import {join, resolve} from 'node:path'

import {parse as parseYaml} from 'yaml'

import {imageSource} from './image.js'
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
  const major = deps.facts.helmMajor
  const valuesDir = join(options.outputDir, 'values')
  // Only a KEDA that keda-lab did not install is reused; keda-lab's own release is upgraded.
  const reuseKeda = reusesForeignKeda(deps.facts, ns)
  const cluster = deps.facts.cluster

  const builtVersion = deps.buildId ? `${deps.version}-${deps.buildId}` : deps.version
  const builtTag = `keda-lab:${builtVersion}`
  const source = imageSource({image: answers.image, clusterKind: cluster.kind, dockerfileExists: deps.dockerfileExists, publishedImage: deps.publishedImage})
  const image = appImage(source.kind === 'build' ? undefined : source.ref, builtVersion)
  const ctx: ValuesContext = {
    answers,
    appNamespace: ns,
    monitoringNamespace: monNs,
    nodeCount: deps.facts.nodes.length || undefined,
    kedaNamespace: reuseKeda ? deps.facts.kedaNamespace : undefined,
    image,
  }
  const rendered = renderValues(ctx, deps.templates)
  const files = rendered.map((r) => ({path: join(valuesDir, r.fileName), content: r.content}))
  const valuesFile = (name: string) => join(valuesDir, `${name}.yaml`)

  const chartSources = options.chartSources ?? repositorySources()
  const release = (chart: ChartName, releaseName: string, namespace: string, timeout: string, persistent = false): Action => {
    const source = chartArgument(chartSources[chart])
    return {
      type: 'run',
      command: helm.upgradeInstall(major, {
        release: releaseName,
        ...source,
        namespace,
        valuesFiles: [valuesFile(releaseName)],
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

  const repos = neededRepositories(chartSources, chartsToInstall({monitoring: answers.monitoring, reuseKeda}))

  const steps: PlanStep[] = []
  steps.push({
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
  })

  const namespaces: Action[] = [{type: 'namespace', name: ns, labels: {...LABELS, ...APP_NAMESPACE_POD_SECURITY}}]
  if (answers.monitoring && monNs !== ns) namespaces.push({type: 'namespace', name: monNs, labels: LABELS})
  steps.push({
    id: 'namespaces-secrets',
    title: 'Namespaces and Secrets',
    actions: [...namespaces, ...deps.secrets.map((secret) => ({type: 'secret' as const, secret}))],
    notes: [],
    hint: `check that the context may create namespaces and Secrets (kubectl auth can-i create secrets -n ${ns})`,
  })

  if (cluster.kind === 'minikube' && !deps.facts.metricsApi && options.enableMetricsServerAddon) {
    steps.push({
      id: 'metrics-server',
      title: 'metrics-server (minikube addon)',
      actions: [{type: 'run', command: minikubeEnableMetricsServer(cluster.name ?? 'minikube')}],
      notes: [],
      hint: `run \`minikube addons enable metrics-server -p ${cluster.name ?? 'minikube'}\` yourself and look at its output`,
    })
  }

  steps.push({
    id: 'keda',
    title: `KEDA (${CHARTS.keda.repoName}/${CHARTS.keda.chart} ${CHARTS.keda.version})`,
    actions: reuseKeda ? [] : [release('keda', KEDA_RELEASE, ns, '5m')],
    skipped: reuseKeda
      ? `a KEDA that keda-lab did not install runs in namespace ${deps.facts.kedaNamespace}: reusing it (a second KEDA would break both)`
      : undefined,
    notes: [],
    hint: `kubectl get pods -n ${ns} -l app.kubernetes.io/part-of=keda-operator; then run \`keda-lab install\` again (it upgrades in place)`,
  })

  steps.push({
    id: 'redis',
    title: `Redis with Sentinels (${CHARTS.redisHa.repoName}/${CHARTS.redisHa.chart} ${CHARTS.redisHa.version})`,
    actions: [release('redisHa', 'redis-ha', ns, '10m', answers.redisPersistence)],
    notes: [
      ...(rendered.find((r) => r.name === 'redis-ha')?.notes ?? []),
      answers.redisPersistence
        ? `persistence on: AOF on a PersistentVolume per replica, ${volumeClass(answers)}`
        : 'persistence off: Redis data is lost when its pods restart',
    ],
    hint: `kubectl get pods,pvc -n ${ns} -l app=redis-ha (Pending pods: not enough nodes/CPU, or PVCs without a StorageClass); then \`keda-lab install\` again`,
  })

  steps.push({
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
  })

  let imageStep: PlanStep
  if (source.kind !== 'build') {
    imageStep = {
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
  } else {
    const build: ToolCommand[] =
      cluster.kind === 'minikube'
        ? [minikubeImageBuild(cluster.name ?? 'minikube', builtTag, deps.packageRoot)]
        : [dockerBuild(builtTag, deps.packageRoot), kindLoadImage(cluster.name ?? 'kind', builtTag)]
    imageStep = {
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
  steps.push(imageStep)

  steps.push({
    id: 'application',
    title: 'Application (keda-lab chart)',
    actions: [
      {
        type: 'run',
        command: helm.upgradeInstall(major, {
          release: APP_RELEASE,
          chart: resolve(deps.packageRoot, APP_CHART_PATH),
          namespace: ns,
          valuesFiles: [valuesFile(APP_RELEASE)],
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
  })

  steps.push({
    id: 'rollout',
    title: 'Rollout',
    actions: [{type: 'rollout', namespace: ns, labelSelector: `app.kubernetes.io/instance=${APP_RELEASE}`, timeoutSeconds: 300}],
    notes: [],
    hint: `kubectl rollout status deployment -n ${ns} -l app.kubernetes.io/instance=${APP_RELEASE}`,
  })

  return {
    values: Object.fromEntries(rendered.map((r) => [r.name, parseYaml(r.content) as unknown])),
    answers,
    sources: options.sources,
    outputDir: options.outputDir,
    files,
    steps,
    image: `${image.repository}:${image.tag}`,
    summary: summarize(options, cluster.kind, cluster.name),
  }
}

/** Which StorageClass the lab's claims get, as the plan shows it. */
function volumeClass(answers: InstallAnswers): string {
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
