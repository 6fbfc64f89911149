/**
 * doctor's Grafana and Loki checks, in-process, on the real client-node against the fake Kubernetes
 * API (and the fake Telegram Bot API, test/fakes/telegram.ts): the monitoring stack answers through the API server's service proxy, which the real control
 * plane cannot serve here (kwok's pods run no container, and EndpointSlices refuse their loopback
 * IPs, so the real proxy answers "no endpoints available"). A healthy lab passes every check
 * together; Grafana not reaching Loki, Grafana refusing the Secret's password, and Loki without logs
 * each fail exactly their own check, with its hint.
 *
 * Every other case runs against real programs:
 * - KEDA (Ready/not Ready, its events), Prometheus targets and alert rules, the API's HPA failing
 *   (the real HPA controller's ScalingActive=False) and warning (the metrics APIService unavailable or
 *   missing), and the Telegram token read from a real Secret: test/cluster/doctor.test.ts;
 * - the HPA passing with a real CPU reading: test/cluster/api-hpa.test.ts;
 * - KEDA's CRD absent, no ScaledObject, monitoring not installed (its checks skipped):
 *   test/cluster/clean-cluster.test.ts;
 * - a namespace stuck in Terminating (warning, then failure naming the finalizer):
 *   test/cluster/uninstall-stuck.test.ts;
 * - leftovers when no release is installed: test/cluster/install-lifecycle.test.ts and
 *   crds-before-records.test.ts (another team's objects: uninstall-keda.test.ts, same finder);
 * - an unreachable cluster (first check fails, the rest skipped): test/e2e/doctor-cli.test.ts, a
 *   kubeconfig pointing at a closed loopback port.
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
})
