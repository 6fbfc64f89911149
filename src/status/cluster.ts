/**
 * `keda-lab status` on a cluster: one read of everything through the Kube adapter (workloads,
 * pods, HPAs, the ScaledObject, KEDA's HPA events), the queue from the API's `/api/queue` and the
 * firing alerts from Alertmanager, both through the API server's service proxy. The judging
 * (component states, verdict, reasons) is pure and tested on its own.
 */
import type {EventInfo, HpaInfo, Kube, PodInfo, PodMetricsList, ScaledObjectInfo, ServiceProxyResponse, WorkloadInfo} from '../adapters/kube/index.js'
import {isKedaLabError, KedaLabError} from '../errors.js'
import {APP_RELEASE} from '../config/release.js'
import type {
  AlertsStatus,
  ApiHpaStatus,
  ApiUsageStatus,
  ClusterStatusReport,
  ComponentStatus,
  FiringAlert,
  QueueStatus,
  RedisStatus,
  ScaledObjectStatus,
  Verdict,
} from './model.js'
import {STATUS_EXIT} from './model.js'

/** Where a component lives and what it is called (the names the charts keda-lab installs give them). */
export interface ComponentSpec {
  id: string
  title: string
  where: 'app' | 'monitoring'
  kind: WorkloadInfo['kind'] | 'Deployment|DaemonSet'
  name: string
  /**
   * The component's own container, whose image tag is its version. Charts put sidecars beside it,
   * sometimes first (Grafana's k8s-sidecar containers come before grafana's own).
   */
  container: string
  /** Required: missing makes the lab degraded. Optional ones (the webhook) are `absent` when not installed. */
  required: boolean
}

/** Every component, in the order shown. Monitoring components are required when the monitoring namespace exists. */
export const COMPONENTS: readonly ComponentSpec[] = [
  {id: 'keda-operator', title: 'KEDA operator', where: 'app', kind: 'Deployment', name: 'keda-operator', container: 'keda-operator', required: true},
  {
    id: 'keda-metrics-server',
    title: 'KEDA metrics server',
    where: 'app',
    kind: 'Deployment',
    name: 'keda-operator-metrics-apiserver',
    container: 'keda-operator-metrics-apiserver',
    required: true,
  },
  {id: 'redis', title: 'Redis + Sentinels', where: 'app', kind: 'StatefulSet', name: 'redis-ha-server', container: 'redis', required: true},
  {id: 'api', title: 'API', where: 'app', kind: 'Deployment', name: `${APP_RELEASE}-api`, container: 'api', required: true},
  {id: 'worker', title: 'Worker', where: 'app', kind: 'Deployment', name: `${APP_RELEASE}-worker`, container: 'worker', required: true},
  {id: 'webhook', title: 'Webhook', where: 'app', kind: 'Deployment', name: `${APP_RELEASE}-webhook`, container: 'webhook', required: false},
  {
    id: 'prometheus',
    title: 'Prometheus',
    where: 'monitoring',
    kind: 'StatefulSet',
    name: 'prometheus-kube-prometheus-stack-prometheus',
    container: 'prometheus',
    required: true,
  },
  {
    id: 'alertmanager',
    title: 'Alertmanager',
    where: 'monitoring',
    kind: 'StatefulSet',
    name: 'alertmanager-kube-prometheus-stack-alertmanager',
    container: 'alertmanager',
    required: true,
  },
  {
    id: 'grafana',
    title: 'Grafana',
    where: 'monitoring',
    kind: 'Deployment',
    name: 'kube-prometheus-stack-grafana',
    container: 'grafana',
    required: true,
  },
  {id: 'loki', title: 'Loki', where: 'monitoring', kind: 'StatefulSet', name: 'loki', container: 'loki', required: true},
  {id: 'alloy', title: 'Alloy', where: 'monitoring', kind: 'Deployment|DaemonSet', name: 'alloy', container: 'alloy', required: true},
]

/** The Services status reads through the API server's proxy. */
export const STATUS_SERVICES = {
  api: {name: `${APP_RELEASE}-api`, port: 'http', path: '/api/queue'},
  alertmanager: {name: 'kube-prometheus-stack-alertmanager', port: 9093, path: '/api/v2/alerts'},
} as const

/** Alerts kube-prometheus-stack fires all the time on purpose (dead man's switch, inhibition helper). */
const ALWAYS_FIRING = new Set(['Watchdog', 'InfoInhibitor'])

/** Role labels some Redis charts put on their pods; redis-ha puts none, so its master cannot be told from the API. */
const ROLE_LABELS = ['redis-role', 'redisfailovers-role', 'role', 'app.kubernetes.io/role']

export interface ClusterStatusContext {
  kube: Kube
  namespace: string
  monitoringNamespace: string
  now?: () => Date
}

/** The image tag of a reference (`repo:tag`, `repo@sha256:…` gives the digest's start). */
export function imageTag(image: string | undefined): string {
  if (!image) return ''
  const at = image.indexOf('@')
  if (at >= 0) return image.slice(at + 1, at + 1 + 19)
  const slash = image.lastIndexOf('/')
  const colon = image.lastIndexOf(':')
  return colon > slash ? image.slice(colon + 1) : 'latest'
}

/**
 * The image of the component's own container: by the name the charts give it, else by the chart's
 * `app.kubernetes.io/name` label; the first container only when neither names one.
 */
export function ownImage(spec: Pick<ComponentSpec, 'container'>, workload: Pick<WorkloadInfo, 'containers' | 'images' | 'labels'>): string | undefined {
  for (const name of [spec.container, workload.labels['app.kubernetes.io/name']]) {
    const i = name ? workload.containers.indexOf(name) : -1
    if (i >= 0) return workload.images[i]
  }
  return workload.images[0]
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v)

/** One component's state from its workload (undefined: not found) and the pods its selector picks. */
export function componentStatus(
  spec: ComponentSpec,
  namespace: string,
  workload: WorkloadInfo | undefined,
  pods: readonly PodInfo[],
  required: boolean,
): ComponentStatus {
  if (!workload) {
    return {
      id: spec.id,
      title: spec.title,
      namespace,
      workload: `${spec.kind.split('|')[0]}/${spec.name}`,
      state: required ? 'missing' : 'absent',
      ready: 0,
      desired: 0,
      restarts: 0,
      version: '',
      pods: [],
    }
  }
  const mine = pods.filter((p) => matches(workload.selector, p.labels))
  const role = (p: PodInfo) => {
    for (const key of ROLE_LABELS) {
      const value = p.labels[key]?.toLowerCase()
      if (value === 'master' || value === 'primary') return 'master'
      if (value === 'replica' || value === 'slave') return 'replica'
    }
    return undefined
  }
  return {
    id: spec.id,
    title: spec.title,
    namespace,
    workload: `${workload.kind}/${workload.name}`,
    state: workload.ready >= workload.desired ? 'ok' : 'degraded',
    ready: workload.ready,
    desired: workload.desired,
    restarts: mine.reduce((n, p) => n + p.restarts, 0),
    version: imageTag(ownImage(spec, workload)),
    pods: mine
      .map((p) => ({
        name: p.name,
        phase: p.deleting ? 'Terminating' : p.phase,
        ready: p.ready,
        restarts: p.restarts,
        ...(spec.id === 'redis' && role(p) ? {role: role(p)} : {}),
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  }
}

/** Master, replicas and Sentinels of the redis-ha StatefulSet (one Sentinel beside each Redis); undefined without one. */
export function redisStatus(component: ComponentStatus | undefined, sentinelBeside: boolean): RedisStatus | undefined {
  if (!component || component.state === 'missing' || component.state === 'absent') return undefined
  const master = component.pods.find((p) => p.role === 'master')
  const running = component.pods.filter((p) => p.ready).length
  return {
    ...(master ? {master: master.name} : {}),
    replicas: master ? running - (master.ready ? 1 : 0) : Math.max(0, running - 1),
    sentinels: sentinelBeside ? running : 0,
    ...(master ? {} : {note: 'the master is chosen by the Sentinels and not labelled on the pods; `keda-lab doctor` and KEDA find it through Sentinel'}),
  }
}

const condition = (so: ScaledObjectInfo, type: string) => so.conditions.find((c) => c.type === type)

/** The worker's ScaledObject with KEDA's HPA and its last SuccessfulRescale event. */
export function scaledObjectStatus(
  so: ScaledObjectInfo,
  hpa: HpaInfo | undefined,
  workload: WorkloadInfo | undefined,
  events: readonly EventInfo[],
): ScaledObjectStatus {
  const ready = condition(so, 'Ready')
  const active = condition(so, 'Active')
  const pausedCondition = condition(so, 'Paused')
  const paused =
    so.annotations['autoscaling.keda.sh/paused'] === 'true' ||
    so.annotations['autoscaling.keda.sh/paused-replicas'] !== undefined ||
    pausedCondition?.status === 'True'
  const lastScale = lastScaleOf(hpa, events)
  return {
    name: so.name,
    ready: ready?.status,
    readyReason: ready && ready.status !== 'True' ? [ready.reason, ready.message].filter(Boolean).join(': ') : undefined,
    active: active?.status,
    paused,
    currentReplicas: hpa?.currentReplicas ?? workload?.ready,
    desiredReplicas: hpa?.desiredReplicas ?? workload?.desired,
    minReplicas: so.minReplicaCount ?? hpa?.minReplicas,
    maxReplicas: so.maxReplicaCount ?? hpa?.maxReplicas,
    tasksPerReplica: so.scalingModifiers?.target ?? so.triggers[0]?.metadata.listLength,
    hpaName: so.hpaName ?? hpa?.name,
    lastScale,
  }
}

/** An HPA's last scaling: its newest SuccessfulRescale event, else its lastScaleTime. */
export function lastScaleOf(hpa: HpaInfo | undefined, events: readonly EventInfo[]): {at?: string; message: string} | undefined {
  const rescale = events
    .filter((e) => e.reason === 'SuccessfulRescale')
    .sort((a, b) => Date.parse(b.lastTimestamp ?? '0') - Date.parse(a.lastTimestamp ?? '0'))[0]
  if (rescale) return {at: rescale.lastTimestamp, message: rescale.message}
  return hpa?.lastScaleTime ? {at: hpa.lastScaleTime, message: `scaled to ${hpa.currentReplicas}`} : undefined
}

/** The API's CPU HPA, its last scaling event, and why it cannot scale when it cannot. */
export function apiHpaStatus(hpa: HpaInfo, events: readonly EventInfo[] = []): ApiHpaStatus {
  const active = hpa.conditions.find((c) => c.type === 'ScalingActive')
  return {
    name: hpa.name,
    cpuPercent: hpa.cpu?.currentPercent,
    cpuTargetPercent: hpa.cpu?.targetPercent,
    currentReplicas: hpa.currentReplicas,
    desiredReplicas: hpa.desiredReplicas,
    minReplicas: hpa.minReplicas,
    maxReplicas: hpa.maxReplicas,
    lastScale: lastScaleOf(hpa, events),
    problem: active?.status === 'False' ? [active.reason, active.message].filter(Boolean).join(': ') : undefined,
  }
}

/**
 * The API pods' CPU and memory from the metrics API, each against its CPU request, and their average
 * as the HPA computes it (sum of usage over sum of requests of the pods measured). Pods not
 * measured yet (new, or not Running) are left out, as the HPA leaves them out.
 */
export function apiUsageStatus(apiPods: readonly PodInfo[], metrics: PodMetricsList): ApiUsageStatus {
  if (!metrics.available) return {available: false, reason: metrics.reason, pods: []}
  const pods = apiPods
    .map((p) => {
      const m = metrics.pods.find((x) => x.name === p.name)
      if (!m) return undefined
      const request = p.cpuRequestMillis || undefined
      return {
        name: p.name,
        cpuMillis: m.cpuMillis,
        memoryBytes: m.memoryBytes,
        cpuRequestMillis: request,
        cpuPercent: request ? Math.round((m.cpuMillis / request) * 100) : undefined,
      }
    })
    .filter((p) => p !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name))
  const requested = pods.reduce((n, p) => n + (p.cpuRequestMillis ?? 0), 0)
  const measured = pods.every((p) => p.cpuRequestMillis)
  return {
    available: true,
    pods,
    cpuPercent: pods.length > 0 && measured && requested > 0 ? Math.round((pods.reduce((n, p) => n + p.cpuMillis, 0) / requested) * 100) : undefined,
    ...(pods.length === 0 ? {reason: 'no API pod measured yet (metrics-server needs two scrapes of a new pod)'} : {}),
  }
}

/** First line of a proxied answer, for a reason. */
const firstLine = (res: ServiceProxyResponse) => {
  let text = res.body.trim()
  try {
    const parsed = JSON.parse(text) as {message?: string; error?: {message?: string}}
    text = parsed.message ?? parsed.error?.message ?? text
  } catch {
    // not JSON
  }
  return (text.split('\n')[0] ?? '').slice(0, 200)
}

/** The API's `/api/queue` answer (status, body) as queue figures. */
export function parseQueue(res: ServiceProxyResponse): QueueStatus {
  if (res.status !== 200) return {available: false, error: `HTTP ${res.status}: ${firstLine(res)}`}
  try {
    const body = JSON.parse(res.body) as {name?: string; counts?: Record<string, number>; workers?: number}
    if (!body.counts || typeof body.counts.waiting !== 'number') return {available: false, error: 'the answer has no job counts'}
    return {
      available: true,
      name: body.name,
      waiting: body.counts.waiting,
      active: body.counts.active,
      completed: body.counts.completed,
      failed: body.counts.failed,
      delayed: body.counts.delayed,
      workers: body.workers,
    }
  } catch {
    return {available: false, error: 'the answer is not JSON'}
  }
}

/** Alertmanager's `GET /api/v2/alerts` answer as the alerts firing now (silenced/inhibited ones left out). */
export function parseAlerts(res: ServiceProxyResponse): AlertsStatus {
  if (res.status !== 200) return {available: false, firing: [], error: `HTTP ${res.status}: ${firstLine(res)}`}
  let body: unknown
  try {
    body = JSON.parse(res.body)
  } catch {
    return {available: false, firing: [], error: 'the answer is not JSON'}
  }
  if (!Array.isArray(body)) return {available: false, firing: [], error: 'the answer is not a list of alerts'}
  const firing: FiringAlert[] = (
    body as {labels?: Record<string, string>; annotations?: Record<string, string>; startsAt?: string; status?: {state?: string}}[]
  )
    .flatMap((a) => {
      const name = a.labels?.alertname
      if ((a.status?.state ?? 'active') !== 'active' || !name || ALWAYS_FIRING.has(name)) return []
      return [{name, severity: a.labels?.severity, since: a.startsAt, summary: a.annotations?.summary}]
    })
    .sort((a, b) => a.name.localeCompare(b.name))
  return {available: true, firing}
}

/**
 * KEDA's Deployments are missing here but KEDA reports the ScaledObject Ready: a KEDA of another
 * namespace serves it (install reuses an existing KEDA). Marks them absent; true when it did.
 */
export function reuseOfForeignKeda(components: ComponentStatus[], worker: ScaledObjectStatus | undefined): boolean {
  const keda = components.filter((c) => c.id.startsWith('keda-') && c.state === 'missing')
  if (keda.length === 0 || worker?.ready !== 'True') return false
  for (const c of keda) c.state = 'absent'
  return true
}

/** The verdict and its reasons from the parts (pure). */
export function judge(parts: Pick<ClusterStatusReport, 'components' | 'worker' | 'queue' | 'alerts'> & {installed: boolean; monitoring: boolean}): {
  verdict: Verdict
  reasons: string[]
} {
  if (!parts.installed) return {verdict: 'not-installed', reasons: []}
  const reasons: string[] = []
  for (const c of parts.components) {
    if (c.state === 'missing') reasons.push(`${c.title}: not found (${c.workload} in namespace ${c.namespace})`)
    else if (c.state === 'degraded') reasons.push(`${c.title}: ${c.ready}/${c.desired} pods ready`)
  }
  if (!parts.worker) reasons.push('Worker autoscaling: no ScaledObject for the worker')
  else if (parts.worker.ready === undefined) reasons.push(`ScaledObject ${parts.worker.name}: KEDA has not reported on it yet (no Ready condition)`)
  else if (parts.worker.ready !== 'True')
    reasons.push(`ScaledObject ${parts.worker.name}: not Ready${parts.worker.readyReason ? ` (${parts.worker.readyReason})` : ''}`)
  if (!parts.queue.available) reasons.push(`Queue: cannot read the API's /api/queue (${parts.queue.error})`)
  if (parts.monitoring) {
    if (!parts.alerts.available) reasons.push(`Alerts: cannot read Alertmanager (${parts.alerts.error})`)
    for (const a of parts.alerts.firing) reasons.push(`Alert firing: ${a.name}${a.severity ? ` (${a.severity})` : ''}${a.summary ? `: ${a.summary}` : ''}`)
  }
  return {verdict: reasons.length > 0 ? 'degraded' : 'healthy', reasons}
}

/** A proxied GET that turns "cannot reach" into an answer-like object (a reason, not a crash). */
async function proxyGet(
  kube: Kube,
  namespace: string,
  service: string,
  port: string | number,
  path: string,
  query?: Record<string, string>,
): Promise<ServiceProxyResponse> {
  try {
    return await kube.proxyService({namespace, service, port, path, query})
  } catch (error) {
    return {status: 0, headers: {}, body: error instanceof Error ? error.message : String(error)}
  }
}

/** The worker's ScaledObject, with the HPA KEDA made for it and that HPA's events; undefined without one. */
async function workerAutoscaling(
  kube: Kube,
  ns: string,
  hpas: readonly HpaInfo[],
  scaledObjects: readonly ScaledObjectInfo[],
  worker: WorkloadInfo | undefined,
): Promise<ScaledObjectStatus | undefined> {
  const so = scaledObjects.find((s) => s.targetName === worker?.name) ?? scaledObjects.find((s) => s.targetName === `${APP_RELEASE}-worker`)
  if (!so) return undefined
  const kedaHpa = hpas.find((h) => h.name === so.hpaName) ?? hpas.find((h) => h.name === `keda-hpa-${so.name}`)
  const events = kedaHpa ? await kube.listEvents(ns, {kind: 'HorizontalPodAutoscaler', name: kedaHpa.name}) : []
  return scaledObjectStatus(so, kedaHpa, worker, events)
}

/** The API's own HPA (with its events) and its pods' CPU/memory from the metrics API, when there are. */
async function apiAutoscaling(
  kube: Kube,
  ns: string,
  hpas: readonly HpaInfo[],
  api: WorkloadInfo | undefined,
  appPods: readonly PodInfo[],
): Promise<{apiHpa?: ApiHpaStatus; apiUsage?: ApiUsageStatus}> {
  const apiHpaInfo = hpas.find((h) => h.targetKind === 'Deployment' && h.targetName === `${APP_RELEASE}-api`)
  const apiSelector = Object.entries(api?.selector ?? {})
  const apiPods = appPods.filter((p) => apiSelector.every(([k, v]) => p.labels[k] === v))
  const [apiHpaEvents, apiMetrics] = await Promise.all([
    apiHpaInfo ? kube.listEvents(ns, {kind: 'HorizontalPodAutoscaler', name: apiHpaInfo.name}) : [],
    api && apiSelector.length > 0 ? kube.listPodMetrics(ns, apiSelector.map(([k, v]) => `${k}=${v}`).join(',')) : undefined,
  ])
  return {
    apiHpa: apiHpaInfo ? apiHpaStatus(apiHpaInfo, apiHpaEvents) : undefined,
    apiUsage: apiMetrics ? apiUsageStatus(apiPods, apiMetrics) : undefined,
  }
}

/** The queue from the API's /queue and the firing alerts from Alertmanager, both through the API server's proxy. */
async function queueAndAlerts(kube: Kube, ns: string, monNs: string, monitoring: boolean): Promise<{queue: QueueStatus; alerts: AlertsStatus}> {
  const [queueRes, alertsRes] = await Promise.all([
    proxyGet(kube, ns, STATUS_SERVICES.api.name, STATUS_SERVICES.api.port, STATUS_SERVICES.api.path),
    monitoring
      ? proxyGet(kube, monNs, STATUS_SERVICES.alertmanager.name, STATUS_SERVICES.alertmanager.port, STATUS_SERVICES.alertmanager.path, {
          active: 'true',
          silenced: 'false',
          inhibited: 'false',
        })
      : undefined,
  ])
  const alerts: AlertsStatus = alertsRes
    ? parseAlerts(alertsRes)
    : {available: false, firing: [], error: `monitoring is not installed (namespace ${monNs} does not exist)`}
  return {queue: parseQueue(queueRes), alerts}
}

/**
 * Reads the lab. A cluster that cannot be reached is a KedaLabError with exit code 4
 * (STATUS_EXIT.unreachable); everything else becomes part of the report.
 */
export async function collectClusterStatus(ctx: ClusterStatusContext): Promise<ClusterStatusReport> {
  const {kube, namespace: ns, monitoringNamespace: monNs} = ctx
  const now = ctx.now ?? (() => new Date())
  try {
    await kube.serverVersion()
  } catch (error) {
    if (isKedaLabError(error)) throw new KedaLabError(error.message, {hint: error.hint, exitCode: STATUS_EXIT.unreachable, cause: error})
    throw error
  }
  const base = {target: 'cluster' as const, context: kube.contextName, server: kube.server, namespace: ns, monitoringNamespace: monNs}
  const [appNs, monNsInfo] = await Promise.all([kube.getNamespace(ns), monNs === ns ? undefined : kube.getNamespace(monNs)])
  const monitoring = monNs === ns ? Boolean(appNs) : Boolean(monNsInfo)
  const [appWorkloads, appPods, monWorkloads, monPods] = await Promise.all([
    appNs ? kube.listWorkloads(ns) : [],
    appNs ? kube.listPods(ns) : [],
    monitoring && monNs !== ns ? kube.listWorkloads(monNs) : [],
    monitoring && monNs !== ns ? kube.listPods(monNs) : [],
  ])
  const api = appWorkloads.find((w) => w.name === `${APP_RELEASE}-api`)
  const worker = appWorkloads.find((w) => w.name === `${APP_RELEASE}-worker`)
  const installed = Boolean(appNs) && Boolean(api || worker)
  if (!installed) {
    return {
      ...base,
      verdict: 'not-installed',
      reasons: [],
      exitCode: STATUS_EXIT['not-installed'],
      checkedAt: now().toISOString(),
      components: [],
      queue: {available: false, error: 'not installed'},
      alerts: {available: false, firing: [], error: 'not installed'},
      notes: [appNs ? `namespace ${ns} has no ${APP_RELEASE}-api or ${APP_RELEASE}-worker Deployment` : `namespace ${ns} does not exist`],
    }
  }

  const components = COMPONENTS.filter((spec) => spec.where === 'app' || monitoring).map((spec) => {
    const inMonitoring = spec.where === 'monitoring' && monNs !== ns
    const workloads = inMonitoring ? monWorkloads : appWorkloads
    const kinds = spec.kind.split('|')
    const workload = workloads.find((w) => w.name === spec.name && kinds.includes(w.kind))
    return componentStatus(spec, spec.where === 'app' ? ns : monNs, workload, inMonitoring ? monPods : appPods, spec.required)
  })
  const redisComponent = components.find((c) => c.id === 'redis')
  const redisWorkload = appWorkloads.find((w) => w.name === 'redis-ha-server')
  const redis = redisStatus(redisComponent, redisWorkload?.containers.includes('sentinel') ?? false)

  const [hpas, scaledObjects] = await Promise.all([kube.listHpas(ns), kube.listScaledObjects(ns)])
  const workerStatus = await workerAutoscaling(kube, ns, hpas, scaledObjects, worker)
  const {apiHpa, apiUsage} = await apiAutoscaling(kube, ns, hpas, api, appPods)
  const {queue, alerts} = await queueAndAlerts(kube, ns, monNs, monitoring)

  const notes: string[] = []
  // `install` reuses a KEDA it did not install, in its own namespace: when KEDA answers for the
  // ScaledObject, KEDA's absence from this namespace is no problem.
  const kedaElsewhere = reuseOfForeignKeda(components, workerStatus)
  if (kedaElsewhere) notes.push(`KEDA does not run in namespace ${ns} but the ScaledObject is Ready: a KEDA installed elsewhere serves it`)
  if (workerStatus?.paused) notes.push(`worker autoscaling is paused (ScaledObject ${workerStatus.name}): KEDA leaves the replicas as they are`)
  if (!monitoring) notes.push(`monitoring is not installed (namespace ${monNs} does not exist)`)
  const {verdict, reasons} = judge({components, worker: workerStatus, queue, alerts, installed, monitoring})
  return {
    ...base,
    verdict,
    reasons,
    exitCode: STATUS_EXIT[verdict],
    checkedAt: now().toISOString(),
    components,
    redis,
    worker: workerStatus,
    apiHpa,
    apiUsage,
    queue,
    alerts,
    notes,
  }
}
