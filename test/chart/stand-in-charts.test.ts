/**
 * The loopback chart repository (test/helpers/chart-repo.ts) that the cluster tests install from:
 * its stand-in charts, packaged and indexed by the real Helm, rendered by Helm 3 and 4 with the
 * values `keda-lab render` writes, must hold every object and name keda-lab relies on, pass the
 * Kubernetes and CRD schemas, say that they are stand-ins, and carry the REAL CRDs of KEDA and
 * prometheus-operator from the Go module cache.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {CHARTS, type ChartName} from '../../src/lab/charts.js'
import {DEFAULT_SERVICES} from '../../src/lab/doctor/checks.js'
import {type ChartRepo, realCrdFiles, startChartRepo} from '../helpers/chart-repo.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {type HelmMajor, type K8sObject, parseManifests, runHelm} from '../helpers/helm.js'
import {validateAnyObject} from './k8s-validate.js'

const APP_NS = 'keda'
const MON_NS = 'keda-monitoring'
const RELEASE: Record<ChartName, {release: string; namespace: string}> = {
  keda: {release: 'keda', namespace: APP_NS},
  redisHa: {release: 'redis-ha', namespace: APP_NS},
  kubePrometheusStack: {release: 'kube-prometheus-stack', namespace: MON_NS},
  loki: {release: 'loki', namespace: MON_NS},
  alloy: {release: 'alloy', namespace: MON_NS},
}

let repo: ChartRepo
let valuesDir: string

beforeAll(async () => {
  repo = await startChartRepo({helmMajor: 4})
  valuesDir = mkdtempSync(join(tmpdir(), 'keda-lab-stand-in-values-'))
  const rendered = await runCli(['render', '--telegram-chat-id', '123456789', '--output', valuesDir], {
    env: {PATH: `${join(repoRoot, '.tools', 'helm3')}:${process.env.PATH}`},
  })
  if (rendered.code !== 0) throw new Error(`keda-lab render failed: ${rendered.stderr}`)
}, 180_000)

afterAll(async () => {
  await repo?.close()
  if (valuesDir) rmSync(valuesDir, {recursive: true, force: true})
})

/** `helm template` of the served archive with keda-lab's values, CRDs included; every object schema-checked. */
async function render(major: HelmMajor, name: ChartName): Promise<K8sObject[]> {
  const served = repo.charts.find((c) => c.name === name)!
  const {release, namespace} = RELEASE[name]
  const result = await runHelm(
    major,
    ['template', release, served.file, '--namespace', namespace, '--include-crds', '-f', join(valuesDir, 'values', `${release}.yaml`)],
    60_000,
  )
  if (result.exitCode !== 0) throw new Error(`helm ${major} template ${served.chart} failed: ${result.stderr}`)
  const objects = parseManifests(result.stdout)
  for (const object of objects) await validateAnyObject(object)
  return objects
}

const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)
const ports = (o: K8sObject | undefined) => ((o?.spec as {ports?: {port: number}[]})?.ports ?? []).map((p) => p.port)
const podLabels = (o: K8sObject | undefined) => (o?.spec as {template?: {metadata?: {labels?: Record<string, string>}}})?.template?.metadata?.labels ?? {}
const crdNames = (objects: K8sObject[]) =>
  objects
    .filter((o) => o.kind === 'CustomResourceDefinition')
    .map((o) => o.metadata.name)
    .sort()

describe('loopback chart repository', () => {
  it('serves one repository per pinned repository name, each chart at its pin, indexed by helm', async () => {
    expect(repo.charts.map((c) => `${c.repoName}/${c.chart}@${c.version}`).sort()).toEqual(
      Object.values(CHARTS)
        .map((c) => `${c.repoName}/${c.chart}@${c.version}`)
        .sort(),
    )
    const index = parse(await (await fetch(`${repo.repoUrl('grafana-community')}/index.yaml`)).text()) as {
      entries: Record<string, {version: string; urls: string[]}[]>
    }
    expect(Object.keys(index.entries)).toEqual(['loki'])
    expect(index.entries.loki![0]!.urls).toEqual([`${repo.repoUrl('grafana-community')}/loki-${CHARTS.loki.version}.tgz`])
    expect((await fetch(`${repo.url}/../etc/passwd`)).status).toBe(404)
  })

  it('every chart says it is a stand-in', async () => {
    for (const served of repo.charts) {
      const shown = await runHelm(3, ['show', 'chart', served.file])
      expect(parse(shown.stdout).description).toMatch(/^STAND-IN for keda-lab's tests, NOT the real /)
    }
  })
})

describe.each([3, 4] as const)('stand-in charts with the values keda-lab writes (Helm %i)', (major) => {
  it("keda: the operator (app=keda-operator), the metrics API server, the external metrics APIService and KEDA's real CRDs", async () => {
    const objects = await render(major, 'keda')
    const operator = find(objects, 'Deployment', 'keda-operator')
    expect(operator?.metadata.labels?.app).toBe('keda-operator')
    expect(podLabels(operator).app).toBe('keda-operator') // the app chart's Redis NetworkPolicy selects it
    expect(find(objects, 'Deployment', 'keda-operator-metrics-apiserver')).toBeDefined()
    expect(ports(find(objects, 'Service', 'keda-operator-metrics-apiserver'))).toEqual([443])
    expect(find(objects, 'APIService', 'v1beta1.external.metrics.k8s.io')).toBeDefined()
    const real = (await realCrdFiles()).keda.map((f) => (parse(readFileSync(f, 'utf8')) as K8sObject).metadata.name).sort()
    expect(crdNames(objects)).toEqual(real)
    expect(real).toContain('scaledobjects.keda.sh')
  })

  it('redis-ha: redis-ha-server StatefulSet (pods app=redis-ha), Service redis-ha on 6379/26379, the password from keda-lab-secrets', async () => {
    const objects = await render(major, 'redisHa')
    const sts = find(objects, 'StatefulSet', 'redis-ha-server')!
    expect((sts.spec as {replicas: number}).replicas).toBe(3)
    expect(podLabels(sts).app).toBe('redis-ha')
    expect(ports(find(objects, 'Service', 'redis-ha'))).toEqual([6379, 26379])
    expect(JSON.stringify(sts)).toContain('{"name":"keda-lab-secrets","key":"redis-password"}')
    expect(((find(objects, 'ConfigMap', 'redis-ha-configmap')?.data ?? {}) as Record<string, string>)['redis.conf']).toMatch(/^appendonly yes$/m)
  })

  it('kube-prometheus-stack: the Services doctor asks, Prometheus/Alertmanager objects, the webhook token Secret mounted, and the real prometheus-operator CRDs', async () => {
    const objects = await render(major, 'kubePrometheusStack')
    expect(ports(find(objects, 'Service', DEFAULT_SERVICES.prometheus.name))).toContain(DEFAULT_SERVICES.prometheus.port)
    expect(ports(find(objects, 'Service', DEFAULT_SERVICES.grafana.name))).toContain(DEFAULT_SERVICES.grafana.port)
    expect(ports(find(objects, 'Service', 'kube-prometheus-stack-alertmanager'))).toEqual([9093])
    expect((objects.find((o) => o.kind === 'Prometheus')!.spec as {serviceMonitorSelector: unknown}).serviceMonitorSelector).toEqual({})
    expect((objects.find((o) => o.kind === 'Alertmanager')!.spec as {secrets: string[]}).secrets).toEqual(['keda-lab-webhook-token'])
    expect(JSON.stringify(find(objects, 'Deployment', DEFAULT_SERVICES.grafana.name))).toContain('"name":"keda-lab-grafana"')
    expect(crdNames(objects)).toEqual(
      expect.arrayContaining([
        'prometheuses.monitoring.coreos.com',
        'servicemonitors.monitoring.coreos.com',
        'prometheusrules.monitoring.coreos.com',
        'alertmanagers.monitoring.coreos.com',
      ]),
    )
  })

  it('loki: StatefulSet loki behind Service loki:3100', async () => {
    const objects = await render(major, 'loki')
    expect(find(objects, 'StatefulSet', 'loki')).toBeDefined()
    expect(ports(find(objects, 'Service', DEFAULT_SERVICES.loki.name))).toContain(DEFAULT_SERVICES.loki.port)
  })

  it("alloy: Deployment alloy with keda-lab's pipeline to Loki", async () => {
    const objects = await render(major, 'alloy')
    expect(find(objects, 'Deployment', 'alloy')).toBeDefined()
    expect(((find(objects, 'ConfigMap', 'alloy')?.data ?? {}) as Record<string, string>)['config.alloy']).toContain(
      `http://loki.${MON_NS}.svc:3100/loki/api/v1/push`,
    )
  })
})
