/**
 * `keda-lab doctor`: the original system's troubleshooting notes as named checks (data, run by
 * src/lab/checks.ts). Each check asks the cluster what it needs through the Kube adapter — the
 * monitoring stack through the API server's service proxy, so no port-forward is needed — and
 * returns pass/warn/fail with a fix. Secrets read here (Grafana's password, the Telegram token)
 * are used, never shown.
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {type Kube, type ObjectSummary, resources} from '../../adapters/kube/index.js'
import type {Telegram} from '../../adapters/telegram.js'
import {PACKAGE_ROOT} from '../../config/package.js'
import {EXIT_NO_CLUSTER, isKedaLabError} from '../../errors.js'
import {type Check, type CheckOutcome, type CheckResult, runChecks} from '../checks.js'
import {APP_RELEASE} from '../../config/release.js'
import {METRICS_API_SERVICE, METRICS_SERVER_RELEASE} from '../install/preflight.js'
import {describeBlockers, findBlockers, stuckHint} from '../uninstall/blockers.js'
import {findLeftovers} from '../uninstall/leftovers.js'
import {labReleases, type ReleaseManager} from '../uninstall/releases.js'
import {unrecordedReleaseCrds} from '../uninstall/release-records.js'

/** A Service reached through the API server proxy. */
export interface ServiceTarget {
  name: string
  port: number | string
}

/** Everything the doctor's checks need, passed in (no check leaves state for another). */
export interface DoctorContext {
  kube: Kube
  /** The Helm releases in the cluster (`helm list`): whether the lab is installed is judged by its releases. */
  releases: Pick<ReleaseManager, 'list'>
  namespace: string
  monitoringNamespace: string
  telegram: Telegram
  /** Alert names the app chart's PrometheusRule defines (see loadExpectedAlerts). */
  expectedAlerts: readonly string[]
  services: {prometheus: ServiceTarget; grafana: ServiceTarget; loki: ServiceTarget}
  /** How far back the Loki query looks. */
  logWindowMs: number
  /** A namespace Terminating for longer than this is "stuck". */
  stuckAfterMs: number
  now: () => number
}

/** Service names of the monitoring releases as the charts name them for the releases keda-lab installs. */
export const DEFAULT_SERVICES: DoctorContext['services'] = {
  prometheus: {name: 'kube-prometheus-stack-prometheus', port: 9090},
  grafana: {name: 'kube-prometheus-stack-grafana', port: 80},
  loki: {name: 'loki', port: 3100},
}

const COMPONENTS = ['api', 'worker', 'webhook'] as const

/** The alert names in the app chart's PrometheusRule template (kept in step with the chart by reading it). */
export async function loadExpectedAlerts(file = join(PACKAGE_ROOT, 'templates/chart/keda-lab/templates/monitoring/prometheusrule.yaml')): Promise<string[]> {
  const text = await readFile(file, 'utf8')
  return [...text.matchAll(/^\s*-\s*alert:\s*([A-Za-z0-9_]+)/gm)].map((m) => m[1] ?? '')
}

const monitoringMissing = async (ctx: DoctorContext): Promise<CheckOutcome | undefined> =>
  (await ctx.kube.getNamespace(ctx.monitoringNamespace))
    ? undefined
    : {status: 'skip', detail: `monitoring is not installed (namespace ${ctx.monitoringNamespace} does not exist)`}

// biome-ignore lint/suspicious/noExplicitAny: JSON from Prometheus/Grafana/Loki, narrowed field by field by each check
type ProxiedJson = {ok: true; body: any} | {ok: false; outcome: CheckOutcome}

/** GET through the service proxy, parsed as JSON; a non-2xx answer becomes a failure outcome. */
async function proxyJson(
  ctx: DoctorContext,
  target: ServiceTarget,
  path: string,
  what: string,
  extra: {query?: Record<string, string>; headers?: Record<string, string>} = {},
): Promise<ProxiedJson> {
  const res = await ctx.kube.proxyService({namespace: ctx.monitoringNamespace, service: target.name, port: target.port, path, ...extra})
  if (res.status < 200 || res.status >= 300) {
    return {
      ok: false,
      outcome: {
        status: 'fail',
        detail: `${what} answered HTTP ${res.status} on ${path} (service ${ctx.monitoringNamespace}/${target.name}:${target.port}): ${res.body.trim().split('\n')[0]?.slice(0, 160) ?? ''}`,
        hint: `kubectl -n ${ctx.monitoringNamespace} get pods,svc — is ${what} running? \`keda-lab install\` (without --no-monitoring) installs it`,
      },
    }
  }
  try {
    return {ok: true, body: JSON.parse(res.body)}
  } catch {
    return {
      ok: false,
      outcome: {status: 'fail', detail: `${what} did not answer JSON on ${path}`, hint: `kubectl -n ${ctx.monitoringNamespace} logs svc/${target.name}`},
    }
  }
}

/** proxyJson to a monitoring service; skipped (not failed) when monitoring is not installed. */
async function monitoringJson(ctx: DoctorContext, target: ServiceTarget, path: string, what: string, query: Record<string, string>): Promise<ProxiedJson> {
  const skip = await monitoringMissing(ctx)
  if (skip) return {ok: false, outcome: skip}
  return proxyJson(ctx, target, path, what, {query})
}

const condition = (o: ObjectSummary, type: string) => o.conditions.find((c) => c.type === type)

/** ScaledObject conditions and KEDA's Warning events: can KEDA read the queue length from Redis? */
export const kedaReachesRedis: Check<DoctorContext> = {
  id: 'keda-redis',
  category: 'autoscaling',
  title: 'KEDA can reach Redis',
  hint: 'keda-lab install',
  async run(ctx) {
    if (!(await ctx.kube.getNamespace(ctx.namespace))) {
      return {status: 'fail', detail: `namespace ${ctx.namespace} does not exist: keda-lab is not installed`, hint: 'keda-lab install'}
    }
    if (!(await ctx.kube.listCrdNames()).includes('scaledobjects.keda.sh')) {
      return {status: 'fail', detail: 'KEDA is not installed (no CustomResourceDefinition scaledobjects.keda.sh)', hint: 'keda-lab install'}
    }
    const scaled = await ctx.kube.listObjects({...resources.scaledObjects, namespace: ctx.namespace})
    const [firstScaled] = scaled
    if (!firstScaled) {
      return {
        status: 'fail',
        detail: `no ScaledObject in namespace ${ctx.namespace}`,
        hint: "keda-lab install (the app release creates the worker's ScaledObject)",
      }
    }
    // KEDA's errors: the Warning events it records on the ScaledObject (KEDA 2.20.2 records a Redis
    // it cannot reach as KEDAMetricSourceFailed; any recent Warning counts) — recent ones only, an
    // old outage that healed is not a failure now.
    const events = await ctx.kube.listEvents(ctx.namespace, {kind: 'ScaledObject'})
    const recentWarnings = (name: string) =>
      events
        .filter((e) => e.involvedName === name && e.type === 'Warning' && (!e.lastTimestamp || ctx.now() - Date.parse(e.lastTimestamp) <= ctx.logWindowMs))
        .sort((a, b) => Date.parse(b.lastTimestamp ?? '0') - Date.parse(a.lastTimestamp ?? '0'))
    const notReady: string[] = []
    const ready: string[] = []
    let unknown = false
    for (const so of scaled) {
      const r = condition(so, 'Ready')
      const a = condition(so, 'Active')
      const active = a ? `, Active=${a.status}${a.reason ? ` (${a.reason})` : ''}` : ''
      const warning = recentWarnings(so.name)[0]
      const kedaSays = warning ? `; KEDA reports ${warning.reason}: ${warning.message}${warning.count > 1 ? ` (${warning.count} times)` : ''}` : ''
      if (!r) {
        unknown = true
        notReady.push(`${so.name}: no Ready condition yet${kedaSays}`)
      } else if (r.status === 'True' && !warning) ready.push(`${so.name} Ready${active}`)
      else if (r.status === 'True') notReady.push(`${so.name} Ready${active}${kedaSays}`)
      else notReady.push(`${so.name} Ready=${r.status}: ${[r.reason, r.message].filter(Boolean).join(': ')}${active}${kedaSays}`)
    }
    if (notReady.length === 0) return {status: 'pass', detail: ready.join('; ')}
    return {
      status: unknown && notReady.every((n) => n.endsWith(': no Ready condition yet')) ? 'warn' : 'fail',
      detail: notReady.join('; '),
      hint: unknown
        ? `KEDA has not processed the ScaledObject: is its operator running? kubectl -n ${ctx.namespace} get pods -l app=keda-operator`
        : `KEDA cannot read the queue from Redis: check the Sentinel/Redis address in the ScaledObject and the password its TriggerAuthentication takes from Secret keda-lab-secrets (key redis-password); kubectl -n ${ctx.namespace} describe scaledobject ${firstScaled.name}; kubectl -n ${ctx.namespace} logs deploy/keda-operator | grep -i redis`,
    }
  },
}

/**
 * The resource metrics API (metrics-server) is served, and the API's HPA reads the pods' CPU from it:
 * without it the HPA never scales the API (its ScalingActive condition says FailedGetResourceMetric).
 */
export const apiHpaMetrics: Check<DoctorContext> = {
  id: 'api-hpa-metrics',
  category: 'autoscaling',
  title: "The API's HPA reads CPU (metrics-server)",
  async run(ctx) {
    if (!(await ctx.kube.apiServiceAvailable(METRICS_API_SERVICE))) {
      return {
        status: 'warn',
        detail: `${METRICS_API_SERVICE} is missing or unavailable: the API's HPA cannot read CPU, so the API never scales`,
        hint: `kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/download/${METRICS_SERVER_RELEASE}/components.yaml (minikube: minikube addons enable metrics-server); if it is installed: kubectl -n kube-system logs deploy/metrics-server`,
      }
    }
    const hpa = (await ctx.kube.listHpas(ctx.namespace)).find((h) => h.targetKind === 'Deployment' && h.targetName === `${APP_RELEASE}-api`)
    if (!hpa) return {status: 'pass', detail: `${METRICS_API_SERVICE} available; the API has no HPA (autoscaling off)`}
    const active = hpa.conditions.find((c) => c.type === 'ScalingActive')
    if (active?.status === 'False') {
      return {
        status: 'fail',
        detail: `${METRICS_API_SERVICE} available, but HPA ${hpa.name} cannot scale: ${[active.reason, active.message].filter(Boolean).join(': ')}`,
        hint: `do the API pods have CPU requests and metrics? kubectl -n ${ctx.namespace} top pod; kubectl -n ${ctx.namespace} describe hpa ${hpa.name}`,
      }
    }
    const cpu = hpa.cpu?.currentPercent
    return {
      status: 'pass',
      detail: `${METRICS_API_SERVICE} available; HPA ${hpa.name} ${cpu === undefined ? 'has no CPU reading yet' : `reads CPU ${cpu}% of its ${hpa.cpu?.targetPercent ?? '?'}% target`}`,
    }
  },
}

/** Which of the app's components are deployed (the webhook is optional). */
async function deployedComponents(ctx: DoctorContext): Promise<string[]> {
  const deployments = await ctx.kube.listDeployments(ctx.namespace, 'app.kubernetes.io/part-of=keda-lab')
  const found = COMPONENTS.filter((c) => deployments.some((d) => d.name === c || d.name.endsWith(`-${c}`)))
  return found.length > 0 ? found : [...COMPONENTS]
}

interface PromTarget {
  labels?: Record<string, string>
  scrapePool?: string
  health?: string
  lastError?: string
}

/** Prometheus `/api/v1/targets`: an `up` target for each deployed component in the app namespace. */
export const prometheusTargets: Check<DoctorContext> = {
  id: 'prometheus-targets',
  category: 'monitoring',
  title: 'Prometheus scrapes the api, worker and webhook targets',
  async run(ctx) {
    const res = await monitoringJson(ctx, ctx.services.prometheus, '/api/v1/targets', 'Prometheus', {state: 'active'})
    if (!res.ok) return res.outcome
    const targets: PromTarget[] = res.body?.data?.activeTargets ?? []
    const problems: string[] = []
    const fine: string[] = []
    let down = false
    for (const component of await deployedComponents(ctx)) {
      const mine = targets.filter((t) => {
        const l = t.labels ?? {}
        if (l.namespace !== ctx.namespace) return false
        return (
          l.component === component ||
          [l.service, l.job].some((v) => v !== undefined && new RegExp(`-${component}(-metrics)?$`).test(v)) ||
          (t.scrapePool ?? '').includes(`-${component}/`)
        )
      })
      const up = mine.filter((t) => t.health === 'up')
      const bad = mine.find((t) => t.health !== 'up')
      if (mine.length === 0) problems.push(`${component}: no target`)
      else if (bad) {
        down = true
        problems.push(`${component}: ${mine.length - up.length}/${mine.length} down (${bad.lastError || bad.health || 'unknown'})`)
      } else fine.push(`${component}: ${up.length} up`)
    }
    if (problems.length === 0) return {status: 'pass', detail: fine.join(', ')}
    return {
      status: 'fail',
      detail: [...problems, ...fine].join(', '),
      hint: down
        ? `Prometheus cannot scrape the metrics port: check the NetworkPolicy lets ${ctx.monitoringNamespace} in and the pods listen (kubectl -n ${ctx.namespace} get endpoints)`
        : `Prometheus has not picked up the ServiceMonitors: they must carry release=kube-prometheus-stack and select the metrics Services (kubectl -n ${ctx.namespace} get servicemonitors,svc,endpoints)`,
    }
  },
}

/** Prometheus `/api/v1/rules`: every alert of the app chart's PrometheusRule is loaded and healthy. */
export const alertRulesLoaded: Check<DoctorContext> = {
  id: 'alert-rules',
  category: 'monitoring',
  title: 'The keda-lab alert rules are loaded',
  async run(ctx) {
    const res = await monitoringJson(ctx, ctx.services.prometheus, '/api/v1/rules', 'Prometheus', {type: 'alert'})
    if (!res.ok) return res.outcome
    const groups: {name?: string; file?: string; rules?: {name?: string; health?: string; lastError?: string}[]}[] = res.body?.data?.groups ?? []
    const ours = groups.filter((g) => (g.name ?? '').startsWith('keda-lab') || (g.file ?? '').includes(`${ctx.namespace}-keda-lab`))
    const rules = ours.flatMap((g) => g.rules ?? [])
    const loaded = new Set(rules.map((r) => r.name))
    const missing = ctx.expectedAlerts.filter((a) => !loaded.has(a))
    const broken = rules.filter((r) => r.health && r.health !== 'ok' && r.health !== 'unknown')
    if (rules.length > 0 && missing.length === 0 && broken.length === 0) {
      return {status: 'pass', detail: `${rules.length} alert rules in ${ours.length} groups`}
    }
    if (broken.length > 0) {
      return {
        status: 'fail',
        detail: `rules failing to evaluate: ${broken.map((r) => `${r.name} (${r.lastError ?? r.health})`).join(', ')}`,
        hint: 'fix the rule expression in templates/chart/keda-lab/templates/monitoring/prometheusrule.yaml and run `keda-lab install` again',
      }
    }
    return {
      status: 'fail',
      detail: rules.length === 0 ? 'no keda-lab alert rule is loaded' : `missing alert rules: ${missing.join(', ')}`,
      hint: `the PrometheusRule must carry release=kube-prometheus-stack: kubectl -n ${ctx.namespace} get prometheusrules --show-labels`,
    }
  },
}

/** Grafana's datasource health API for its Prometheus and Loki datasources. */
export const grafanaDatasources: Check<DoctorContext> = {
  id: 'grafana-datasources',
  category: 'monitoring',
  title: 'Grafana reaches its Prometheus and Loki datasources',
  async run(ctx) {
    const skip = await monitoringMissing(ctx)
    if (skip) return skip
    const secret = await ctx.kube.getSecretData(ctx.monitoringNamespace, 'keda-lab-grafana')
    if (!secret?.['admin-password']) {
      return {
        status: 'fail',
        detail: `Secret ${ctx.monitoringNamespace}/keda-lab-grafana (key admin-password) is missing`,
        hint: 'keda-lab install (creates it and keeps it across runs)',
      }
    }
    const g = ctx.services.grafana
    // The API server drops the Authorization header of proxied requests once it has authenticated
    // the caller, so basic auth cannot pass through the proxy: log in and use the session cookie.
    const login = await ctx.kube.proxyService({
      namespace: ctx.monitoringNamespace,
      service: g.name,
      port: g.port,
      method: 'POST',
      path: '/login',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({user: secret['admin-user'] || 'admin', password: secret['admin-password']}),
    })
    if (login.status === 401 || login.status === 403) {
      return {
        status: 'fail',
        detail: 'Grafana rejected the admin password from Secret keda-lab-grafana',
        hint: `Grafana keeps the password of its first start in its database: reset it with kubectl -n ${ctx.monitoringNamespace} exec deploy/${g.name} -c grafana -- grafana cli admin reset-admin-password "<the Secret's admin-password>"`,
      }
    }
    if (login.status < 200 || login.status >= 300) {
      return {
        status: 'fail',
        detail: `Grafana login answered HTTP ${login.status}`,
        hint: `kubectl -n ${ctx.monitoringNamespace} get pods -l app.kubernetes.io/name=grafana`,
      }
    }
    const setCookie = login.headers['set-cookie']
    const cookie = (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).map((c) => c.split(';')[0]).join('; ')
    const headers = {Cookie: cookie}
    const list = await proxyJson(ctx, g, '/api/datasources', 'Grafana', {headers})
    if (!list.ok) return list.outcome
    const datasources: {uid?: string; name?: string; type?: string}[] = Array.isArray(list.body) ? list.body : []
    const problems: string[] = []
    const fine: string[] = []
    for (const type of ['prometheus', 'loki']) {
      const ds = datasources.find((d) => d.type === type)
      if (!ds?.uid) {
        problems.push(`no ${type} datasource`)
        continue
      }
      const health = await ctx.kube.proxyService({
        namespace: ctx.monitoringNamespace,
        service: g.name,
        port: g.port,
        path: `/api/datasources/uid/${encodeURIComponent(ds.uid)}/health`,
        headers,
      })
      let body: {status?: string; message?: string} = {}
      try {
        body = JSON.parse(health.body)
      } catch {
        // non-JSON: judged by the status code
      }
      if (health.status === 200 && body.status === 'OK') fine.push(`${ds.name ?? type} OK`)
      else problems.push(`${ds.name ?? type}: ${body.message ?? `HTTP ${health.status}`}`)
    }
    if (problems.length === 0) return {status: 'pass', detail: fine.join(', ')}
    return {
      status: 'fail',
      detail: [...problems, ...fine].join('; '),
      hint: `check the datasource URLs (Prometheus: http://${ctx.services.prometheus.name}.${ctx.monitoringNamespace}.svc:${ctx.services.prometheus.port}, Loki: http://${ctx.services.loki.name}.${ctx.monitoringNamespace}.svc:${ctx.services.loki.port}) and that both pods run: kubectl -n ${ctx.monitoringNamespace} get pods`,
    }
  },
}

/** A LogQL query over the app namespace's recent logs returns lines. */
export const lokiReceivesLogs: Check<DoctorContext> = {
  id: 'loki-logs',
  category: 'monitoring',
  title: 'Logs from the application arrive in Loki',
  async run(ctx) {
    const end = ctx.now()
    const start = end - ctx.logWindowMs
    const minutes = Math.round(ctx.logWindowMs / 60_000)
    const res = await monitoringJson(ctx, ctx.services.loki, '/loki/api/v1/query_range', 'Loki', {
      query: `{namespace="${ctx.namespace}"}`,
      start: `${start}000000`,
      end: `${end}000000`,
      limit: '100',
      direction: 'backward',
    })
    if (!res.ok) return res.outcome
    const streams: {stream?: Record<string, string>; values?: unknown[]}[] = res.body?.data?.result ?? []
    const lines = streams.reduce((n, s) => n + (s.values?.length ?? 0), 0)
    if (lines === 0) {
      return {
        status: 'fail',
        detail: `no log line from namespace ${ctx.namespace} in the last ${minutes} min`,
        hint: `Alloy ships the pods' logs to Loki: kubectl -n ${ctx.monitoringNamespace} logs deploy/alloy; and the app must be logging: kubectl -n ${ctx.namespace} logs deploy/keda-lab-api`,
      }
    }
    const sources = [...new Set(streams.map((s) => s.stream?.component ?? s.stream?.container ?? s.stream?.pod).filter(Boolean))]
    return {
      status: 'pass',
      detail: `${lines}${lines >= 100 ? '+' : ''} lines in the last ${minutes} min${sources.length > 0 ? ` from ${sources.join(', ')}` : ''}`,
    }
  },
}

/** getMe with the token from Secret keda-lab-secrets (used, never shown). */
export const telegramToken: Check<DoctorContext> = {
  id: 'telegram-token',
  category: 'alerting',
  title: "The webhook's Telegram token is valid",
  async run(ctx) {
    const secret = await ctx.kube.getSecretData(ctx.namespace, 'keda-lab-secrets')
    if (!secret) return {status: 'fail', detail: `Secret ${ctx.namespace}/keda-lab-secrets does not exist`, hint: 'keda-lab install (creates it)'}
    const token = secret['telegram-bot-token']
    if (!token)
      return {
        status: 'warn',
        detail: 'no Telegram token configured: alerts are not sent to Telegram',
        hint: 'keda-lab install --telegram-token <token from @BotFather>',
      }
    const result = await ctx.telegram.checkToken(token)
    if (result.status === 'valid') return {status: 'pass', detail: `bot @${result.username}`}
    if (result.status === 'invalid') {
      return {status: 'fail', detail: result.reason, hint: 'get a new token from @BotFather and run `keda-lab install --telegram-token <token>`'}
    }
    return {
      status: 'warn',
      detail: `could not check the token: ${result.reason}`,
      hint: 'check this machine can reach api.telegram.org (or set TELEGRAM_API_URL)',
    }
  },
}

/** No namespace Terminating for longer than `stuckAfterMs`, with what blocks each one. */
export const noStuckNamespace: Check<DoctorContext> = {
  id: 'terminating-namespaces',
  category: 'cluster',
  title: 'No namespace stuck in Terminating',
  async run(ctx) {
    const terminating = await ctx.kube.listTerminatingNamespaces()
    if (terminating.length === 0) return {status: 'pass', detail: 'none'}
    const parts: string[] = []
    let stuck = false
    let discoveryFailure = false
    const unavailable = new Map<string, {name: string; message: string}>()
    for (const ns of terminating) {
      const age = ns.deletionTimestamp ? ctx.now() - Date.parse(ns.deletionTimestamp) : 0
      if (age > ctx.stuckAfterMs) stuck = true
      const found = await findBlockers(ctx.kube, ns)
      if (found.conditions.some((c) => c.type === 'NamespaceDeletionDiscoveryFailure')) discoveryFailure = true
      for (const a of found.unavailableApiServices) unavailable.set(a.name, a)
      // The objects listed say more than the controller's counts.
      const blockers = describeBlockers(found).filter((l) => !/^Namespace(Content|Finalizers)Remaining:/.test(l))
      parts.push(`${ns.name} (Terminating for ${Math.round(age / 1000)}s${blockers.length > 0 ? `; blocked by ${blockers.join('; ')}` : ''})`)
    }
    const ours = terminating.some((ns) => ns.name === ctx.namespace || ns.name === ctx.monitoringNamespace)
    let hint: string
    if (ours) hint = stuckHint(discoveryFailure ? [{type: 'NamespaceDeletionDiscoveryFailure', status: 'True'}] : [], [...unavailable.values()])
    else if (discoveryFailure) {
      const names = [...unavailable.keys()]
      hint =
        names.length > 0
          ? `the unavailable APIService ${names.join(', ')} stops the namespace controller: start what serves it again, or delete it (kubectl delete apiservice ${names.join(' ')})`
          : 'an unavailable APIService stops the namespace controller: find it with `kubectl get apiservices | grep False` and delete it'
    } else
      hint = 'clear the finalizers of the objects listed: kubectl patch <resource> <name> -n <namespace> --type=merge -p \'{"metadata":{"finalizers":null}}\''
    return {status: stuck ? 'fail' : 'warn', detail: parts.join(', '), hint}
  },
}

/**
 * None of the cluster-scoped objects of the lab's releases that are NOT installed remain. Installed
 * is judged by the Helm releases, not by a namespace (a default uninstall keeps the app namespace
 * for its PersistentVolumeClaims); the objects' owners come from the same records uninstall reads.
 */
export const noLeftovers: Check<DoctorContext> = {
  id: 'leftovers',
  category: 'cluster',
  title: 'No leftover cluster-scoped objects',
  async run(ctx) {
    const installed = labReleases(await ctx.releases.list(), ctx.namespace, ctx.monitoringNamespace).map((r) => r.name)
    const where = {namespace: ctx.namespace, monitoringNamespace: ctx.monitoringNamespace}
    // CRDs installed before keda-lab recorded them: Helm's own release records (read only) name them.
    const unrecorded = await unrecordedReleaseCrds(ctx.kube, where)
    const leftovers = await findLeftovers(ctx.kube, {...where, installed, unrecorded})
    const of = installed.length > 0 ? ` of the releases not installed (installed: ${installed.join(', ')})` : ' (no keda-lab release is installed)'
    if (leftovers.length === 0) return {status: 'pass', detail: `none${of}`}
    return {
      status: 'fail',
      detail: leftovers.map((l) => `${l.kind} ${l.name} (from ${l.release})`).join(', '),
      hint:
        installed.length > 0
          ? 'keda-lab install puts the missing releases back; or keda-lab uninstall --purge removes everything'
          : 'keda-lab uninstall --purge deletes them',
    }
  },
}

/** The API server answers (fatal: without it the other checks are skipped). */
export const clusterReachable: Check<DoctorContext> = {
  id: 'cluster',
  category: 'cluster',
  title: 'Kubernetes API reachable',
  fatal: true,
  async run(ctx) {
    const v = await ctx.kube.serverVersion()
    return {status: 'pass', detail: `${v.gitVersion} at ${ctx.kube.server} (context ${ctx.kube.contextName})`}
  },
}

/** The doctor's checks, in the order they are printed. */
export const DOCTOR_CHECKS: readonly Check<DoctorContext>[] = [
  kedaReachesRedis,
  apiHpaMetrics,
  prometheusTargets,
  alertRulesLoaded,
  grafanaDatasources,
  lokiReceivesLogs,
  telegramToken,
  noStuckNamespace,
  noLeftovers,
]

/** The doctor's result: `ok` is false when a check failed. */
export interface DoctorReport {
  ok: boolean
  /** 0 all passed, EXIT_NO_CLUSTER when the API server does not answer, 1 when another check failed. */
  exitCode: number
  checks: CheckResult[]
}

/** A check whose KedaLabError keeps its hint (runChecks alone keeps only the message). */
function keepHints(check: Check<DoctorContext>): Check<DoctorContext> {
  return {
    ...check,
    async run(ctx) {
      try {
        return await check.run(ctx)
      } catch (error) {
        if (isKedaLabError(error)) return {status: 'fail', detail: error.message, hint: error.hint}
        throw error
      }
    },
  }
}

/** Runs the checks; when the cluster cannot be reached, the others are reported as skipped. */
export async function runDoctor(ctx: DoctorContext, onResult?: (r: CheckResult) => void): Promise<DoctorReport> {
  const first = await runChecks([keepHints(clusterReachable)], ctx, onResult)
  const unreachable = first.some((c) => c.status === 'fail')
  const rest = unreachable
    ? DOCTOR_CHECKS.map((c): CheckResult => {
        const r: CheckResult = {id: c.id, category: c.category, title: c.title, status: 'skip', fatal: false, detail: 'the cluster is not reachable'}
        onResult?.(r)
        return r
      })
    : await runChecks(DOCTOR_CHECKS.map(keepHints), ctx, onResult)
  const checks = [...first, ...rest]
  const ok = !checks.some((c) => c.status === 'fail')
  return {ok, exitCode: unreachable ? EXIT_NO_CLUSTER : ok ? 0 : 1, checks}
}
