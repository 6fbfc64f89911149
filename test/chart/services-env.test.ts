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

  it('keeps serving API metrics without queue series while Redis is down, and a real Prometheus raises the Redis alert', async () => {
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
      expect(await alertState('KedaLabRedisMasterUnreachable')).toBeUndefined()

      await redis.kill()
      try {
        await waitFor(async () => !(await scrape('api')).includes('keda_lab_queue_jobs{'), {
          what: 'keda_lab_queue_jobs to disappear from the API',
          timeoutMs: 20_000,
          intervalMs: 500,
        })
        // `for: 1m` keeps it pending for a minute; pending proves the expression matched real data.
        await waitFor(
          async () => {
            const state = await alertState('KedaLabRedisMasterUnreachable')
            expect(state, 'never firing within its 1 minute').not.toBe('firing')
            return state === 'pending' || notYet(`state ${state}`)
          },
          {
            what: 'KedaLabRedisMasterUnreachable to be pending in Prometheus',
            timeoutMs: 20_000,
            intervalMs: 500,
          },
        )
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
      // The other rules see the same real data and stay quiet.
      for (const name of ['KedaLabTaskFailures', 'KedaLabApiErrorRate', 'KedaLabQueueBacklogGrowing', 'KedaLabApiLatencyHigh']) {
        expect(await alertState(name), name).toBeUndefined()
      }
    } finally {
      await stopProcess(prometheus, 'SIGTERM', 5000)
      await rm(dir, {recursive: true, force: true})
    }
  }, 90_000)
})
