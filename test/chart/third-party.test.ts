/**
 * The values `keda-lab install`/`render` write for the third-party charts, rendered by the REAL
 * charts: KEDA, redis-ha, Loki, kube-prometheus-stack (with its Grafana, kube-state-metrics and
 * node-exporter dependencies) and Alloy, as `keda-lab charts pull DIR` writes them (the .tgz files
 * and keda-lab-charts.json, checked against the pins and digests exactly as `install --charts`
 * checks them). OPT-IN: the chart repositories are not reachable from every machine (nor from CI),
 * so these tests run when KEDA_LAB_CHARTS_DIR points at such a folder
 * (`keda-lab charts pull ~/keda-lab-charts && KEDA_LAB_CHARTS_DIR=~/keda-lab-charts npx vitest run
 * test/chart/third-party.test.ts`); without it, one test says visibly that they did not run.
 *
 * Each chart must render with both Helm 3 and Helm 4, every rendered object must pass the Kubernetes
 * and CRD schemas (kubernetes-models), and what the rest of keda-lab relies on must
 * be in the output: the Service names and ports the app chart, the ScaledObject and `doctor` use,
 * the Secrets the values refer to, AOF persistence, the Alertmanager route to the webhook (checked
 * by the real amtool), Grafana's datasources and dashboard sidecar.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readChartsDir} from '../../src/lab/chart-sources.js'
import {CHARTS, type ChartName} from '../../src/lab/charts.js'
import {DEFAULT_SERVICES} from '../../src/lab/doctor/checks.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {type HelmMajor, type K8sObject, parseManifests, runHelm} from '../helpers/helm.js'
import {validateAnyObject} from './k8s-validate.js'

const CHARTS_DIR = process.env.KEDA_LAB_CHARTS_DIR || undefined
const NOT_RUN =
  'KEDA_LAB_CHARTS_DIR not set: real third-party charts not rendered (run `keda-lab charts pull DIR` on a connected machine, then set KEDA_LAB_CHARTS_DIR=DIR)'
const APP_NS = 'keda'
const MON_NS = 'keda-monitoring'

let dir: string
let archives: Partial<Record<ChartName, string>> = {}

// Without the folder the tests below did not run: they are reported as SKIPPED, with the reason and
// how to run them (a test that asserts its own gate would report passed for something never checked).
describe('third-party charts (real, opt-in)', () => {
  it.skipIf(!CHARTS_DIR)(`rendered with the values install writes (${CHARTS_DIR ? `from ${CHARTS_DIR}` : NOT_RUN})`, () => {
    expect(Object.keys(archives).length, `${CHARTS_DIR} holds none of the pinned charts`).toBeGreaterThan(0)
  })
})

beforeAll(async () => {
  if (!CHARTS_DIR) return
  // The same checks as `install --charts`: versions against the pins, archives against their digests.
  archives = await readChartsDir(CHARTS_DIR)
  dir = mkdtempSync(join(tmpdir(), 'keda-lab-third-party-'))
  const rendered = await runCli(['render', '--telegram-chat-id', '123456789', '--output', dir], {
    env: {PATH: `${join(repoRoot, '.tools', 'helm3')}:${process.env.PATH}`},
  })
  if (rendered.code !== 0) throw new Error(`keda-lab render failed: ${rendered.stderr}`)
}, 120_000)

afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

async function renderThirdParty(major: HelmMajor, chart: ChartName, release: string, namespace: string): Promise<K8sObject[]> {
  const ref = CHARTS[chart]
  const source = archives[chart]
  if (!source) throw new Error(`${CHARTS_DIR} holds no ${ref.chart} ${ref.version}: pull it again with \`keda-lab charts pull ${CHARTS_DIR}\``)
  const result = await runHelm(major, ['template', release, source, '--namespace', namespace, '-f', join(dir, 'values', `${release}.yaml`)], 60_000)
  if (result.exitCode !== 0) throw new Error(`helm ${major} template ${ref.chart} failed: ${result.stderr}`)
  const objects = parseManifests(result.stdout)
  // Every object, with our values in it, against the Kubernetes and CRD schemas.
  for (const object of objects) await validateAnyObject(object)
  return objects
}

const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)
const servicePorts = (service: K8sObject | undefined) => ((service?.spec as {ports?: {port: number}[]})?.ports ?? []).map((p) => p.port)

// Defined only with KEDA_LAB_CHARTS_DIR: without it, the skipped test above says why and how to run them.
for (const major of CHARTS_DIR ? ([3, 4] as const) : []) {
  describe(`third-party charts with the rendered values (Helm ${major})`, () => {
    it('KEDA: the operator and the ScaledObject CRD', async () => {
      const objects = await renderThirdParty(major, 'keda', 'keda', APP_NS)
      expect(find(objects, 'Deployment', 'keda-operator')).toBeDefined()
      expect(find(objects, 'CustomResourceDefinition', 'scaledobjects.keda.sh')).toBeDefined()
    })

    it('redis-ha: Sentinels on redis-ha:26379 (the ScaledObject address), AOF on PersistentVolumes, the password from keda-lab-secrets', async () => {
      const objects = await renderThirdParty(major, 'redisHa', 'redis-ha', APP_NS)
      expect(servicePorts(find(objects, 'Service', 'redis-ha'))).toEqual(expect.arrayContaining([6379, 26379]))
      const sts = find(objects, 'StatefulSet', 'redis-ha-server')!
      const spec = sts.spec as {
        replicas: number
        volumeClaimTemplates?: unknown[]
        template: {spec: {containers: {env?: {valueFrom?: {secretKeyRef?: {name: string; key: string}}}[]}[]}}
      }
      expect(spec.replicas).toBe(3)
      expect(spec.volumeClaimTemplates?.length).toBe(1)
      const secretRefs = spec.template.spec.containers
        .flatMap((c) => c.env ?? [])
        .map((e) => e.valueFrom?.secretKeyRef)
        .filter(Boolean)
      expect(secretRefs).toContainEqual({name: 'keda-lab-secrets', key: 'redis-password'})
      const config = (find(objects, 'ConfigMap', 'redis-ha-configmap')?.data ?? {}) as Record<string, string>
      expect(config['redis.conf']).toMatch(/^appendonly yes$/m)
      expect(config['redis.conf']).toMatch(/^maxmemory-policy noeviction$/m) // BullMQ loses jobs under eviction
      expect(config['init.sh']).toContain('MASTER_GROUP="mymaster"')
    })

    it('Loki: single binary with filesystem storage behind loki:3100 (what Alloy, Grafana and doctor use)', async () => {
      const objects = await renderThirdParty(major, 'loki', 'loki', MON_NS)
      expect(servicePorts(find(objects, 'Service', DEFAULT_SERVICES.loki.name))).toContain(DEFAULT_SERVICES.loki.port)
      const workloads = objects.filter((o) => ['StatefulSet', 'Deployment'].includes(o.kind)).map((o) => o.metadata.name)
      expect(workloads).toContain('loki')
      expect(workloads.filter((n) => /read|write|backend|distributor|ingester|querier/.test(n))).toEqual([])
      const config = objects
        .filter((o) => o.kind === 'ConfigMap' || o.kind === 'Secret')
        .map((o) => JSON.stringify(o))
        .join('\n')
      expect(config).toContain('filesystem')
    })

    it('kube-prometheus-stack: the Services doctor asks, Alertmanager routing to the webhook (checked by amtool), Grafana datasources and sidecar', async () => {
      const objects = await renderThirdParty(major, 'kubePrometheusStack', 'kube-prometheus-stack', MON_NS)
      expect(servicePorts(find(objects, 'Service', DEFAULT_SERVICES.prometheus.name))).toContain(DEFAULT_SERVICES.prometheus.port)
      expect(servicePorts(find(objects, 'Service', DEFAULT_SERVICES.grafana.name))).toContain(DEFAULT_SERVICES.grafana.port)

      // Prometheus picks up the app's ServiceMonitors and PrometheusRules whatever their labels.
      const prometheus = objects.find((o) => o.kind === 'Prometheus')!
      expect((prometheus.spec as {serviceMonitorSelector?: unknown}).serviceMonitorSelector).toEqual({})
      expect((prometheus.spec as {ruleSelector?: unknown}).ruleSelector).toEqual({})

      // Alertmanager mounts the webhook token and routes the lab's alerts to the webhook with it.
      const alertmanager = objects.find((o) => o.kind === 'Alertmanager')!
      expect((alertmanager.spec as {secrets?: string[]}).secrets).toContain('keda-lab-webhook-token')
      const configSecret = objects.find((o) => o.kind === 'Secret' && o.metadata.name.startsWith('alertmanager-'))!
      const data = configSecret as {data?: Record<string, string>; stringData?: Record<string, string>}
      const amConfig = data.stringData?.['alertmanager.yaml'] ?? Buffer.from(data.data?.['alertmanager.yaml'] ?? '', 'base64').toString()
      expect(amConfig).toContain(`http://keda-lab-webhook.${APP_NS}.svc:8080/alerts`)
      expect(amConfig).toContain('/etc/alertmanager/secrets/keda-lab-webhook-token/token')
      const amDir = mkdtempSync(join(tmpdir(), 'keda-lab-am-'))
      try {
        writeFileSync(join(amDir, 'alertmanager.yaml'), amConfig)
        execFileSync('amtool', ['check-config', join(amDir, 'alertmanager.yaml')], {stdio: 'pipe'})
      } finally {
        rmSync(amDir, {recursive: true, force: true})
      }

      // Grafana: admin from keda-lab-grafana, Prometheus and Loki datasources, dashboard sidecar.
      const grafana = find(objects, 'Deployment', DEFAULT_SERVICES.grafana.name)!
      expect(JSON.stringify(grafana)).toContain('"name":"keda-lab-grafana"')
      const datasources = objects
        .filter((o) => o.kind === 'ConfigMap' && /datasource/.test(o.metadata.name))
        .map((o) => JSON.stringify(o.data))
        .join('\n')
      expect(datasources).toContain('prometheus')
      expect(datasources).toContain(`http://loki.${MON_NS}.svc:3100`)
      expect(JSON.stringify(grafana)).toContain('grafana_dashboard')
    })

    it("Alloy: a Deployment shipping the app namespace's pod logs to Loki", async () => {
      const objects = await renderThirdParty(major, 'alloy', 'alloy', MON_NS)
      expect(find(objects, 'Deployment', 'alloy')).toBeDefined()
      const config = objects
        .filter((o) => o.kind === 'ConfigMap')
        .map((o) => JSON.stringify(o.data))
        .join('\n')
      expect(config).toContain(`http://loki.${MON_NS}.svc:3100/loki/api/v1/push`)
    })
  })
}
