/**
 * `keda-lab doctor` as a user runs it: the real CLI in a subprocess, KUBECONFIG pointing at the
 * fake Kubernetes API (seeded with a lab whose monitoring answers through the service proxy) and
 * TELEGRAM_API_URL at the fake Telegram Bot API.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadExpectedAlerts} from '../../src/lab/doctor/checks.js'
import {type FakeKubeApi, type LabControls, putHelmRelease, seedLab, startFakeKubeApi} from '../fakes/kube-api.js'
import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {repoRoot, runCli} from '../helpers/cli.js'

const TOKEN = '424242:e2e-doctor-secret-token'
let api: FakeKubeApi
let telegram: FakeTelegram
let lab: LabControls
let dir: string
let env: NodeJS.ProcessEnv
const LAB_RELEASES = [
  ['keda', 'keda'],
  ['redis-ha', 'keda'],
  ['keda-lab', 'keda'],
  ['kube-prometheus-stack', 'keda-monitoring'],
  ['loki', 'keda-monitoring'],
  ['alloy', 'keda-monitoring'],
] as const

beforeAll(async () => {
  api = await startFakeKubeApi()
  telegram = await startFakeTelegram({token: TOKEN, username: 'lab_bot'})
  lab = seedLab(api, {telegramToken: TOKEN, alerts: await loadExpectedAlerts()})
  // The lab's releases, as Helm records them: doctor asks the real `helm list` whether the lab is installed.
  for (const [name, namespace] of LAB_RELEASES) putHelmRelease(api, {name, namespace, chart: name, version: '1.0.0'})
  dir = mkdtempSync(join(tmpdir(), 'doctor-e2e-'))
  env = {
    KUBECONFIG: api.writeKubeconfig(dir),
    TELEGRAM_API_URL: telegram.url,
    PATH: `${join(repoRoot, '.tools/helm3')}:${process.env.PATH}`,
    HELM_CACHE_HOME: join(dir, 'helm-cache'),
    HELM_CONFIG_HOME: join(dir, 'helm-config'),
    HELM_DATA_HOME: join(dir, 'helm-data'),
  }
})

afterAll(async () => {
  await api?.close()
  await telegram?.close()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

const noSecrets = (text: string) => {
  expect(text).not.toContain(TOKEN)
  expect(text).not.toContain('e2e-doctor-secret-token')
  expect(text).not.toContain(lab.grafanaPassword)
}

describe('keda-lab doctor', () => {
  it('passes on a healthy lab: one √ line per check, exit 0', async () => {
    const r = await runCli(['doctor'], {env, timeoutMs: 60_000})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toEqual([
      expect.stringMatching(/^√ Kubernetes API reachable: v1\.31\.2 at http:\/\/127\.0\.0\.1:\d+ \(context fake\)$/),
      '√ KEDA can reach Redis: keda-lab-worker Ready, Active=False (ScalerNotActive)',
      "√ The API's HPA reads CPU (metrics-server): v1beta1.metrics.k8s.io available; HPA keda-lab-api reads CPU 12% of its 70% target",
      '√ Prometheus scrapes the api, worker and webhook targets: api: 1 up, worker: 1 up, webhook: 1 up',
      expect.stringMatching(/^√ The keda-lab alert rules are loaded: \d+ alert rules in 1 groups$/),
      '√ Grafana reaches its Prometheus and Loki datasources: Prometheus OK, Loki OK',
      '√ Logs from the application arrive in Loki: 1 lines in the last 15 min from api',
      "√ The webhook's Telegram token is valid: bot @lab_bot",
      '√ No namespace stuck in Terminating: none',
      '√ No leftover cluster-scoped objects: none of the releases not installed (installed: keda-lab, alloy, loki, kube-prometheus-stack, redis-ha, keda)',
    ])
    noSecrets(r.stdout + r.stderr)
  })

  it('--json prints {ok, checks[]} with every check', async () => {
    const r = await runCli(['doctor', '--json'], {env, timeoutMs: 60_000})
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout) as {ok: boolean; checks: Record<string, unknown>[]}
    expect(report.ok).toBe(true)
    expect(report.checks.map((c) => c.id)).toEqual([
      'cluster',
      'keda-redis',
      'api-hpa-metrics',
      'prometheus-targets',
      'alert-rules',
      'grafana-datasources',
      'loki-logs',
      'telegram-token',
      'terminating-namespaces',
      'leftovers',
    ])
    for (const c of report.checks) {
      expect(c).toEqual({
        id: expect.any(String),
        category: expect.any(String),
        title: expect.any(String),
        status: expect.stringMatching(/^(pass|skip)$/),
        fatal: expect.any(Boolean),
        detail: expect.any(String),
      })
    }
    noSecrets(r.stdout)
  })

  it('a failing check prints × with its hint and exits 1; the Telegram token is never printed', async () => {
    const so = api.get('keda.sh/v1alpha1', 'ScaledObject', 'keda-lab-worker', 'keda')!
    const healthy = structuredClone(so)
    so.status.conditions[0] = {
      type: 'Ready',
      status: 'False',
      reason: 'ScaledObjectCheckFailed',
      message: 'error establishing redis connection: WRONGPASS invalid username-password pair',
    }
    api.put(so)
    telegram.failNext(1, {method: 'getMe', status: 401, description: 'Unauthorized'})
    try {
      const r = await runCli(['doctor'], {env, timeoutMs: 60_000})
      expect(r.code).toBe(1)
      expect(r.stdout).toContain(
        '× KEDA can reach Redis: keda-lab-worker Ready=False: ScaledObjectCheckFailed: error establishing redis connection: WRONGPASS invalid username-password pair, Active=False (ScalerNotActive)\n    hint: KEDA cannot read the queue from Redis',
      )
      expect(r.stdout).toContain(
        "× The webhook's Telegram token is valid: Telegram rejected the token (401 Unauthorized)\n    hint: get a new token from @BotFather",
      )
      expect(r.stdout).toContain('√ Prometheus scrapes the api, worker and webhook targets')
      expect(r.stderr.trim()).toBe('2 check(s) failed')
      noSecrets(r.stdout + r.stderr)

      const j = await runCli(['doctor', '--json'], {env, timeoutMs: 60_000})
      expect(j.code).toBe(1)
      const report = JSON.parse(j.stdout) as {ok: boolean; checks: {id: string; status: string; hint?: string}[]}
      expect(report.ok).toBe(false)
      expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['keda-redis'])
      expect(report.checks.find((c) => c.id === 'keda-redis')!.hint).toContain('TriggerAuthentication')
    } finally {
      api.put(healthy)
    }
  })

  it('an unreachable cluster: one clear failure, the rest skipped, exit 4 (no cluster)', async () => {
    const closed = await startFakeKubeApi()
    const kubeconfig = closed.writeKubeconfig(join(dir, 'closed'))
    await closed.close()
    const r = await runCli(['doctor'], {env: {...env, KUBECONFIG: kubeconfig}, timeoutMs: 60_000})
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(
      /^× Kubernetes API reachable: Cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+ \(context fake\) to read the server version: .*\n {4}hint: Check that the cluster is running/,
    )
    expect(r.stdout).toContain('- KEDA can reach Redis: the cluster is not reachable')
    expect(r.stdout).not.toMatch(/\n\s+at /) // no stack trace
  })
})
