/**
 * The chart's Deployments run the real services: each container's command, env (literal values,
 * secretKeyRef resolved from a test Secret, fieldRef from a pod name) and probes are taken from
 * the rendered manifests and the real `keda-lab serve api|worker|webhook` is started with them
 * against a real redis-server. Only the ports are moved to free ones (other tests share this
 * machine) and Telegram points at the loopback fake. Then: the probe paths answer, a task runs
 * end to end, and every metric the PrometheusRule and the dashboard query is really exposed,
 * with the labels they select on — including the Redis alert's premise that the API keeps
 * answering /metrics but drops keda_lab_queue_jobs while Redis is down, checked end to end by a
 * real Prometheus loaded with the rendered rules and scraping the real API.
 */
import {randomUUID} from 'node:crypto'
import type {ChildProcess} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {stringify} from 'yaml'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEntry, repoRoot} from '../helpers/cli.js'
import {type K8sObject, renderChart} from '../helpers/helm.js'
import {connectionRefused, freePort, notYet, requireBinary, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'

type EnvVar = {
  name: string
  value?: string
  valueFrom?: {secretKeyRef?: {name: string; key: string}; fieldRef?: {fieldPath: string}}
}
type Probe = {httpGet?: {path: string; port: string}}
type Container = {
  name: string
  command: string[]
  env: EnvVar[]
  ports?: {name: string; containerPort: number}[]
  livenessProbe?: Probe
  readinessProbe?: Probe
  startupProbe?: Probe
}

const SECRET = {
  'redis-password': `redis-${randomUUID()}`,
  'telegram-bot-token': '123456789:AAExampleExampleExampleExampleExam1',
  'webhook-token': `hook-${randomUUID()}`,
}

let redis: RedisServer
let telegram: FakeTelegram
let objects: K8sObject[]
const running: {name: string; child: ChildProcess; ports: Record<string, number>; output: () => string}[] = []

function containerOf(component: string): Container {
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `keda-lab-${component}`)
  if (!deployment) throw new Error(`no Deployment keda-lab-${component}`)
  return (deployment.spec as {template: {spec: {containers: Container[]}}}).template.spec.containers[0]!
}

/** The container's environment as the kubelet would build it, with ports moved to free ones. */
function envOf(container: Container, ports: Record<string, number>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const variable of container.env) {
    if (variable.value !== undefined) env[variable.name] = variable.value
    else if (variable.valueFrom?.secretKeyRef) {
      const {name, key} = variable.valueFrom.secretKeyRef
      expect(name).toBe('keda-lab-secrets')
      const value = SECRET[key as keyof typeof SECRET]
      if (value === undefined) throw new Error(`${container.name}: ${variable.name} reads unknown Secret key ${key}`)
      env[variable.name] = value
    } else if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[variable.name] = `keda-lab-${container.name}-7d9f8-abcde`
    else throw new Error(`${container.name}: cannot resolve ${variable.name}`)
  }
  for (const port of container.ports ?? []) {
    const name = port.name === 'http' ? 'PORT' : port.name === 'metrics' ? 'METRICS_PORT' : undefined
    if (!name) throw new Error(`${container.name}: unexpected port ${port.name}`)
    // The chart sets the same port numbers as the container ports it declares.
    expect(env[name], `${container.name} ${name}`).toBe(String(port.containerPort))
    env[name] = String(ports[port.name])
  }
  return env
}

async function start(component: string, overrides: NodeJS.ProcessEnv = {}): Promise<void> {
  const container = containerOf(component)
  expect(container.command).toEqual(['keda-lab', 'serve', component])
  const ports: Record<string, number> = {}
  for (const port of container.ports ?? []) ports[port.name] = await freePort()
  // The image's ENTRYPOINT is the keda-lab binary; here the same CLI runs from the sources.
  const child = spawnTracked(process.execPath, [cliEntry(), ...container.command.slice(1)], {
    cwd: repoRoot,
    env: {PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...envOf(container, ports), ...overrides},
  })
  let output = ''
  child.stdout?.on('data', (d) => (output += d))
  child.stderr?.on('data', (d) => (output += d))
  running.push({name: component, child, ports, output: () => output})
  // The startup/readiness probe paths, on the ports they name, must answer 200.
  for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
    if (!probe?.httpGet) continue
    const {path, port} = probe.httpGet
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${component} exited: ${output.slice(-800)}`)
        const response = await fetch(`http://127.0.0.1:${ports[port]}${path}`)
        // Not ready yet is a refused connection or a 503; any other answer is wrong.
        if (response.status !== 200 && response.status !== 503) throw new Error(`${component} ${path} answered ${response.status}: ${await response.text()}`)
        return response.status === 200 || notYet(`${path} answered ${response.status}`)
      },
      {what: `${component} ${path} on ${port}`, timeoutMs: 30_000, intervalMs: 200, ignore: connectionRefused},
    )
  }
}

function portOf(component: string, name: string): number {
  const found = running.find((r) => r.name === component)?.ports[name]
  if (!found) throw new Error(`${component} has no ${name} port`)
  return found
}

/**
 * A client that sends its body slowly: POST /api/tasks whose last bytes arrive `delayMs` after the
 * headers, as a slow network would deliver them. The API's request duration counts from the
 * request's arrival, so this is a request slower than `delayMs` by the API's own measure.
 */
function slowPost(port: number, delayMs: number): Promise<string> {
  const body = '{"iterations":1000}'
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
      )
      setTimeout(() => socket.write(body.slice(5)), delayMs)
    })
    let answer = ''
    socket.on('data', (chunk) => (answer += chunk))
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''))
    socket.on('error', reject)
  })
}

async function scrape(component: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${portOf(component, 'metrics')}/metrics`)
  expect(response.status).toBe(200)
  return response.text()
}

/** Metric selectors `name{label="…",…}` used in PromQL, without the cluster's own metrics. */
function appSelectors(promql: string[]): {metric: string; labels: string[]}[] {
  const found: {metric: string; labels: string[]}[] = []
  for (const expr of promql) {
    for (const match of expr.matchAll(/\b(keda_lab_[a-z_]+)(\{([^}]*)\})?/g)) {
      const labels = [...(match[3] ?? '').matchAll(/([a-z_]+)\s*(=~|!=|=)/g)].map((m) => m[1]!)
      found.push({metric: match[1]!, labels: labels.filter((l) => !['namespace', 'job', 'pod', 'le'].includes(l))})
    }
  }
  return found
}

beforeAll(async () => {
  redis = await startRedis({password: SECRET['redis-password']})
  telegram = await startFakeTelegram()
  objects = await renderChart(3, {
    values: {
      queue: {name: `test-${randomUUID()}`},
      task: {iterations: 200_000},
      redis: {mode: 'standalone', standalone: {host: '127.0.0.1', port: redis.port}},
      webhook: {telegram: {chatIds: ['123456789']}},
    },
  })
  await Promise.all([start('api'), start('worker'), start('webhook', {TELEGRAM_API_URL: telegram.url})])
}, 90_000)

afterAll(async () => {
  await Promise.all(running.map((r) => stopProcess(r.child, 'SIGTERM', 10_000)))
  await telegram?.close()
  await redis?.stop()
}, 30_000)

describe('the chart env starts the real services', () => {
  it('runs a task end to end through the API and the worker', async () => {
    const api = `http://127.0.0.1:${portOf('api', 'http')}`
    const added = (await (await fetch(`${api}/api/tasks/add`, {method: 'POST'})).json()) as {result: {id: string}}
    const done = await waitFor(
      async () => {
        const status = (await (await fetch(`${api}/api/tasks/status/${added.result.id}`)).json()) as {
          result: {progress: {status: string}}
        }
        expect(status.result.progress.status).toMatch(/^(Queued|Processing|Completed)$/)
        return status.result.progress.status === 'Completed' ? status : notYet(status.result.progress.status)
      },
      {what: 'the task to complete', timeoutMs: 30_000, intervalMs: 200},
    )
    expect(done.result.progress.status).toBe('Completed')
  })

  it('exposes every metric the alert rules and the dashboard query, with the labels they select on', async () => {
    const rule = objects.find((o) => o.kind === 'PrometheusRule')
    const dashboard = objects.find((o) => o.kind === 'ConfigMap')
    const promql = [
      ...(rule!.spec as {groups: {rules: {expr: string}[]}[]}).groups.flatMap((g) => g.rules.map((r) => r.expr)),
      ...(
        JSON.parse((dashboard!.data as Record<string, string>)['keda-lab.json'] ?? '{}') as {panels: {targets: {expr: string; datasource: {type: string}}[]}[]}
      ).panels.flatMap((p) => p.targets.filter((t) => t.datasource.type === 'prometheus').map((t) => t.expr)),
    ]
    const selectors = appSelectors(promql)
    expect(selectors.length).toBeGreaterThan(10)

    // One API request so that the request histogram has series.
    await fetch(`http://127.0.0.1:${portOf('api', 'http')}/api/queue`)
    const exposition = (await scrape('api')) + (await scrape('worker')) + (await scrape('webhook'))
    const series = exposition.split('\n').filter((line) => line && !line.startsWith('#'))
    for (const {metric, labels} of selectors) {
      const lines = series.filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `))
      expect(lines.length, `${metric} is exposed by the API, the worker or the webhook`).toBeGreaterThan(0)
      for (const label of labels)
        expect(
          lines.some((line) => line.includes(`${label}="`)),
          `${metric} has label ${label}`,
        ).toBe(true)
    }
    // Label values the rules rely on.
    expect(series.some((l) => l.startsWith('keda_lab_queue_jobs{') && l.includes('state="waiting"'))).toBe(true)
    expect(series.some((l) => l.startsWith('keda_lab_worker_tasks_processed_total{') && l.includes('result="completed"') && !l.endsWith(' 0'))).toBe(true)
    expect(series.some((l) => l.startsWith('keda_lab_worker_tasks_processed_total{') && l.includes('result="failed"'))).toBe(true)
    expect(series.some((l) => l.startsWith('keda_lab_api_http_request_duration_seconds_count{') && /status_code="\d{3}"/.test(l))).toBe(true)
  })

  it('a real Prometheus with the rendered rules, scraping the real services, raises each alert when its condition really happens', async () => {
    // A real Prometheus with the rendered rule groups, scraping the real API and worker under the
    // job names and namespace label that the ServiceMonitors give them in the cluster.
    requireBinary('prometheus', 'sudo apt-get install -y prometheus')
    const dir = await mkdtemp(join(tmpdir(), 'keda-lab-prometheus-'))
    const rule = objects.find((o) => o.kind === 'PrometheusRule')
    await writeFile(join(dir, 'rules.yaml'), stringify({groups: (rule!.spec as {groups: unknown[]}).groups}))
    const target = (component: string) => ({
      job_name: `keda-lab-${component}-metrics`,
      static_configs: [{targets: [`127.0.0.1:${portOf(component, 'metrics')}`], labels: {namespace: 'keda'}}],
    })
    await writeFile(
      join(dir, 'prometheus.yml'),
      stringify({global: {scrape_interval: '1s', evaluation_interval: '1s'}, rule_files: ['rules.yaml'], scrape_configs: [target('api'), target('worker')]}),
    )
    const port = await freePort()
    const prometheus = spawnTracked('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ])
    const api = `http://127.0.0.1:${port}/api/v1`
    const query = async (promql: string): Promise<unknown[]> => {
      const response = await fetch(`${api}/query?query=${encodeURIComponent(promql)}`)
      expect(response.status, `Prometheus query ${promql}`).toBe(200)
      const body = (await response.json()) as {data: {result: unknown[]}}
      return body.data.result
    }
    const alertState = async (name: string): Promise<string | undefined> => {
      const body = (await (await fetch(`${api}/alerts`)).json()) as {data: {alerts: {labels: {alertname: string}; state: string}[]}}
      return body.data.alerts.find((a) => a.labels.alertname === name)?.state
    }
    // Every rule holds for a while (`for`: 1 to 5 minutes) before it fires: pending is the state
    // that proves its expression matched the real services' data; firing after the hold time is
    // what `promtool test rules` (test/chart/rules.test.ts) shows. None may fire this early.
    // `meanwhile` runs at every poll: a counter series must grow across scrapes for rate() to see
    // it (the samples before a series' first scrape are not a rate).
    const becomesPending = (name: string, timeoutMs = 30_000, meanwhile?: () => Promise<void>) =>
      waitFor(
        async () => {
          await meanwhile?.()
          const state = await alertState(name)
          expect(state, `${name} never firing within its hold time`).not.toBe('firing')
          return state === 'pending' || notYet(`state ${state}`)
        },
        {what: `${name} to be pending in Prometheus`, timeoutMs, intervalMs: 500},
      )
    const ruleNames = (rule!.spec as {groups: {rules: {alert: string}[]}[]}).groups.flatMap((g) => g.rules.map((r) => r.alert))
    // KedaLabWorkersAtMax reads KEDA's HPA through kube-state-metrics: no such exporter runs here.
    const driven = ['KedaLabTaskFailures', 'KedaLabApiErrorRate', 'KedaLabQueueBacklogGrowing', 'KedaLabApiLatencyHigh', 'KedaLabRedisMasterUnreachable']
    expect(ruleNames.toSorted()).toEqual([...driven, 'KedaLabWorkersAtMax'].toSorted())
    const apiUrl = `http://127.0.0.1:${portOf('api', 'http')}`
    const addTask = async (body: object) => {
      const response = await fetch(`${apiUrl}/api/tasks`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
      expect(response.status, await response.clone().text()).toBe(202)
    }
    try {
      // Until Prometheus listens, only a refused connection is "not yet".
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).status === 200, {
        what: 'Prometheus ready',
        timeoutMs: 30_000,
        intervalMs: 200,
        ignore: connectionRefused,
      })
      await waitFor(async () => (await query('keda_lab_queue_jobs{namespace="keda",state="waiting"}')).length > 0, {
        what: 'Prometheus to scrape the API queue depth',
        timeoutMs: 30_000,
        intervalMs: 500,
      })
      // The healthy services' real data matches no rule.
      for (const name of driven) expect(await alertState(name), name).toBeUndefined()

      await redis.kill()
      try {
        await waitFor(async () => !(await scrape('api')).includes('keda_lab_queue_jobs{'), {
          what: 'keda_lab_queue_jobs to disappear from the API',
          timeoutMs: 20_000,
          intervalMs: 500,
        })
        await becomesPending('KedaLabRedisMasterUnreachable', 20_000)
        // Meanwhile every task request answers 503: far more than 5 % of the API's requests fail.
        await becomesPending('KedaLabApiErrorRate', 30_000, async () => {
          expect((await fetch(`${apiUrl}/api/tasks/add`, {method: 'POST'})).status).toBe(503)
        })
      } finally {
        await redis.restart()
      }
      await waitFor(async () => (await scrape('api')).includes('keda_lab_queue_jobs{'), {
        what: 'keda_lab_queue_jobs to come back',
        timeoutMs: 30_000,
        intervalMs: 500,
      })
      await waitFor(async () => (await alertState('KedaLabRedisMasterUnreachable')) === undefined, {
        what: 'the alert to clear once Redis is back',
        timeoutMs: 20_000,
        intervalMs: 500,
      })

      // Slow clients: five requests whose bodies take 1.2 s to arrive put the API's p99 over 0.5 s.
      // One quick request first, so that Prometheus already has the route's series when they come.
      await addTask({iterations: 1000})
      await waitFor(
        async () => (await query('keda_lab_api_http_request_duration_seconds_count{namespace="keda",route="/api/tasks",method="POST"}')).length > 0,
        {
          what: "Prometheus to scrape the route's request histogram",
          timeoutMs: 20_000,
          intervalMs: 250,
        },
      )
      expect(await Promise.all(Array.from({length: 5}, () => slowPost(portOf('api', 'http'), 1200)))).toEqual(Array(5).fill('HTTP/1.1 202 Accepted'))
      await becomesPending('KedaLabApiLatencyHigh')

      // Tasks that fail (on purpose, at their first step): more than 10 % of the processed tasks.
      expect(await alertState('KedaLabTaskFailures')).toBeUndefined()
      for (let i = 0; i < 3; i++) await addTask({iterations: 1000, failAt: 1})
      await becomesPending('KedaLabTaskFailures')

      // A backlog: the one worker (concurrency 1) takes about a second per task of 20 M
      // iterations; 25 queued at once, then 10 more once Prometheus saw the first ones waiting.
      expect(await alertState('KedaLabQueueBacklogGrowing')).toBeUndefined()
      for (let i = 0; i < 25; i++) await addTask({iterations: 20_000_000})
      await waitFor(async () => (await query('keda_lab_queue_jobs{namespace="keda",state="waiting"} > 20')).length > 0, {
        what: 'Prometheus to see more than 20 tasks waiting',
        timeoutMs: 20_000,
        intervalMs: 250,
      })
      for (let i = 0; i < 10; i++) await addTask({iterations: 20_000_000})
      await becomesPending('KedaLabQueueBacklogGrowing')
    } finally {
      await stopProcess(prometheus, 'SIGTERM', 5000)
      await rm(dir, {recursive: true, force: true})
    }
  }, 240_000)
})
