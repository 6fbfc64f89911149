/**
 * The whole lifecycle as a user runs it — `keda-lab install`, a second `install`, `doctor`,
 * `uninstall` — on a real API server (TLS, client certificates, RBAC) with the real Helm 3 and then
 * the real Helm 4 doing real `upgrade --install`s (Helm 4 applies server-side), the pinned charts
 * pulled from a real loopback chart repository of stand-ins with the real KEDA and
 * prometheus-operator CRDs, and pods run by kwok. A control plane of this file's own: install and
 * uninstall change cluster-wide state (CRDs, the external-metrics APIService).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {runCli} from '../helpers/cli.js'
import {type HelmMajor, helmBinary, runHelm} from '../helpers/helm.js'
import {freePort, notYet, waitFor} from '../helpers/processes.js'
import {adminRequest} from './control-plane.js'
import {useCluster} from './harness.js'
import {getJson, listNames} from './kube-test-helpers.js'

const TOKEN = '123456789:AAH-test_token_for_keda_lab_e2e_0123456'
const cluster = useCluster(import.meta.url, {dedicated: true, namespace: false})

let repo: ChartRepo
let telegram: FakeTelegram
let home: string
beforeAll(async () => {
  ;[repo, telegram] = await Promise.all([startChartRepo(), startFakeTelegram()])
  home = mkdtempSync(join(tmpdir(), 'keda-lab-lifecycle-'))
}, 180_000)
afterAll(async () => {
  await Promise.all([repo?.close(), telegram?.close()])
  if (home) rmSync(home, {recursive: true, force: true})
})

interface HelmRelease {
  name: string
  namespace: string
  revision: string
  status: string
}

const closedRegistry = `http://127.0.0.1:${await freePort()}`

describe.each([3, 4] as HelmMajor[])('install → install again → doctor → uninstall, with Helm %i', (major) => {
  const ns = `lab-h${major}`
  const mon = `mon-h${major}`
  const env = (): NodeJS.ProcessEnv => ({
    KUBECONFIG: cluster.kubeconfig,
    PATH: `${join(helmBinary(major), '..')}:${process.env.PATH}`,
    HELM_CONFIG_HOME: join(home, `h${major}`, 'config'),
    HELM_CACHE_HOME: join(home, `h${major}`, 'cache'),
    HELM_DATA_HOME: join(home, `h${major}`, 'data'),
    KEDA_LAB_CHART_REPO: repo.chartRepoEnv(),
    TELEGRAM_API_URL: telegram.url,
    // The image check asks a closed loopback port (a warning), never the real registry of --image.
    KEDA_LAB_REGISTRY_MIRROR: closedRegistry,
  })
  const installArgs = () => [
    'install',
    '--yes',
    '-n',
    ns,
    '--monitoring-namespace',
    mon,
    '--image',
    'ghcr.io/keda-lab/keda-lab:test',
    '--no-redis-persistence',
    '--redis-replicas',
    '3',
    '--telegram-token',
    TOKEN,
    '--telegram-chat-id',
    '42',
    '--output',
    join(home, `h${major}`, 'out'),
  ]
  const releases = async (): Promise<HelmRelease[]> => {
    // Helm 4 dropped --all: every state spelled out, as keda-lab's helm adapter does.
    const out = await runHelm(major, [
      'list',
      '--all-namespaces',
      '--deployed',
      '--failed',
      '--pending',
      '--uninstalling',
      '--output',
      'json',
      '--kubeconfig',
      cluster.kubeconfig,
    ])
    expect(out.exitCode, out.stderr).toBe(0)
    return (JSON.parse(out.stdout) as HelmRelease[]).filter((r) => r.namespace === ns || r.namespace === mon)
  }

  it('installs every release from the chart repository and does not wait on the LoadBalancer address', async () => {
    const result = await runCli(installArgs(), {env: env(), timeoutMs: 900_000})
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0)
    // Pre-flight told the truth about LoadBalancer addresses instead of "fine".
    expect(result.stdout).toMatch(/how the API is reached.*(cannot tell|no LoadBalancer service in the cluster has an address)/)
    expect(result.stdout).toContain('keda-lab-api: no load balancer address yet (<pending>)')
    const byName = Object.fromEntries((await releases()).map((r) => [r.name, r]))
    expect(Object.keys(byName).sort()).toEqual(['alloy', 'keda', 'keda-lab', 'kube-prometheus-stack', 'loki', 'redis-ha'])
    for (const r of Object.values(byName)) expect(r.status, r.name).toBe('deployed')
    // The app is really there, pods running (kwok), and the API's Service still has no address.
    expect(await listNames(cluster.kubeconfig, `/apis/apps/v1/namespaces/${ns}/deployments`)).toEqual(
      expect.arrayContaining(['keda-lab-api', 'keda-lab-webhook', 'keda-lab-worker', 'keda-operator', 'keda-operator-metrics-apiserver']),
    )
    expect(await listNames(cluster.kubeconfig, `/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects`)).toEqual(['keda-lab-worker'])
    // The app namespace reports (warn, audit) every pod that breaks Pod Security's restricted profile.
    const appNs = await getJson<{metadata: {labels: Record<string, string>}}>(cluster.kubeconfig, `/api/v1/namespaces/${ns}`)
    expect(appNs?.metadata.labels).toMatchObject({'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/audit': 'restricted'})
    const svc = await getJson<{spec: {type: string}; status: {loadBalancer?: {ingress?: unknown[]}}}>(
      cluster.kubeconfig,
      `/api/v1/namespaces/${ns}/services/keda-lab-api`,
    )
    expect(svc?.spec.type).toBe('LoadBalancer')
    expect(svc?.status.loadBalancer?.ingress ?? []).toEqual([])
    // No secret value in what the user saw.
    expect(`${result.stdout}${result.stderr}`).not.toContain(TOKEN)
  }, 900_000)

  it("a second install upgrades keda-lab's own KEDA instead of skipping it", async () => {
    const before = Object.fromEntries((await releases()).map((r) => [r.name, Number(r.revision)]))
    const result = await runCli(installArgs(), {env: env(), timeoutMs: 900_000})
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0)
    expect(result.stdout).not.toContain('reusing')
    expect(result.stdout).toContain(`keda-lab's own KEDA (release ${ns}/keda): upgraded in place`)
    const after = Object.fromEntries((await releases()).map((r) => [r.name, Number(r.revision)]))
    for (const name of Object.keys(before)) expect(after[name], name).toBe(before[name]! + 1)
  }, 900_000)

  it('doctor reads the installed lab through the real API server', async () => {
    const result = await runCli(['doctor', '-n', ns, '--monitoring-namespace', mon, '--json'], {env: env(), timeoutMs: 180_000})
    const report = JSON.parse(result.stdout) as {checks: {id: string; status: string; detail?: string}[]}
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]))
    expect(byId.cluster).toMatchObject({status: 'pass', detail: expect.stringContaining('v1.34.12')})
    expect(byId['terminating-namespaces']).toMatchObject({status: 'pass'})
    expect(byId.leftovers).toMatchObject({status: 'pass', detail: expect.stringMatching(/^none of the releases not installed \(installed: /)})
    // No KEDA operator runs in this test (the stand-in's pods have no containers): the ScaledObject
    // the app release created has no Ready condition, and doctor says so instead of passing.
    expect(byId['keda-redis']?.detail).toContain('keda-lab-worker: no Ready condition yet')
    // The service proxy reaches no pod here (kwok pods have loopback IPs the EndpointSlice refuses):
    // doctor reports the real API server's answer.
    expect(byId['prometheus-targets']).toMatchObject({status: 'fail', detail: expect.stringContaining('no endpoints available')})
    expect(result.code).toBe(1)
    expect(result.stdout).not.toContain(TOKEN)
  }, 300_000)

  // The CRDs each release brought, as install recorded them (Alloy's from its `crds` subchart, unlabeled).
  const LAB_CRDS = /^(podlogs\.monitoring\.grafana\.com|.*\.monitoring\.coreos\.com|.*\.keda\.sh)$/
  const labCrds = async () => (await listNames(cluster.kubeconfig, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions')).filter((n) => LAB_CRDS.test(n))
  const doctorLeftovers = async () => {
    const result = await runCli(['doctor', '-n', ns, '--monitoring-namespace', mon, '--json'], {env: env(), timeoutMs: 180_000})
    const report = JSON.parse(result.stdout) as {checks: {id: string; status: string; detail?: string; hint?: string}[]}
    return report.checks.find((c) => c.id === 'leftovers')
  }

  it("a default uninstall keeps the namespace holding data; doctor judges by the releases and names every CRD left, Alloy's included", async () => {
    expect(await labCrds()).toContain('podlogs.monitoring.grafana.com')
    // Redis's data, as a persistent install leaves it: a claim that keeps the app namespace.
    const pvc = await adminRequest(cluster.kubeconfig, 'POST', `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {name: 'data-redis-ha-server-0'},
      spec: {accessModes: ['ReadWriteOnce'], resources: {requests: {storage: '1Gi'}}},
    })
    expect(pvc.status, pvc.body).toBe(201)
    const result = await runCli(['uninstall', '--yes', '-n', ns, '--monitoring-namespace', mon], {env: env(), timeoutMs: 600_000})
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0)
    expect(await releases()).toEqual([])
    expect(result.stdout).toContain(`PersistentVolumeClaims kept (use --purge to delete them): ${ns}/data-redis-ha-server-0`)
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns}`)).toBeDefined()
    const crds = await labCrds()
    const leftovers = await doctorLeftovers()
    expect(leftovers).toMatchObject({status: 'fail', hint: 'keda-lab uninstall --purge deletes them'})
    for (const crd of crds) expect(leftovers?.detail).toMatch(new RegExp(`CustomResourceDefinition ${crd.replaceAll('.', '\\.')} \\(from `))
    expect(leftovers?.detail).toContain('CustomResourceDefinition podlogs.monitoring.grafana.com (from alloy)')
    expect(leftovers?.detail).toContain('CustomResourceDefinition servicemonitors.monitoring.coreos.com (from kube-prometheus-stack)')
    expect(leftovers?.detail).toContain('CustomResourceDefinition scaledobjects.keda.sh (from keda)')
  }, 900_000)

  it('uninstall --purge removes the kept namespace, its claims and every CRD the releases brought', async () => {
    const result = await runCli(['uninstall', '--yes', '--purge', '-n', ns, '--monitoring-namespace', mon], {env: env(), timeoutMs: 600_000})
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0)
    await waitFor(
      async () =>
        (await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns}`)) === undefined &&
        (await getJson(cluster.kubeconfig, `/api/v1/namespaces/${mon}`)) === undefined,
      {timeoutMs: 180_000, intervalMs: 1000, what: `namespaces ${ns} and ${mon} to be gone`},
    )
    // CRDs take a moment to go (the API server deletes their objects first).
    await waitFor(async () => ((await labCrds()).length === 0 ? true : notYet(`CRDs still there: ${(await labCrds()).join(', ')}`)), {
      timeoutMs: 120_000,
      intervalMs: 1000,
      what: "the releases' CRDs to be deleted",
    })
    expect(await doctorLeftovers()).toMatchObject({status: 'pass', detail: 'none (no keda-lab release is installed)'})
  }, 900_000)
})
