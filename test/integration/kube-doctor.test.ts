/**
 * The doctor's checks, in-process, on the real client-node against the fake Kubernetes API (the
 * monitoring stack answering through its service proxy) and the fake Telegram Bot API: a healthy
 * lab passes everything; each broken condition fails exactly its own check, with its hint.
 *
 * The KEDA check's Ready/not-Ready and the Prometheus targets and alert-rules failures are tested
 * against the real KEDA operator and a real Prometheus in test/cluster/doctor.test.ts; here the
 * healthy lab only shows every check passing together, and the fake still serves what nothing real
 * answers on this machine (Grafana, Loki, the aggregated metrics API's conditions). KEDA's CRD absent
 * and no ScaledObject: on the real API server in test/cluster/clean-cluster.test.ts.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {createKube} from '../../src/adapters/kube/index.js'
import {createTelegram} from '../../src/adapters/telegram.js'
import type {HelmRelease} from '../../src/lab/uninstall/releases.js'
import {DEFAULT_SERVICES, type DoctorContext, type DoctorReport, loadExpectedAlerts, runDoctor} from '../../src/lab/doctor/checks.js'
import {type FakeKubeApi, type LabControls, seedLab, startFakeKubeApi} from '../fakes/kube-api.js'
import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'

const TOKEN = '123456:doctor-test-token-never-printed'
let api: FakeKubeApi
let telegram: FakeTelegram
let lab: LabControls
let dir: string
let ctx: DoctorContext
/** What `helm list` answers (the doctor's edge to Helm): the lab's six releases, or none. */
let helmReleases: HelmRelease[]
const LAB_RELEASES: HelmRelease[] = [
  ...['keda', 'redis-ha', 'keda-lab'].map((name) => ({name, namespace: 'keda', status: 'deployed'})),
  ...['kube-prometheus-stack', 'loki', 'alloy'].map((name) => ({name, namespace: 'keda-monitoring', status: 'deployed'})),
]

beforeEach(async () => {
  api = await startFakeKubeApi()
  telegram = await startFakeTelegram({token: TOKEN, username: 'keda_lab_bot'})
  dir = mkdtempSync(join(tmpdir(), 'kube-doctor-'))
  const alerts = await loadExpectedAlerts()
  lab = seedLab(api, {telegramToken: TOKEN, alerts})
  helmReleases = LAB_RELEASES
  ctx = {
    kube: await createKube({kubeconfig: api.writeKubeconfig(dir)}),
    releases: {list: async () => helmReleases},
    namespace: 'keda',
    monitoringNamespace: 'keda-monitoring',
    telegram: createTelegram({apiUrl: telegram.url, timeoutMs: 2000}),
    expectedAlerts: alerts,
    services: DEFAULT_SERVICES,
    logWindowMs: 15 * 60_000,
    stuckAfterMs: 120_000,
    now: Date.now,
  }
})

afterEach(async () => {
  await api.close()
  await telegram.close()
  rmSync(dir, {recursive: true, force: true})
})

const byId = (report: DoctorReport) => Object.fromEntries(report.checks.map((c) => [c.id, c]))
/** Asserts that only `id` failed, and returns it. */
const onlyFailure = (report: DoctorReport, id: string) => {
  expect(report.ok).toBe(false)
  expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual([id])
  return byId(report)[id]!
}

describe('doctor checks against the fake cluster', () => {
  it('reads the expected alerts from the chart', async () => {
    expect(ctx.expectedAlerts).toContain('KedaLabWorkersAtMax')
    expect(ctx.expectedAlerts.length).toBeGreaterThanOrEqual(5)
  })

  it('passes every check on a healthy lab', async () => {
    const report = await runDoctor(ctx)
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['cluster', 'pass'],
      ['keda-redis', 'pass'],
      ['api-hpa-metrics', 'pass'],
      ['prometheus-targets', 'pass'],
      ['alert-rules', 'pass'],
      ['grafana-datasources', 'pass'],
      ['loki-logs', 'pass'],
      ['telegram-token', 'pass'],
      ['terminating-namespaces', 'pass'],
      ['leftovers', 'pass'],
    ])
    expect(report.ok).toBe(true)
    const r = byId(report)
    expect(r['keda-redis']!.detail).toBe('keda-lab-worker Ready, Active=False (ScalerNotActive)')
    expect(r['prometheus-targets']!.detail).toBe('api: 1 up, worker: 1 up, webhook: 1 up')
    expect(r['grafana-datasources']!.detail).toBe('Prometheus OK, Loki OK')
    expect(r['telegram-token']!.detail).toBe('bot @keda_lab_bot')
    expect(lab.lokiQueries[0]).toMatchObject({query: '{namespace="keda"}', direction: 'backward'})
    const start = Number(BigInt(lab.lokiQueries[0]!.start!) / 1_000_000n)
    expect(Date.now() - start).toBeGreaterThanOrEqual(15 * 60_000)
    expect(Date.now() - start).toBeLessThan(16 * 60_000)
    // The Grafana password went to /login only, through the proxy, never anywhere else.
    const withPassword = api.requests.filter((q) => JSON.stringify(q).includes(lab.grafanaPassword))
    expect(withPassword.map((q) => q.path)).toEqual(['/api/v1/namespaces/keda-monitoring/services/kube-prometheus-stack-grafana:80/proxy/login'])
  })

  it("the API's HPA: no metrics API is a warning naming the pinned metrics-server release; an HPA that cannot read CPU fails", async () => {
    const apiService = api.get('apiregistration.k8s.io/v1', 'APIService', 'v1beta1.metrics.k8s.io')!
    apiService.status.conditions[0] = {type: 'Available', status: 'False', reason: 'FailedDiscoveryCheck', message: 'no response'}
    api.put(apiService)
    let check = byId(await runDoctor(ctx))['api-hpa-metrics']!
    expect(check.status).toBe('warn')
    expect(check.detail).toContain('the API never scales')
    expect(check.hint).toContain('https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.9.0/components.yaml')
    apiService.status.conditions[0] = {type: 'Available', status: 'True', reason: 'Passed'}
    api.put(apiService)
    const hpa = api.get('autoscaling/v2', 'HorizontalPodAutoscaler', 'keda-lab-api', 'keda')!
    hpa.status.conditions[0] = {type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric', message: 'unable to get metrics for resource cpu'}
    api.put(hpa)
    check = onlyFailure(await runDoctor(ctx), 'api-hpa-metrics')
    expect(check.detail).toBe(
      'v1beta1.metrics.k8s.io available, but HPA keda-lab-api cannot scale: FailedGetResourceMetric: unable to get metrics for resource cpu',
    )
    expect(check.hint).toContain('describe hpa keda-lab-api')
  })
  // KEDA not installed (no CRD) and no ScaledObject: on the real API server in
  // test/cluster/clean-cluster.test.ts (a control plane without KEDA's CRDs) and test/cluster/doctor.test.ts.

  it('Grafana cannot reach Loki', async () => {
    lab.datasources[1]!.health = {status: 400, body: {status: 'ERROR', message: 'Unable to connect with Loki. Please check the server logs for more details.'}}
    const check = onlyFailure(await runDoctor(ctx), 'grafana-datasources')
    expect(check.detail).toBe('Loki: Unable to connect with Loki. Please check the server logs for more details.; Prometheus OK')
    expect(check.hint).toContain('http://loki.keda-monitoring.svc:3100')
  })

  it('Grafana rejects the password from the Secret, and the password is not shown', async () => {
    lab.grafanaPassword = 'changed-in-the-ui'
    const check = onlyFailure(await runDoctor(ctx), 'grafana-datasources')
    expect(check.detail).toBe('Grafana rejected the admin password from Secret keda-lab-grafana')
    expect(check.hint).toContain('reset-admin-password')
    expect(JSON.stringify(check)).not.toContain('grafana-admin-pw')
  })

  it('no logs in Loki', async () => {
    lab.lokiStreams = []
    const check = onlyFailure(await runDoctor(ctx), 'loki-logs')
    expect(check.detail).toBe('no log line from namespace keda in the last 15 min')
    expect(check.hint).toMatch(/alloy/)
  })

  it('an invalid Telegram token fails without showing the token', async () => {
    api.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {name: 'keda-lab-secrets', namespace: 'keda'},
      data: {'telegram-bot-token': Buffer.from('999:revoked-token').toString('base64')},
    })
    const report = await runDoctor(ctx)
    const check = onlyFailure(report, 'telegram-token')
    expect(check.detail).toMatch(/Telegram rejected the token \(401/)
    expect(check.hint).toMatch(/BotFather/)
    expect(JSON.stringify(report)).not.toContain('revoked-token')
    expect(telegram.calls.at(-1)).toMatchObject({method: 'getMe', token: '999:revoked-token'})
  })

  it('monitoring not installed: the monitoring checks are skipped, not failed', async () => {
    api.remove('v1', 'Namespace', 'keda-monitoring')
    const report = await runDoctor(ctx)
    const r = byId(report)
    for (const id of ['prometheus-targets', 'alert-rules', 'grafana-datasources', 'loki-logs']) {
      expect(r[id]).toMatchObject({status: 'skip', detail: 'monitoring is not installed (namespace keda-monitoring does not exist)'})
    }
    expect(report.ok).toBe(true)
  })

  it('a namespace stuck in Terminating is named with what blocks it', async () => {
    api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'old-lab'}})
    api.put({apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: {name: 'w', namespace: 'old-lab', finalizers: ['finalizer.keda.sh']}})
    await ctx.kube.deleteNamespace('old-lab')
    // Fresh deletion: a warning (it may finish by itself) …
    expect(byId(await runDoctor(ctx))['terminating-namespaces']).toMatchObject({status: 'warn'})
    // … older than stuckAfterMs: a failure naming the object and its finalizer.
    const check = onlyFailure(await runDoctor({...ctx, now: () => Date.now() + 10 * 60_000}), 'terminating-namespaces')
    expect(check.detail).toMatch(/^old-lab \(Terminating for 6\d\ds; blocked by scaledobjects\.keda\.sh\/w \(finalizers: finalizer\.keda\.sh\)\)$/)
    expect(check.hint).toMatch(/kubectl patch/)
  })

  it('leftovers are checked when nothing is installed', async () => {
    helmReleases = []
    api.put({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: {name: 'keda-operator', annotations: {'meta.helm.sh/release-name': 'keda', 'meta.helm.sh/release-namespace': 'keda'}},
    })
    api.put({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: {name: 'someone-elses-keda', annotations: {'meta.helm.sh/release-name': 'keda', 'meta.helm.sh/release-namespace': 'platform'}},
    })
    const report = await runDoctor(ctx)
    const r = byId(report)
    expect(r.leftovers).toMatchObject({
      status: 'fail',
      detail: 'ClusterRole keda-operator (from keda), CustomResourceDefinition scaledobjects.keda.sh (from keda)',
      hint: 'keda-lab uninstall --purge deletes them',
    })
  })

  it('an unreachable cluster fails the first check and skips the others', async () => {
    await api.close()
    const report = await runDoctor(ctx)
    expect(report.checks[0]).toMatchObject({id: 'cluster', status: 'fail', hint: expect.stringContaining('cluster-info')})
    expect(report.checks.slice(1).every((c) => c.status === 'skip')).toBe(true)
    api = await startFakeKubeApi() // afterEach closes it
  })
})
