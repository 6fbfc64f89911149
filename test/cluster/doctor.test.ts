/**
 * `doctor`'s KEDA, API-HPA, Prometheus-targets, alert-rules and Telegram checks against real programs (issue 15 §2):
 *
 * - KEDA: the real KEDA operator (keda.ts's startKedaLab: the app chart installed by real Helm 4 with
 *   install's values, on the file's own control plane) makes the worker's ScaledObject Ready by
 *   reading a real redis-server; the check passes on that. When that Redis dies, the operator itself
 *   turns the ScaledObject Ready=False (TriggerError) and records a Warning event with the Redis
 *   error (KEDAMetricSourceFailed): the check fails.
 * - Prometheus: a real `prometheus` (Debian package) with the app chart's rendered PrometheusRule
 *   groups as a rule file (named as the prometheus-operator names it), scraping loopback metrics
 *   ports under the labels the chart's ServiceMonitors give the targets. A rule file Prometheus
 *   rejects (its /-/reload refuses it), a rule in error at evaluation, a target down (nothing listens
 *   on its port any more) and a target gone each fail their check with Prometheus's own answers.
 *
 * - The API's HPA (api-hpa-metrics): an API Deployment whose pods have no CPU request, under an HPA on
 *   CPU: the controller-manager's real HPA controller, reading the real metrics-server, sets
 *   ScalingActive=False (FailedGetResourceMetric, missing request for cpu) and the check fails with
 *   those words. The control plane's APIService v1beta1.metrics.k8s.io made unavailable (a port its
 *   Service lacks: the aggregator's ServicePortError), then deleted: the check warns, naming the
 *   metrics-server release the control plane runs; restored, it passes again. (The passing check with
 *   a real CPU reading: test/cluster/api-hpa.test.ts.)
 * - Telegram: the token read from a real Secret; Telegram's Bot API itself is the loopback fake
 *   (test/fakes/telegram.ts), nothing real answers it here.
 *
 * The one stand-in of the cluster is the API server's service proxy, as in the alert test
 * (test/integration/webhook-alert-test-cluster.test.ts): on this machine the real proxy answers "no
 * endpoints available" (EndpointSlices refuse loopback pod IPs, CONTROL-PLANE.md), so `proxyService`
 * forwards the Prometheus Service's requests to Prometheus's loopback port and answers 503 for any
 * other Service. Every other call of the doctor goes to the real API server.
 */
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {createKube, type Kube, type ServiceProxyResponse} from '../../src/adapters/kube/index.js'
import {createTelegram} from '../../src/adapters/telegram.js'
import {
  apiHpaMetrics,
  DEFAULT_SERVICES,
  type DoctorContext,
  type DoctorReport,
  loadExpectedAlerts,
  runDoctor,
  telegramToken,
} from '../../src/lab/doctor/checks.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import {renderChart} from '../helpers/helm.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {connectionRefused, freePort, notYet, requireBinary, runTracked, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {adminRequest, VERSIONS} from './control-plane.js'
import {createNamespace, setSimulatedUsage, useCluster} from './harness.js'
import {type KedaLab, startKedaLab} from './keda.js'
import {doctorContext, getJson} from './kube-test-helpers.js'
import {METRICS_API_SERVICE} from './metrics-api.js'

// Its own control plane: KEDA's CRDs are cluster-wide, as in the other KEDA tests.
const cluster = useCluster(import.meta.url, {dedicated: true})

/** Install's answers: no webhook (so the app's components are api and worker), no monitoring stack installed by Helm. */
const answers: InstallAnswers = {...sampleAnswers, webhook: false, monitoring: false}
const SO = 'keda-lab-worker'
/** A ClusterIP of the control plane's loopback service range (startKedaLab's certificate names it; the adapter is not started here). */
const ADAPTER_CLUSTER_IP = '127.100.200.11'

type Rule = {alert?: string; record?: string; expr: string; [key: string]: unknown}
type RuleGroup = {name: string; interval?: string; rules: Rule[]}

let workDir: string
let redis: RedisServer | undefined
let lab: KedaLab | undefined
let monitoringNamespace: string
let prometheus: {port: number; stop(): Promise<void>} | undefined
/** The lab's rule groups as the chart renders them for this namespace. */
let labGroups: RuleGroup[]
/** Loopback stand-ins for the api and worker pods' metrics ports. */
const metricsServers = new Map<string, {server: Server; port: number}>()
let ctx: DoctorContext

const ns = () => cluster.namespace
const ruleFile = () => join(workDir, 'prometheus', 'rules', `${ns()}-keda-lab.yaml`)
const kedaOutput = () => lab?.output() ?? '\n(KEDA not started)'

/** A pod's metrics port: a Prometheus text answer on /metrics. */
async function startMetrics(component: string): Promise<void> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end()
    res.writeHead(200, {'content-type': 'text/plain; version=0.0.4'}).end(`# TYPE keda_lab_stand_in gauge\nkeda_lab_stand_in{component="${component}"} 1\n`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  metricsServers.set(component, {server, port: address.port})
}

/**
 * Prometheus's configuration with one scrape job per component, labelled as the prometheus-operator
 * labels a ServiceMonitor's targets (namespace, service, endpoint, and the chart's `component` relabeling).
 */
function writeConfig(components: Record<string, number>): void {
  const scrapeConfigs = Object.entries(components).map(([component, port]) => ({
    job_name: `serviceMonitor/${ns()}/keda-lab-${component}/0`,
    static_configs: [{targets: [`127.0.0.1:${port}`], labels: {namespace: ns(), service: `keda-lab-${component}`, endpoint: 'metrics', component}}],
  }))
  writeFileSync(
    join(workDir, 'prometheus', 'prometheus.yml'),
    stringify({
      global: {scrape_interval: '1s', evaluation_interval: '1s'},
      rule_files: [join(workDir, 'prometheus', 'rules', '*.yaml')],
      scrape_configs: scrapeConfigs,
    }),
  )
}

const prometheusUrl = () => `http://127.0.0.1:${prometheus?.port}`

/** Asks Prometheus to load its configuration and rule files again; its answer (200, or 500 with the reason). */
async function reload(): Promise<{status: number; body: string}> {
  const res = await fetch(`${prometheusUrl()}/-/reload`, {method: 'POST'})
  return {status: res.status, body: await res.text()}
}

async function startPrometheus(): Promise<void> {
  const binary = requireBinary('prometheus', 'sudo apt-get install -y prometheus (Debian), or put prometheus on PATH')
  const port = await freePort()
  const child = spawnTracked(binary, [
    `--config.file=${join(workDir, 'prometheus', 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(workDir, 'prometheus', 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
  ])
  let output = ''
  child.stderr?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000)
  })
  prometheus = {port, stop: () => stopProcess(child)}
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${output}`)
      return (await fetch(`http://127.0.0.1:${port}/-/ready`)).status === 200 || notYet('not ready')
    },
    {what: 'Prometheus ready', timeoutMs: 60_000, intervalMs: 250, ignore: connectionRefused},
  )
}

/** Waits until Prometheus reports each job's target with the given health (undefined: no such target). */
async function targetsBecome(want: Record<string, 'up' | 'down' | undefined>): Promise<void> {
  await waitFor(
    async () => {
      const body = (await (await fetch(`${prometheusUrl()}/api/v1/targets?state=active`)).json()) as {
        data: {activeTargets: {labels: Record<string, string>; health: string}[]}
      }
      const seen = Object.fromEntries(body.data.activeTargets.map((t) => [t.labels.component, t.health]))
      return Object.entries(want).every(([c, h]) => seen[c] === h) || notYet(`targets ${JSON.stringify(seen)}`)
    },
    {what: `Prometheus targets ${JSON.stringify(want)}`, timeoutMs: 60_000, intervalMs: 250},
  )
}

/** Waits until Prometheus has evaluated every rule of the keda-lab groups at least once. */
async function rulesEvaluated(): Promise<{name: string; health: string; lastError?: string}[]> {
  return waitFor(
    async () => {
      const body = (await (await fetch(`${prometheusUrl()}/api/v1/rules?type=alert`)).json()) as {
        data: {groups: {name: string; rules: {name: string; health: string; lastError?: string}[]}[]}
      }
      const rules = body.data.groups.filter((g) => g.name.startsWith('keda-lab')).flatMap((g) => g.rules)
      return (
        (rules.length > 0 && rules.every((r) => r.health !== 'unknown') && rules) || notYet(`rules ${JSON.stringify(rules.map((r) => [r.name, r.health]))}`)
      )
    },
    {what: 'Prometheus to evaluate the keda-lab rules', timeoutMs: 60_000, intervalMs: 250},
  )
}

const byId = (report: DoctorReport) => Object.fromEntries(report.checks.map((c) => [c.id, c]))
const check = async (id: string) => {
  const report = await runDoctor(ctx)
  expect(byId(report).cluster?.status, 'the real API server answers the doctor').toBe('pass')
  const found = byId(report)[id]
  if (!found) throw new Error(`doctor ran no check ${id}`)
  return found
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'keda-lab-doctor-'))
  mkdirSync(join(workDir, 'prometheus', 'rules'), {recursive: true})
  monitoringNamespace = `${ns()}-mon`
  await createNamespace(cluster.kubeconfig, monitoringNamespace)
  const rule = (await renderChart(4, {namespace: ns()})).find((o) => o.kind === 'PrometheusRule')
  if (!rule) throw new Error('the chart rendered no PrometheusRule')
  labGroups = (rule.spec as {groups: RuleGroup[]}).groups
  await startMetrics('api')
  await startMetrics('worker')
  writeConfig({api: metricsServers.get('api')!.port, worker: metricsServers.get('worker')!.port})
  await startPrometheus()

  const redisPassword = randomBytes(18).toString('base64url')
  redis = await startRedis({password: redisPassword})
  lab = await startKedaLab({
    kubeconfig: cluster.kubeconfig,
    namespace: ns(),
    clusterDir: cluster.state.dir,
    workDir,
    answers,
    redis: {port: redis.port, password: redisPassword},
    helm: 4,
    adapterClusterIP: ADAPTER_CLUSTER_IP,
  })

  const kube = await createKube({kubeconfig: cluster.kubeconfig})
  const prometheusService = `${monitoringNamespace}/${DEFAULT_SERVICES.prometheus.name}:${DEFAULT_SERVICES.prometheus.port}`
  const proxied: Kube = {
    ...kube,
    // The API server's service proxy for the Prometheus Service; any other Service has no endpoints.
    async proxyService(request): Promise<ServiceProxyResponse> {
      if (`${request.namespace}/${request.service}:${request.port}` !== prometheusService) {
        return {status: 503, headers: {}, body: `no endpoints available for service "${request.service}"`}
      }
      const query = request.query ? `?${new URLSearchParams(request.query)}` : ''
      const res = await fetch(`${prometheusUrl()}${request.path}${query}`, {method: request.method ?? 'GET', headers: request.headers, body: request.body})
      return {status: res.status, headers: Object.fromEntries(res.headers), body: await res.text()}
    },
  }
  // Telegram: nothing listens at doctorContext's address, so the token check only warns.
  ctx = await doctorContext(cluster.kubeconfig, {namespace: ns(), monitoringNamespace, kube: proxied, expectedAlerts: await loadExpectedAlerts()})
}, 300_000)

afterAll(async () => {
  // Each step on its own: one failing must not leave the others' processes behind.
  const steps: (() => Promise<unknown>)[] = [
    async () => lab?.stop(),
    async () => redis?.stop(),
    async () => prometheus?.stop(),
    ...[...metricsServers.values()].map(
      ({server}) =>
        () =>
          new Promise((resolve) => server.close(resolve)),
    ),
  ]
  for (const step of steps) await step().catch(() => undefined)
  if (workDir) rmSync(workDir, {recursive: true, force: true})
}, 60_000)

describe('doctor against real Prometheus', () => {
  it('a rule file Prometheus rejects: the lab has no alert rule loaded, and the check fails', async () => {
    const broken = structuredClone(labGroups)
    const first = broken[0]?.rules[0]
    if (!first) throw new Error('the chart rendered an empty first rule group')
    first.expr = `sum(rate(${first.expr}`
    writeFileSync(ruleFile(), stringify({groups: broken}))
    const refused = await reload()
    expect(refused.status, 'Prometheus refuses the rule file').toBe(500)
    expect(refused.body).toContain('failed to reload config')
    // Why, in promtool's words (the reload answer only says that it failed).
    const promtool = await runTracked(requireBinary('promtool', 'sudo apt-get install -y prometheus'), ['check', 'rules', ruleFile()], {timeoutMs: 60_000})
    expect(promtool.exitCode).not.toBe(0)
    expect(promtool.all).toMatch(/parse error/)
    const result = await check('alert-rules')
    expect(result).toMatchObject({status: 'fail', detail: 'no keda-lab alert rule is loaded'})
    expect(result.hint).toMatch(/prometheusrules/)
  })

  it("the chart's rules loaded: the check passes; a rule in error at evaluation fails it, naming the rule and Prometheus's error", async () => {
    writeFileSync(ruleFile(), stringify({groups: labGroups}))
    expect((await reload()).status).toBe(200)
    const loaded = await check('alert-rules')
    const count = labGroups.flatMap((g) => g.rules).filter((r) => r.alert).length
    expect(loaded).toMatchObject({status: 'pass', detail: `${count} alert rules in ${labGroups.length} groups`})

    // The chart's rules without KedaLabWorkersAtMax: that alert is named as missing.
    const without = labGroups.map((g) => ({...g, rules: g.rules.filter((r) => r.alert !== 'KedaLabWorkersAtMax')}))
    writeFileSync(ruleFile(), stringify({groups: without}))
    expect((await reload()).status).toBe(200)
    const missing = await check('alert-rules')
    expect(missing).toMatchObject({status: 'fail', detail: 'missing alert rules: KedaLabWorkersAtMax'})
    expect(missing.hint).toMatch(/prometheusrules/)

    // One of the lab's rules with an expression that parses but fails every evaluation
    // (one-to-one matching against two series with the same match group).
    const erring = structuredClone(labGroups)
    const group = erring[0]
    const rule = group?.rules.find((r) => r.alert)
    if (!group || !rule?.alert) throw new Error('no alert rule in the first group')
    group.interval = '1s'
    rule.expr = 'vector(1) + on() (label_replace(vector(1), "copy", "a", "", "") or label_replace(vector(1), "copy", "b", "", ""))'
    writeFileSync(ruleFile(), stringify({groups: erring}))
    expect((await reload()).status).toBe(200)
    const evaluated = await rulesEvaluated()
    expect(evaluated.find((r) => r.name === rule.alert)).toMatchObject({health: 'err'})
    const failing = await check('alert-rules')
    expect(failing.status).toBe('fail')
    expect(failing.detail).toMatch(new RegExp(`^rules failing to evaluate: ${rule.alert} \\(.*(many-to-many|duplicate series).*\\)$`))
    expect(failing.hint).toContain('prometheusrule.yaml')
    // Back to the chart's rules for the other tests.
    writeFileSync(ruleFile(), stringify({groups: labGroups}))
    expect((await reload()).status).toBe(200)
  })

  it('targets: both up passes; a target down fails with the scrape error; a target gone fails with the ServiceMonitor hint', async () => {
    const api = metricsServers.get('api')!.port
    const worker = metricsServers.get('worker')!
    await targetsBecome({api: 'up', worker: 'up'})
    expect(await check('prometheus-targets')).toMatchObject({status: 'pass', detail: 'api: 1 up, worker: 1 up'})

    // The worker's metrics port stops answering: Prometheus's scrape is refused.
    await new Promise((resolve) => worker.server.close(resolve))
    await targetsBecome({api: 'up', worker: 'down'})
    const down = await check('prometheus-targets')
    expect(down.status).toBe('fail')
    expect(down.detail).toMatch(
      new RegExp(
        `^worker: 1/1 down \\(Get "http://127\\.0\\.0\\.1:${worker.port}/metrics": dial tcp 127\\.0\\.0\\.1:${worker.port}: connect: connection refused\\), api: 1 up$`,
      ),
    )
    expect(down.hint).toMatch(/NetworkPolicy/)

    // No scrape job for the worker at all (its ServiceMonitor not picked up).
    writeConfig({api})
    expect((await reload()).status).toBe(200)
    await targetsBecome({api: 'up', worker: undefined})
    const gone = await check('prometheus-targets')
    expect(gone).toMatchObject({status: 'fail', detail: 'worker: no target, api: 1 up'})
    expect(gone.hint).toMatch(/release=kube-prometheus-stack/)
  })
})

describe('doctor against the real KEDA operator', () => {
  interface ScaledObject {
    status?: {conditions?: {type: string; status: string; reason?: string; message?: string}[]}
  }
  const condition = async (type: 'Ready' | 'Active') =>
    (await getJson<ScaledObject>(cluster.kubeconfig, `/apis/keda.sh/v1alpha1/namespaces/${ns()}/scaledobjects/${SO}`))?.status?.conditions?.find(
      (c) => c.type === type,
    )
  const readyCondition = () => condition('Ready')

  it('passes once the operator made the ScaledObject Ready; fails when Redis dies and the operator turns it Ready=False', async () => {
    await waitFor(
      async () => {
        const ready = await readyCondition()
        return ready?.status === 'True' || notYet(`Ready=${ready?.status} (${ready?.reason}: ${ready?.message})`)
      },
      {what: 'the KEDA operator to make the ScaledObject Ready', timeoutMs: 120_000, intervalMs: 500},
    ).catch((error: Error) => {
      throw new Error(error.message + kedaOutput())
    })
    // The operator sets Ready first and Active (Unknown until then) after its first look at the
    // queue; on a loaded machine doctor can run in between, and then rightly says Active=Unknown.
    await waitFor(
      async () => {
        const active = await condition('Active')
        return (active && active.status !== 'Unknown') || notYet(`Active=${active?.status}`)
      },
      {what: 'the KEDA operator to decide whether the ScaledObject is Active', timeoutMs: 120_000, intervalMs: 500},
    ).catch((error: Error) => {
      throw new Error(error.message + kedaOutput())
    })
    const passing = await check('keda-redis')
    expect(passing.status, passing.detail).toBe('pass')
    expect(passing.detail).toMatch(new RegExp(`^${SO} Ready, Active=(False \\(ScalerNotActive\\)|True \\(ScalerActive\\))$`))

    // KEDA's Warning events, as stored and field-selected by the real API server: one 40 min old
    // and one about a Deployment of the same name leave the check passing; a recent one fails it.
    const event = async (name: string, minutesAgo: number, kind = 'ScaledObject') => {
      const at = new Date(Date.now() - minutesAgo * 60_000).toISOString()
      const res = await adminRequest(cluster.kubeconfig, 'POST', `/api/v1/namespaces/${ns()}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: {name},
        involvedObject: {apiVersion: kind === 'ScaledObject' ? 'keda.sh/v1alpha1' : 'apps/v1', kind, name: SO, namespace: ns()},
        type: 'Warning',
        reason: 'KEDAScalerFailed',
        message: 'error getting list length: NOAUTH Authentication required.',
        count: 7,
        firstTimestamp: at,
        lastTimestamp: at,
        source: {component: 'keda-operator'},
      })
      if (res.status !== 201) throw new Error(`creating Event ${name}: ${res.status} ${res.body.slice(0, 300)}`)
      return () => adminRequest(cluster.kubeconfig, 'DELETE', `/api/v1/namespaces/${ns()}/events/${name}`)
    }
    await event(`${SO}.old`, 40)
    await event(`${SO}.deployment`, 1, 'Deployment')
    expect((await check('keda-redis')).status).toBe('pass')
    const removeRecent = await event(`${SO}.recent`, 2)
    const recent = await check('keda-redis')
    expect(recent.status).toBe('fail')
    expect(recent.detail).toMatch(
      new RegExp(
        `^${SO} Ready, Active=\\w+ \\(\\w+\\); KEDA reports KEDAScalerFailed: error getting list length: NOAUTH Authentication required\\. \\(7 times\\)$`,
      ),
    )
    expect(recent.hint).toContain('redis-password')
    await removeRecent()

    await redis?.kill()
    await waitFor(
      async () => {
        const ready = await readyCondition()
        return ready?.status === 'False' || notYet(`Ready=${ready?.status} (${ready?.reason})`)
      },
      {what: 'the KEDA operator to turn the ScaledObject Ready=False once Redis is gone', timeoutMs: 120_000, intervalMs: 500},
    ).catch((error: Error) => {
      throw new Error(error.message + kedaOutput())
    })
    const failing = await check('keda-redis')
    expect(failing.status).toBe('fail')
    expect(failing.detail).toMatch(new RegExp(`^${SO} Ready=False: TriggerError: `))
    // KEDA's own Warning event with the Redis error (KEDA 2.20 records it as KEDAMetricSourceFailed).
    expect(failing.detail).toMatch(new RegExp(`; KEDA reports KEDA\\w+Failed: .*dial tcp 127\\.0\\.0\\.1:${redis?.port}: connect: connection refused`))
    expect(failing.hint).toContain(`kubectl -n ${ns()} describe scaledobject ${SO}`)
  })

  it('a namespace without a ScaledObject (KEDA installed) fails the check', async () => {
    const result = byId(await runDoctor({...ctx, namespace: monitoringNamespace}))['keda-redis']
    expect(result).toMatchObject({status: 'fail', detail: `no ScaledObject in namespace ${monitoringNamespace}`})
  })
})

describe("doctor's api-hpa-metrics check against the real HPA controller and metrics-server", () => {
  interface Condition {
    type: string
    status: string
    reason?: string
    message?: string
  }
  const hpaCondition = async (namespace: string, type: string) =>
    (
      await getJson<{status?: {conditions?: Condition[]}}>(
        cluster.kubeconfig,
        `/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers/keda-lab-api`,
      )
    )?.status?.conditions?.find((c) => c.type === type)
  const apiServicePath = `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_API_SERVICE}`
  const available = async () =>
    (await getJson<{status?: {conditions?: Condition[]}}>(cluster.kubeconfig, apiServicePath))?.status?.conditions?.find((c) => c.type === 'Available')
  const must = async (method: string, path: string, body?: unknown, contentType?: string) => {
    const res = await adminRequest(cluster.kubeconfig, method, path, body, contentType)
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`)
  }

  it("an API whose pods have no CPU request: the real HPA controller sets ScalingActive=False, and the check fails with the controller's reason", async () => {
    const namespace = `${ns()}-hpa`
    await createNamespace(cluster.kubeconfig, namespace)
    await must('POST', `/apis/apps/v1/namespaces/${namespace}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'keda-lab-api'},
      spec: {
        replicas: 1,
        selector: {matchLabels: {app: 'keda-lab-api'}},
        // No resources: the HPA has no request to take a utilization of.
        template: {metadata: {labels: {app: 'keda-lab-api'}}, spec: {containers: [{name: 'api', image: 'keda-lab:test'}]}},
      },
    })
    await must('POST', `/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers`, {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: {name: 'keda-lab-api'},
      spec: {
        scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name: 'keda-lab-api'},
        minReplicas: 1,
        maxReplicas: 3,
        metrics: [{type: 'Resource', resource: {name: 'cpu', target: {type: 'Utilization', averageUtilization: 50}}}],
      },
    })
    // Usage the metrics API reports for the pod: the controller then fails on the request, not on missing metrics.
    await setSimulatedUsage(cluster.kubeconfig, {namespace, deployment: 'keda-lab-api', cpu: '50m', memory: '64Mi'})
    const active = await waitFor(
      async () => {
        const c = await hpaCondition(namespace, 'ScalingActive')
        return c?.status === 'False' && c.message?.includes('missing request for cpu') ? c : notYet(`ScalingActive=${c?.status} (${c?.reason}: ${c?.message})`)
      },
      {what: 'the HPA controller to set ScalingActive=False for the missing CPU request', timeoutMs: 120_000, intervalMs: 1000},
    )
    expect(active.reason).toBe('FailedGetResourceMetric')
    const result = await apiHpaMetrics.run({...ctx, namespace})
    expect(result.status).toBe('fail')
    // The controller's own reason and message, word for word.
    expect(result.detail).toBe(`${METRICS_API_SERVICE} available, but HPA keda-lab-api cannot scale: FailedGetResourceMetric: ${active.message}`)
    expect(result.detail).toMatch(/missing request for cpu in container api of Pod keda-lab-api-/)
    expect(result.hint).toBe(
      `do the API pods have CPU requests and metrics? kubectl -n ${namespace} top pod; kubectl -n ${namespace} describe hpa keda-lab-api`,
    )
  }, 180_000)

  it('the metrics API unavailable, then missing: a warning naming the pinned metrics-server release; passes again once it is back', async () => {
    const saved = await getJson<{metadata: {name: string; labels?: Record<string, string>}; spec: {service: {namespace: string; name: string; port: number}}}>(
      cluster.kubeconfig,
      apiServicePath,
    )
    if (!saved) throw new Error(`the control plane has no APIService ${METRICS_API_SERVICE}`)
    expect((await available())?.status).toBe('True')
    const release = `https://github.com/kubernetes-sigs/metrics-server/releases/download/${VERSIONS['metrics-server']}/components.yaml`
    const warns = async () => {
      const result = await apiHpaMetrics.run(ctx)
      expect(result).toMatchObject({
        status: 'warn',
        detail: `${METRICS_API_SERVICE} is missing or unavailable: the API's HPA cannot read CPU, so the API never scales`,
      })
      // The release the test control plane runs (test/cluster/control-plane.ts VERSIONS) is the one the hint installs.
      expect(result.hint).toContain(`kubectl apply -f ${release} `)
    }
    try {
      // Unavailable: the APIService points at a port its Service does not have; the aggregator says so.
      await must('PATCH', apiServicePath, {spec: {service: {...saved.spec.service, port: 1}}}, 'application/merge-patch+json')
      const down = await waitFor(
        async () => {
          const c = await available()
          return c?.status === 'False' ? c : notYet(`Available=${c?.status} (${c?.reason})`)
        },
        {what: `the aggregator to mark ${METRICS_API_SERVICE} unavailable`, timeoutMs: 60_000, intervalMs: 500},
      )
      expect(down.reason).toBe('ServicePortError')
      await warns()
      // Missing: no such APIService at all.
      await must('DELETE', apiServicePath)
      await waitFor(async () => (await getJson(cluster.kubeconfig, apiServicePath)) === undefined || notYet('still there'), {
        what: `${METRICS_API_SERVICE} to be deleted`,
        timeoutMs: 30_000,
        intervalMs: 250,
      })
      await warns()
    } finally {
      const body = {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: {name: saved.metadata.name, labels: saved.metadata.labels},
        spec: saved.spec,
      }
      if (await getJson(cluster.kubeconfig, apiServicePath)) await must('PATCH', apiServicePath, {spec: saved.spec}, 'application/merge-patch+json')
      else await must('POST', '/apis/apiregistration.k8s.io/v1/apiservices', body)
      await waitFor(async () => (await available())?.status === 'True' || notYet(`Available=${(await available())?.status}`), {
        what: `${METRICS_API_SERVICE} Available again`,
        timeoutMs: 60_000,
        intervalMs: 500,
      })
    }
    // Back: the same check passes (the monitoring namespace has no HPA).
    expect(await apiHpaMetrics.run({...ctx, namespace: monitoringNamespace})).toEqual({
      status: 'pass',
      detail: `${METRICS_API_SERVICE} available; the API has no HPA (autoscaling off)`,
    })
  }, 180_000)
})

describe("doctor's Telegram check on the token of the real Secret (Telegram itself: the loopback fake, test/fakes/telegram.ts)", () => {
  const TOKEN = '123456:doctor-test-token-never-printed'
  let telegram: FakeTelegram | undefined
  afterAll(async () => telegram?.close())

  it('a valid token passes with the bot name; a revoked one fails without showing the token', async () => {
    telegram = await startFakeTelegram({token: TOKEN, username: 'keda_lab_bot'})
    const namespace = `${ns()}-tg`
    await createNamespace(cluster.kubeconfig, namespace)
    const secret = (token: string) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {name: 'keda-lab-secrets', namespace},
      data: {'telegram-bot-token': Buffer.from(token).toString('base64')},
    })
    const secrets = `/api/v1/namespaces/${namespace}/secrets`
    const res = await adminRequest(cluster.kubeconfig, 'POST', secrets, secret(TOKEN))
    expect(res.status, res.body).toBe(201)
    const tgCtx = {...ctx, namespace, telegram: createTelegram({apiUrl: telegram.url, timeoutMs: 2000})}
    expect(await telegramToken.run(tgCtx)).toEqual({status: 'pass', detail: 'bot @keda_lab_bot'})

    const put = await adminRequest(cluster.kubeconfig, 'PUT', `${secrets}/keda-lab-secrets`, secret('999:revoked-token'))
    expect(put.status, put.body).toBe(200)
    const result = await telegramToken.run(tgCtx)
    expect(result.status).toBe('fail')
    expect(result.detail).toMatch(/Telegram rejected the token \(401/)
    expect(result.hint).toMatch(/BotFather/)
    expect(JSON.stringify(result)).not.toContain('revoked-token')
    expect(telegram.calls.at(-1)).toMatchObject({method: 'getMe', token: '999:revoked-token'})
  })
})
