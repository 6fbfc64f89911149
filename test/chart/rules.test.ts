/**
 * The PrometheusRule and the dashboard, checked with the real promtool: the rule groups are
 * extracted from the rendered PrometheusRule, `promtool check rules` validates them, and
 * `promtool test rules` runs the unit tests in templates/chart/keda-lab/tests/rules/ (each alert
 * fires on the series that should fire it, and not on those that should not). The dashboard's
 * queries go through promtool's PromQL parser as recording rules.
 */
import {copyFile, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse, stringify} from 'yaml'

import {CHART_DIR, type K8sObject, renderChart} from '../helpers/helm.js'
import {requireBinary, runTracked} from '../helpers/processes.js'

const RULE_TESTS_DIR = join(CHART_DIR, 'tests', 'rules')

async function promtool(args: string[], cwd: string): Promise<{exitCode: number; output: string}> {
  const binary = requireBinary('promtool', 'sudo apt-get install -y prometheus (Debian), or put promtool on PATH')
  const result = await runTracked(binary, args, {cwd, timeoutMs: 60_000})
  return {exitCode: result.exitCode ?? -1, output: result.all.replace(/\n$/, '')}
}

type RuleGroup = {name: string; rules: {alert?: string; record?: string; expr: string}[]}

let dir: string
let objects: K8sObject[]
let groups: RuleGroup[]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keda-lab-rules-'))
  // The unit tests are written for the default release (keda-lab) in the default namespace (keda).
  objects = await renderChart(3)
  const rule = objects.find((o) => o.kind === 'PrometheusRule')
  if (!rule) throw new Error('the chart rendered no PrometheusRule')
  groups = (rule.spec as {groups: RuleGroup[]}).groups
  await writeFile(join(dir, 'keda-lab-rules.yaml'), stringify({groups}))
})

afterAll(async () => {
  if (dir) await rm(dir, {recursive: true, force: true})
})

describe('PrometheusRule', () => {
  it('passes promtool check rules', async () => {
    const result = await promtool(['check', 'rules', 'keda-lab-rules.yaml'], dir)
    expect(result.output).toMatch(/SUCCESS: 6 rules found/)
    expect(result.exitCode).toBe(0)
  })

  it('passes its promtool unit tests, and every alert has one that fires it and one that must not', async () => {
    const files = (await readdir(RULE_TESTS_DIR)).filter((f) => f.endsWith('.yaml'))
    expect(files.length).toBeGreaterThan(0)
    const firing = new Set<string>()
    const silent = new Set<string>()
    for (const file of files) {
      await copyFile(join(RULE_TESTS_DIR, file), join(dir, file))
      const spec = parse(await readFile(join(RULE_TESTS_DIR, file), 'utf8')) as {
        tests: {alert_rule_test?: {alertname: string; exp_alerts?: unknown[]}[]}[]
      }
      for (const test of spec.tests) {
        for (const check of test.alert_rule_test ?? []) {
          ;(check.exp_alerts && check.exp_alerts.length > 0 ? firing : silent).add(check.alertname)
        }
      }
    }
    const result = await promtool(['test', 'rules', ...files], dir)
    expect(result.output).toMatch(/SUCCESS/)
    expect(result.output).not.toMatch(/FAILED/)
    expect(result.exitCode).toBe(0)

    const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a): a is string => Boolean(a))
    for (const alert of alerts) {
      expect(firing, `${alert} has a unit test where it fires`).toContain(alert)
      expect(silent, `${alert} has a unit test where it must not fire`).toContain(alert)
    }
  })

  it('catches a broken rule (promtool test fails when an alert does not fire)', async () => {
    // Same groups with the worker HPA name mistyped: the firing test must now fail.
    const broken = stringify({groups}).replaceAll('keda-hpa-keda-lab-worker', 'keda-hpa-keda-lab-workers')
    const brokenDir = await mkdtemp(join(tmpdir(), 'keda-lab-rules-broken-'))
    try {
      await writeFile(join(brokenDir, 'keda-lab-rules.yaml'), broken)
      await copyFile(join(RULE_TESTS_DIR, 'alerts.test.yaml'), join(brokenDir, 'alerts.test.yaml'))
      const result = await promtool(['test', 'rules', 'alerts.test.yaml'], brokenDir)
      expect(result.exitCode).not.toBe(0)
      expect(result.output).toMatch(/KedaLabWorkersAtMax/)
    } finally {
      await rm(brokenDir, {recursive: true, force: true})
    }
  })
})

describe('Grafana dashboard', () => {
  it('is valid JSON with every placeholder replaced, and its queries parse as PromQL', async () => {
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'keda-lab-dashboard')
    expect(configMap).toBeDefined()
    const json = (configMap!.data as Record<string, string>)['keda-lab.json'] ?? ''
    expect(json).not.toMatch(/__[A-Z_]+__/)
    const dashboard = JSON.parse(json) as {uid: string; panels: {title: string; targets: {expr: string; datasource: {type: string}}[]}[]}
    expect(dashboard.uid).toBe('keda-lab-keda')

    const titles = dashboard.panels.map((p) => p.title)
    for (const wanted of ['Queue depth', 'Worker replicas: current vs desired vs max', 'Task throughput', 'Task duration', 'API request rate', 'API latency']) {
      expect(titles).toContain(wanted)
    }
    // PromQL only; the logs panel's LogQL is checked in dashboard.test.ts.
    const exprs = dashboard.panels.flatMap((p) => p.targets.filter((t) => t.datasource.type === 'prometheus').map((t) => t.expr))
    const all = exprs.join('\n')
    for (const metric of [
      'keda_lab_queue_jobs',
      'kube_horizontalpodautoscaler_status_current_replicas',
      'kube_horizontalpodautoscaler_status_desired_replicas',
      'kube_horizontalpodautoscaler_spec_max_replicas',
      'keda_lab_worker_tasks_processed_total',
      'keda_lab_worker_task_duration_seconds_bucket',
      'keda_lab_api_http_request_duration_seconds_count',
      'keda_lab_api_http_request_duration_seconds_bucket',
    ]) {
      expect(all).toContain(metric)
    }
    expect(all).toContain('horizontalpodautoscaler="keda-hpa-keda-lab-worker"')

    // promtool has no "check expression": recording rules are the way to have it parse PromQL.
    const rules = {groups: [{name: 'dashboard', rules: exprs.map((expr, i) => ({record: `keda_lab:dashboard_query_${i}`, expr}))}]}
    await writeFile(join(dir, 'dashboard-queries.yaml'), stringify(rules))
    const result = await promtool(['check', 'rules', 'dashboard-queries.yaml'], dir)
    expect(result.output).toMatch(new RegExp(`SUCCESS: ${exprs.length} rules found`))
    expect(result.exitCode).toBe(0)
  })
})
