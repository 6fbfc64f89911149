/**
 * The Grafana dashboard, checked query by query.
 *
 * - It is generated from one source (files/dashboard.yaml) by the chart itself, rendered here with
 *   the real Helm; every panel the lab needs is there, laid out without overlaps.
 * - PromQL: every Prometheus query parses with the real promtool, and every metric it names is
 *   either exposed by the REAL keda-lab API, worker and webhook (started here against a real
 *   redis-server and scraped), with the labels the query selects on, or one of a short, named list
 *   of metrics that come from the cluster (kube-state-metrics, cAdvisor, Prometheus itself).
 * - LogQL: Loki's own parser is NOT used. Its Go module (github.com/grafana/loki/v3) is AGPL and
 *   marked not-to-use in this project, and there is no Loki binary here. Instead, the queries are
 *   parsed by the small parser below, which accepts only the subset of LogQL the dashboard uses
 *   (written from Loki's documented grammar: a stream selector `{label op "value", …}` with = != =~
 *   !~, then line filters |= != |~ !~ "text", the parsers | json and | logfmt, and label filters
 *   | label op "value"). Anything outside that subset fails the test, so a new construct must be
 *   added here consciously. Its stream selector may only use the labels Alloy sets
 *   (templates/values/alloy.yaml) with the values the chart gives the pods; and the filter by task
 *   id is run on the REAL API and worker log lines of a real task.
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
    await writeFile(join(dir, 'queries.yaml'), stringify({groups: [{name: 'dashboard', rules: exprs.map((expr, i) => ({record: `keda_lab:dashboard_${i}`, expr}))}]}))
    const good = await promtool(['check', 'rules', 'queries.yaml'], dir)
    expect(good.stdout + good.stderr).toContain(`SUCCESS: ${exprs.length} rules found`)
    expect(good.exitCode).toBe(0)

    await writeFile(join(dir, 'broken.yaml'), stringify({groups: [{name: 'broken', rules: [{record: 'keda_lab:broken', expr: exprs[0]!.replace(') (', ') (((')}]}]}))
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
        env: {...process.env, REDIS_URL: redis.url, QUEUE_NAME: queue, HOST: '127.0.0.1', METRICS_HOST: '127.0.0.1', METRICS_PORT: String(metricsPorts[service]), ...env},
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
        start('webhook', {PORT: String(webhookPort), TELEGRAM_BOT_TOKEN: botToken, TELEGRAM_CHAT_IDS: '42', WEBHOOK_TOKEN: webhookToken, TELEGRAM_API_URL: telegram.url}),
      ])
      // One real task (request, queue, worker histograms get series) and one alert through the webhook.
      const added = (await (await fetch(`http://127.0.0.1:${apiPort}/api/tasks/add`, {method: 'POST'})).json()) as {result: {id: string}}
      taskId = added.result.id
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
      return texts.join('\n').split('\n').filter((line) => line && !line.startsWith('#'))
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
            expect(lines.some((line) => line.includes(`${label}="`)), `${metric} has the label ${label}`).toBe(true)
          }
          checked++
        }
      }
      expect(checked).toBeGreaterThan(15)
      // Only the named cluster metrics are taken on trust, and each is really used.
      expect(new Set(external)).toEqual(new Set(Object.keys(CLUSTER_METRICS)))
      // Label values the panels select on exist in the real series.
      for (const state of ['waiting', 'active', 'delayed', 'prioritized', 'failed']) expect(series.some((l) => l.startsWith('keda_lab_queue_jobs{') && l.includes(`state="${state}"`)), state).toBe(true)
      expect(series.some((l) => l.startsWith('keda_lab_worker_task_duration_seconds_bucket{') && l.includes('result="completed"'))).toBe(true)
      expect(series.some((l) => l.startsWith('keda_lab_webhook_telegram_messages_total{') && l.includes('result="sent"') && !l.endsWith(' 0'))).toBe(true)
    })

    // -----------------------------------------------------------------------------------------
    // LogQL

    it('the logs query parses (documented LogQL subset), selects only on labels Alloy sets, with the chart\'s values', async () => {
      const alloy = await readFile(join(repoRoot, 'templates', 'values', 'alloy.yaml'), 'utf8')
      const alloyLabels = new Set([...alloy.matchAll(/target_label\s*=\s*"([a-z_]+)"/g)].map((m) => m[1]!))
      expect(alloyLabels).toEqual(new Set(['namespace', 'pod', 'container', 'component', 'app']))
      const queries = logql()
      expect(queries).toHaveLength(1)
      for (const {expr} of queries) {
        const query = parseLogQL(expr)
        for (const m of query.selector) expect(alloyLabels, `label ${m.label} in ${expr}`).toContain(m.label)
        const value = (label: string) => query.selector.find((m) => m.label === label)
        expect(value('namespace')).toEqual({label: 'namespace', op: '=', value: 'keda'})
        // app / component: what Alloy copies from the pods' app.kubernetes.io/name and /component labels.
        const podLabels = objects
          .filter((o) => o.kind === 'Deployment')
          .map((o) => (o.spec as {template: {metadata: {labels: Record<string, string>}}}).template.metadata.labels)
        expect(podLabels.map((l) => l['app.kubernetes.io/name'])).toContain(value('app')!.value)
        const components = new RegExp(`^(?:${value('component')!.value})$`)
        const matched = podLabels.map((l) => l['app.kubernetes.io/component']!).filter((c) => components.test(c))
        expect(matched.sort()).toEqual(['api', 'worker'])
        expect(query.pipeline).toEqual([
          {kind: 'line', op: '|=', value: '$task_id'},
          {kind: 'parser', name: 'json'},
        ])
      }
    })

    it('the task-id filter finds the real API and worker log lines of a real task, and they parse as JSON (| json)', async () => {
      const [{expr}] = logql() as [Target]
      const query = parseLogQL(expr.replace('$task_id', taskId))
      const filter = query.pipeline[0] as {op: string; value: string}
      const lines = (service: 'api' | 'worker') => logs[service].split('\n').filter((line) => line.includes(filter.value))
      // Logs reach this process through pipes, possibly after the task's status said Completed.
      await waitFor(() => (lines('api').length > 0 && lines('worker').length > 0) || notYet(`api ${lines('api').length}, worker ${lines('worker').length} lines`), {
        what: 'log lines with the task id from the API and the worker',
      })
      for (const service of ['api', 'worker'] as const) {
        expect(lines(service).length, `${service} logs a line with the task id`).toBeGreaterThan(0)
        for (const line of lines(service)) expect(() => JSON.parse(line), `${service}: ${line}`).not.toThrow()
      }
      expect(logs.webhook).not.toContain(taskId)
    })

    it('the LogQL subset parser rejects what it does not know (so the check above means something)', () => {
      for (const bad of [
        'namespace="keda"',
        '{namespace="keda"',
        '{namespace=keda}',
        '{namespace=="keda"}',
        '{} |= "x"',
        '{namespace="keda"} | unknown_parser',
        '{namespace="keda"} |= x',
        '{namespace="keda"} | line_format "{{.msg}}"',
        '{namespace="keda"} |= "a" extra',
        '{namespace="keda", component=~"("}',
      ]) {
        expect(() => parseLogQL(bad), bad).toThrow()
      }
      expect(parseLogQL('{a="1", b!~"x|y"} != "debug" |~ `t[0-9]+` | logfmt | level="error"').pipeline).toHaveLength(4)
    })
  })
})

// ---------------------------------------------------------------------------------------------
// The LogQL subset

type Matcher = {label: string; op: '=' | '!=' | '=~' | '!~'; value: string}
type Stage = {kind: 'line'; op: '|=' | '!=' | '|~' | '!~'; value: string} | {kind: 'parser'; name: 'json' | 'logfmt'} | {kind: 'label'; label: string; op: Matcher['op']; value: string}

/**
 * Parses the LogQL subset the dashboard uses (see the file header), following Loki's documented
 * grammar: https://grafana.com/docs/loki/latest/query/log_queries/. Throws on anything else.
 */
function parseLogQL(query: string): {selector: Matcher[]; pipeline: Stage[]} {
  let i = 0
  const fail = (what: string): never => {
    throw new Error(`LogQL: ${what} at offset ${i} of ${JSON.stringify(query)}`)
  }
  const space = () => {
    while (/\s/.test(query[i] ?? '')) i++
  }
  const take = (token: string) => {
    space()
    if (!query.startsWith(token, i)) return false
    i += token.length
    return true
  }
  const identifier = () => {
    space()
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(query.slice(i))
    if (!m) fail('expected a label name')
    i += m![0].length
    return m![0]
  }
  const string = () => {
    space()
    const m = /^"((?:[^"\\]|\\.)*)"|^`([^`]*)`/.exec(query.slice(i))
    if (!m) fail('expected a "string" or `raw string`')
    i += m![0].length
    return m![2] ?? JSON.parse(`"${m![1]}"`) as string
  }
  const matchOp = (): Matcher['op'] => {
    space()
    for (const op of ['=~', '!~', '!=', '='] as const) {
      if (query.startsWith(op, i) && !query.startsWith('==', i)) {
        i += op.length
        return op
      }
    }
    return fail('expected = != =~ or !~')
  }
  const matcher = (): Matcher => {
    const label = identifier()
    const op = matchOp()
    const value = string()
    if (op.endsWith('~')) {
      try {
        new RegExp(`^(?:${value})$`)
      } catch {
        fail(`invalid regular expression ${JSON.stringify(value)}`)
      }
    }
    return {label, op, value}
  }

  if (!take('{')) fail('a query starts with a stream selector {…}')
  const selector: Matcher[] = [matcher()]
  while (take(',')) selector.push(matcher())
  if (!take('}')) fail('expected , or }')
  // Loki refuses a selector that could match every stream.
  if (!selector.some((m) => m.op === '=' && m.value !== '')) fail('the selector needs at least one label = "non-empty value"')

  const pipeline: Stage[] = []
  for (;;) {
    space()
    if (i >= query.length) break
    const lineOp = (['|=', '!=', '|~', '!~'] as const).find((op) => query.startsWith(op, i))
    if (lineOp) {
      i += 2
      pipeline.push({kind: 'line', op: lineOp, value: string()})
      continue
    }
    if (!take('|')) fail('expected a pipeline stage')
    const word = identifier()
    if (word === 'json' || word === 'logfmt') {
      pipeline.push({kind: 'parser', name: word})
      continue
    }
    const op = matchOp()
    pipeline.push({kind: 'label', label: word, op, value: string()})
  }
  return {selector, pipeline}
}
