/**
 * The Grafana dashboard, checked query by query.
 *
 * - It is generated from one source (files/dashboard.yaml) by the chart itself, rendered here with
 *   the real Helm; every panel the lab needs is there, laid out without overlaps.
 * - PromQL: every Prometheus query parses with the real promtool, and every metric it names is
 *   either exposed by the REAL keda-lab API, worker and webhook (started here against a real
 *   redis-server and scraped), with the labels the query selects on, or one of a short, named list
 *   of metrics that come from the cluster (kube-state-metrics, cAdvisor, Prometheus itself).
 * - LogQL: every Loki query, as Grafana sends it (the chart's values filled in, $task_id set to a
 *   real task id), is parsed by Loki's OWN parser and must be a log query; its stream selector may
 *   only use the labels Alloy sets (templates/values/alloy.yaml) with the values the chart gives
 *   the pods; and Loki's own pipeline, run on the REAL API, worker and webhook log lines of a real
 *   task (labelled as Alloy labels them), must keep exactly the task's API and worker lines and
 *   parse each as JSON. A control shows the parser rejects broken queries.
 *   The parser is test/tools/logql-check (test/helpers/logql.ts), a small Go program on Loki's Go
 *   module github.com/grafana/loki at commit babea82ef558 (v1.6.2-0.20210406003638-babea82ef558, of
 *   2021-04-06; its CHANGELOG's newest release is 2.2.1), whose tree is Apache-2.0 (its LICENSE; no
 *   other licence under pkg/logql). Loki was relicensed to AGPL-3.0 on 2021-04-20, and its current
 *   module (github.com/grafana/loki/v3) is AGPL and not to be used in this project. The dashboard's LogQL (selector, |= filter, | json) dates from Loki
 *   2.0 and still means the same; a construct newer than that parser would fail here, not pass.
 *   Built by scripts/build-logql-check.sh (npm test runs it; cached outside the repository).
 */
import type {ChildProcess} from 'node:child_process'
import {randomBytes, randomUUID} from 'node:crypto'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse, stringify} from 'yaml'

import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {alert, alertmanagerPayload} from '../helpers/alerts.js'
import {cliEntry, repoRoot} from '../helpers/cli.js'
import {CHART_DIR, type K8sObject, renderChart} from '../helpers/helm.js'
import {checkLogQL} from '../helpers/logql.js'
import {connectionRefused, freePort, notYet, requireBinary, runTracked, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'

interface Target {
  refId: string
  expr: string
  legendFormat: string
  datasource: {type: string; uid: string}
}
interface Panel {
  id: number
  type: string
  title: string
  gridPos: {x: number; y: number; w: number; h: number}
  datasource: {type: string; uid: string}
  targets: Target[]
}
interface Dashboard {
  uid: string
  panels: Panel[]
  templating: {list: {name: string; type: string}[]}
}

let objects: K8sObject[]
let dashboard: Dashboard
const promql = () => dashboard.panels.flatMap((p) => p.targets.filter((t) => t.datasource.type === 'prometheus'))
const logql = () => dashboard.panels.flatMap((p) => p.targets.filter((t) => t.datasource.type === 'loki'))

beforeAll(async () => {
  objects = await renderChart(3)
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'keda-lab-dashboard')
  if (!configMap) throw new Error('the chart rendered no dashboard ConfigMap')
  dashboard = JSON.parse((configMap.data as Record<string, string>)['keda-lab.json']!) as Dashboard
})

describe('the dashboard, generated from files/dashboard.yaml', () => {
  it('has every panel the lab needs, each with queries, laid out without overlaps', () => {
    const titles = dashboard.panels.map((p) => p.title)
    expect(titles).toEqual([
      'Queue depth',
      'Worker replicas: current vs desired vs max',
      'Task throughput',
      'Task duration',
      'API replicas',
      'API CPU',
      'API request rate',
      'API error rate',
      'API latency',
      'Alerts firing',
      'Telegram notifications',
      'Redis reachable from the API',
      'Application logs',
    ])
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length)
    const variables = dashboard.templating.list.map((v) => `\${${v.name}}`)
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0)
      expect(new Set(panel.targets.map((t) => t.refId)).size, panel.title).toBe(panel.targets.length)
      for (const target of panel.targets) expect(variables, `${panel.title}: datasource variable`).toContain(target.datasource.uid)
      const {x, w} = panel.gridPos
      expect(x + w, panel.title).toBeLessThanOrEqual(24)
    }
    const overlaps = (a: Panel['gridPos'], b: Panel['gridPos']) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
    for (const [i, a] of dashboard.panels.entries()) {
      for (const b of dashboard.panels.slice(i + 1)) expect(overlaps(a.gridPos, b.gridPos), `${a.title} / ${b.title}`).toBe(false)
    }
    expect(dashboard.panels.find((p) => p.title === 'Application logs')!.type).toBe('logs')
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'loki', 'task_id'])
  })

  it('is exactly its source with the placeholders filled in (one source, nothing added by hand)', async () => {
    const source = parse(await readFile(join(CHART_DIR, 'files', 'dashboard.yaml'), 'utf8')) as {panels: {title: string; queries: {expr: string}[]}[]}
    expect(dashboard.panels.map((p) => p.title)).toEqual(source.panels.map((p) => p.title))
    const fill = (expr: string) =>
      expr
        .replaceAll('__NAMESPACE__', 'keda')
        .replaceAll('__APP_NAME__', 'keda-lab')
        .replaceAll('__WORKER_HPA__', 'keda-hpa-keda-lab-worker')
        .replaceAll('__WORKER_DEPLOYMENT__', 'keda-lab-worker')
        .replaceAll('__API_METRICS_JOB__', 'keda-lab-api-metrics')
        .replaceAll('__API_DEPLOYMENT__', 'keda-lab-api')
    expect(dashboard.panels.map((p) => p.targets.map((t) => t.expr))).toEqual(source.panels.map((p) => p.queries.map((q) => fill(q.expr))))
    expect(JSON.stringify(dashboard)).not.toMatch(/__[A-Z_]+__/)
    // The names filled in are the chart's real objects.
    const names = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name)
    expect(names('Deployment')).toEqual(expect.arrayContaining(['keda-lab-api', 'keda-lab-worker']))
    expect(names('HorizontalPodAutoscaler')).toContain('keda-lab-api')
    expect(names('ScaledObject')).toContain('keda-lab-worker') // KEDA names its HPA keda-hpa-<ScaledObject>
    expect(names('Service')).toContain('keda-lab-api-metrics') // prometheus-operator's job label is the Service name
  })
})

// ---------------------------------------------------------------------------------------------
// PromQL

const PROMQL_FUNCTIONS = new Set(['sum', 'max', 'min', 'count', 'avg', 'rate', 'increase', 'histogram_quantile', 'vector', 'deriv'])
const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'or', 'and', 'unless', 'bool', 'offset'])

/**
 * Metrics the dashboard reads that keda-lab's services do not expose, and where they come from in
 * the cluster. They cannot be scraped on this machine (no cluster); their names are the exporters'
 * documented ones, and the alert rules that use the same names are unit-tested with promtool.
 */
const CLUSTER_METRICS: Record<string, string> = {
  kube_horizontalpodautoscaler_status_current_replicas: 'kube-state-metrics',
  kube_horizontalpodautoscaler_status_desired_replicas: 'kube-state-metrics',
  kube_horizontalpodautoscaler_spec_max_replicas: 'kube-state-metrics',
  kube_deployment_status_replicas_available: 'kube-state-metrics',
  container_cpu_usage_seconds_total: 'cAdvisor (kubelet)',
  up: 'Prometheus (per scrape target)',
  ALERTS: 'Prometheus (per alerting rule)',
}
/** Labels Prometheus adds to every series from the target (ServiceMonitor), not the service itself. */
const TARGET_LABELS = new Set(['namespace', 'job', 'pod', 'container', 'instance', 'service', 'endpoint', 'le'])

/** The metric selectors of an expression: `name{label op "value", …}` → name and the labels it selects on. */
function selectors(expr: string): {metric: string; labels: string[]}[] {
  const out: {metric: string; labels: string[]}[] = []
  for (const match of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    out.push({metric: match[1]!, labels: [...match[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((m) => m[1]!)})
  }
  return out
}

/** Every bare word of an expression outside strings, braces and label lists: functions, keywords, metric names. */
function words(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '$1 ()')
    .replace(/\[[^\]]*\]/g, '[]')
  return [...stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0])
}

async function promtool(args: string[], cwd: string) {
  requireBinary('promtool', 'sudo apt-get install -y prometheus')
  return runTracked('promtool', args, {cwd, timeoutMs: 60_000})
}

describe('PromQL', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keda-lab-dashboard-'))
  })
  afterAll(async () => {
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('every Prometheus query parses with the real promtool; a broken one is caught', async () => {
    const exprs = promql().map((t) => t.expr)
    expect(exprs.length).toBeGreaterThan(20)
    // promtool has no "check expression": recording rules are the way to have it parse PromQL.
    await writeFile(
      join(dir, 'queries.yaml'),
      stringify({groups: [{name: 'dashboard', rules: exprs.map((expr, i) => ({record: `keda_lab:dashboard_${i}`, expr}))}]}),
    )
    const good = await promtool(['check', 'rules', 'queries.yaml'], dir)
    expect(good.stdout + good.stderr).toContain(`SUCCESS: ${exprs.length} rules found`)
    expect(good.exitCode).toBe(0)

    await writeFile(
      join(dir, 'broken.yaml'),
      stringify({groups: [{name: 'broken', rules: [{record: 'keda_lab:broken', expr: exprs[0]!.replace(') (', ') (((')}]}]}),
    )
    const broken = await promtool(['check', 'rules', 'broken.yaml'], dir)
    expect(broken.exitCode).not.toBe(0)
  })

  it('uses only known functions and keywords, and names every metric through a selector', () => {
    for (const {expr} of promql()) {
      const named = new Set(selectors(expr).map((s) => s.metric))
      for (const word of words(expr)) {
        const known = PROMQL_FUNCTIONS.has(word) || PROMQL_KEYWORDS.has(word) || named.has(word)
        expect(known, `"${word}" in ${expr}`).toBe(true)
      }
    }
  })

  describe('against the metrics the real services expose', () => {
    let redis: RedisServer
    let telegram: FakeTelegram
    const children: ChildProcess[] = []
    const logs: Record<'api' | 'worker' | 'webhook', string> = {api: '', worker: '', webhook: ''}
    const metricsPorts: Record<string, number> = {}
    let apiPort = 0
    let webhookPort = 0
    let taskId = ''
    const webhookToken = randomBytes(24).toString('hex')
    const botToken = '123456789:AAExampleExampleExampleExampleExam1'

    async function start(service: 'api' | 'worker' | 'webhook', env: NodeJS.ProcessEnv) {
      metricsPorts[service] = await freePort()
      const child = spawnTracked(process.execPath, [cliEntry(), 'serve', service], {
        cwd: repoRoot,
        env: {
          ...process.env,
          REDIS_URL: redis.url,
          QUEUE_NAME: queue,
          HOST: '127.0.0.1',
          METRICS_HOST: '127.0.0.1',
          METRICS_PORT: String(metricsPorts[service]),
          ...env,
        },
      })
      child.stdout!.on('data', (d) => (logs[service] += d))
      child.stderr!.on('data', (d) => (logs[service] += d))
      children.push(child)
      await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPorts[service]}/metrics`)).ok, {
        timeoutMs: 60_000,
        what: `${service} metrics (output: ${logs[service].slice(-500)})`,
        ignore: connectionRefused,
      })
    }
    const queue = `test-${randomUUID()}`

    beforeAll(async () => {
      redis = await startRedis()
      telegram = await startFakeTelegram({token: botToken})
      apiPort = await freePort()
      webhookPort = await freePort()
      await Promise.all([
        start('api', {PORT: String(apiPort), TASK_ITERATIONS: '100000'}),
        start('worker', {TASK_ITERATIONS: '100000'}),
        start('webhook', {
          PORT: String(webhookPort),
          TELEGRAM_BOT_TOKEN: botToken,
          TELEGRAM_CHAT_IDS: '42',
          WEBHOOK_TOKEN: webhookToken,
          TELEGRAM_API_URL: telegram.url,
        }),
      ])
      // One real task (request, queue, worker histograms get series) and one alert through the webhook.
      // The API answers 503 until its Redis connection is up (no offline queue, by design): on a
      // loaded machine that can outlast the metrics port's start, so wait for /readyz first.
      await waitFor(async () => (await fetch(`http://127.0.0.1:${apiPort}/readyz`)).ok, {
        timeoutMs: 60_000,
        what: `the API ready (output: ${logs.api.slice(-500)})`,
        ignore: connectionRefused,
      })
      const response = await fetch(`http://127.0.0.1:${apiPort}/api/tasks/add`, {method: 'POST'})
      const text = await response.text()
      expect(response.status, text).toBe(200)
      taskId = (JSON.parse(text) as {result: {id: string}}).result.id
      await waitFor(
        async () => {
          const body = (await (await fetch(`http://127.0.0.1:${apiPort}/api/tasks/status/${taskId}`)).json()) as {result: {progress: {status: string}}}
          return body.result.progress.status === 'Completed' || notYet(body.result.progress.status)
        },
        {timeoutMs: 60_000, intervalMs: 200, what: 'the task to complete'},
      )
      const posted = await fetch(`http://127.0.0.1:${webhookPort}/alerts`, {
        method: 'POST',
        headers: {'content-type': 'application/json', authorization: `Bearer ${webhookToken}`},
        body: JSON.stringify(alertmanagerPayload([alert()])),
      })
      expect(posted.status).toBe(200)
    }, 120_000)

    afterAll(async () => {
      await Promise.all(children.map((c) => stopProcess(c, 'SIGTERM', 10_000)))
      await telegram?.close()
      await redis?.stop()
    }, 30_000)

    async function exposition(): Promise<string[]> {
      const texts = await Promise.all(Object.values(metricsPorts).map(async (port) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()))
      return texts
        .join('\n')
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
    }

    it('every metric a panel reads is exposed by the API, worker or webhook (with the labels selected on), or is a named cluster metric', async () => {
      const series = await exposition()
      const external: string[] = []
      let checked = 0
      for (const {expr} of promql()) {
        for (const {metric, labels} of selectors(expr)) {
          if (metric in CLUSTER_METRICS) {
            external.push(metric)
            continue
          }
          const lines = series.filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `))
          expect(lines.length, `${metric} (in "${expr}") is exposed by a keda-lab service`).toBeGreaterThan(0)
          for (const label of labels.filter((l) => !TARGET_LABELS.has(l))) {
            expect(
              lines.some((line) => line.includes(`${label}="`)),
              `${metric} has the label ${label}`,
            ).toBe(true)
          }
          checked++
        }
      }
      expect(checked).toBeGreaterThan(15)
      // Only the named cluster metrics are taken on trust, and each is really used.
      expect(new Set(external)).toEqual(new Set(Object.keys(CLUSTER_METRICS)))
      // Label values the panels select on exist in the real series.
      for (const state of ['waiting', 'active', 'delayed', 'prioritized', 'failed'])
        expect(
          series.some((l) => l.startsWith('keda_lab_queue_jobs{') && l.includes(`state="${state}"`)),
          state,
        ).toBe(true)
      expect(series.some((l) => l.startsWith('keda_lab_worker_task_duration_seconds_bucket{') && l.includes('result="completed"'))).toBe(true)
      expect(series.some((l) => l.startsWith('keda_lab_webhook_telegram_messages_total{') && l.includes('result="sent"') && !l.endsWith(' 0'))).toBe(true)
    })

    // -----------------------------------------------------------------------------------------
    // LogQL

    /** What Grafana sends Loki: the query with the dashboard's $task_id variable set to a real task id. */
    const lokiQuery = (expr: string) => expr.replaceAll('$task_id', taskId)
    /** The namespace the chart is rendered into (renderChart), which files/dashboard.yaml's __NAMESPACE__ becomes. */
    const namespace = 'keda'
    type PodTemplate = {metadata: {labels: Record<string, string>}; spec: {containers: {name: string}[]}}
    const podTemplate = (deployment: K8sObject) => (deployment.spec as {template: PodTemplate}).template

    /** The labels Alloy (templates/values/alloy.yaml) gives a service's log stream, from the chart's rendered Deployment. */
    function streamLabels(service: 'api' | 'worker' | 'webhook'): Record<string, string> {
      const deployment = objects.find((o) => o.kind === 'Deployment' && podTemplate(o).metadata.labels['app.kubernetes.io/component'] === service)
      if (!deployment) throw new Error(`the chart renders no Deployment with component ${service}`)
      const pod = podTemplate(deployment)
      return {
        namespace,
        pod: `${deployment.metadata.name}-7d4b9c8f6d-x2x7q`,
        container: pod.spec.containers[0]!.name,
        component: pod.metadata.labels['app.kubernetes.io/component']!,
        app: pod.metadata.labels['app.kubernetes.io/name']!,
      }
    }

    it("every logs query parses with Loki's own parser as a log query, selecting only on labels Alloy sets, with the chart's values", async () => {
      const alloy = await readFile(join(repoRoot, 'templates', 'values', 'alloy.yaml'), 'utf8')
      const alloyLabels = new Set([...alloy.matchAll(/target_label\s*=\s*"([a-z_]+)"/g)].map((m) => m[1]!))
      expect(alloyLabels).toEqual(new Set(['namespace', 'pod', 'container', 'component', 'app']))
      const queries = logql()
      expect(queries).toHaveLength(1)
      const results = await checkLogQL(queries.map((t) => lokiQuery(t.expr)))
      for (const result of results) {
        expect(result.error, result.query).toBeUndefined()
        expect(result.ok, result.query).toBe(true)
        // A logs panel needs log lines: a metric query (count_over_time(…)) would not do.
        expect(result.kind, result.query).toBe('log')
        const matchers = result.matchers!
        for (const m of matchers) expect(alloyLabels, `label ${m.label} in ${result.query}`).toContain(m.label)
        // Loki refuses at query time a selector that could match every stream (the 2021 parser does not check it).
        expect(
          matchers.some((m) => m.op === '=' && m.value !== ''),
          result.query,
        ).toBe(true)
        const value = (label: string) => matchers.find((m) => m.label === label)
        expect(value('namespace')).toEqual({label: 'namespace', op: '=', value: namespace})
        // app / component: what Alloy copies from the pods' app.kubernetes.io/name and /component labels.
        const podLabels = objects.filter((o) => o.kind === 'Deployment').map((o) => podTemplate(o).metadata.labels)
        expect(podLabels.map((l) => l['app.kubernetes.io/name'])).toContain(value('app')!.value)
        const components = new RegExp(`^(?:${value('component')!.value})$`)
        const matched = podLabels.map((l) => l['app.kubernetes.io/component']!).filter((c) => components.test(c))
        expect(matched.sort()).toEqual(['api', 'worker'])
        // Loki's reading of the pipeline: keep the lines holding the task id, then parse them as JSON.
        expect(result.canonical!.slice(result.canonical!.indexOf('}') + 1)).toBe(` |= ${JSON.stringify(taskId)} | json`)
      }
    })

    it("Loki's own pipeline, run on the real API, worker and webhook log lines labelled as Alloy labels them, keeps exactly the task's API and worker lines, parsed as JSON", async () => {
      /** Complete lines only: a pipe may have delivered half of the last one. */
      const complete = (text: string) => text.split('\n').slice(0, -1)
      const withId = (service: 'api' | 'worker') => complete(logs[service]).filter((line) => line.includes(taskId))
      // Logs reach this process through pipes, possibly after the task's status said Completed.
      await waitFor(
        () => (withId('api').length > 0 && withId('worker').length > 0) || notYet(`api ${withId('api').length}, worker ${withId('worker').length} lines`),
        {
          what: 'log lines with the task id from the API and the worker',
        },
      )
      const services = ['api', 'worker', 'webhook'] as const
      const snapshot = Object.fromEntries(services.map((s) => [s, complete(logs[s])])) as Record<(typeof services)[number], string[]>
      const [{expr}] = logql() as [Target]
      const [result] = await checkLogQL(
        [lokiQuery(expr)],
        services.map((s) => ({labels: streamLabels(s), lines: snapshot[s]})),
      )
      expect(result!.error).toBeUndefined()
      const [api, worker, webhook] = result!.streams!
      expect(webhook!.selected, 'the webhook stream is not selected (component)').toBe(false)
      expect(snapshot.webhook.join('\n')).not.toContain(taskId)
      for (const [service, stream] of [
        ['api', api!],
        ['worker', worker!],
      ] as const) {
        expect(stream.selected, `${service} stream selected`).toBe(true)
        const expected = snapshot[service].filter((line) => line.includes(taskId))
        expect(expected.length, `${service} logs a line with the task id`).toBeGreaterThan(0)
        expect(expected.length, `${service} also logs lines without it (which the filter must drop)`).toBeLessThan(snapshot[service].length)
        expect(stream.kept.map((k) => k.line)).toEqual(expected)
        for (const {line, labels} of stream.kept) {
          // | json parsed the line: no __error__, the stream's labels kept, its fields extracted as labels.
          expect(labels.__error__, `${service}: ${line}`).toBeUndefined()
          expect(labels).toMatchObject(streamLabels(service))
          const fields = JSON.parse(line) as Record<string, unknown>
          expect(labels.level, line).toBe(String(fields.level))
          expect(labels.msg, line).toBe(fields.msg)
        }
      }
    })

    it("Loki's parser rejects broken queries and tells a metric query from a log query (so the checks above mean something)", async () => {
      const [{expr}] = logql() as [Target]
      const query = lokiQuery(expr)
      const broken = [
        query.replace('}', ''), // unbalanced brace
        `${query} | no_such_stage`, // unknown pipeline stage
        query.replace('=~', '=='), // not a matcher operator
        query.replace(/component=~"[^"]*"/, 'component=~"("'), // invalid regular expression
        query.replace(/\|= "[^"]*"/, '|= unquoted'), // a line filter takes a string
      ]
      expect(new Set(broken).size).toBe(broken.length)
      expect(broken).not.toContain(query)
      const results = await checkLogQL([...broken, `count_over_time(${query} [5m])`])
      for (const result of results.slice(0, broken.length)) {
        expect(result.ok, result.query).toBe(false)
        expect(result.error, result.query).toMatch(/^parse error/)
      }
      const metric = results.at(-1)!
      expect(metric.error).toBeUndefined()
      expect(metric.kind).toBe('metric')
    })
  })
})
