/**
 * A cluster that starts clean, on a control plane of this file's own whose API server writes an
 * audit log (issue 15 §2: two cases moved off the fake Kubernetes API):
 *
 * 1. `keda-lab doctor` before KEDA exists: no CustomResourceDefinition scaledobjects.keda.sh (CRDs
 *    are cluster-wide and other files install KEDA's on the shared control plane, hence a control
 *    plane of its own); then, with KEDA's release installed (its real CRDs), no ScaledObject yet.
 * 2. `keda-lab uninstall` without a terminal and without --yes: it prints the plan and exits 1, and
 *    the API server's audit log shows that the CLI's credential (and the helm it runs, with the same
 *    kubeconfig) sent no write at all — only reads. Likewise `uninstall --yes` with helm missing from
 *    PATH: one clear error, nothing written. The same filter then shows the writes of a real
 *    `uninstall --yes`, so it is not a filter that cannot fail.
 *
 * The CLI runs with a credential of its own (a ServiceAccount bound to cluster-admin), so that its
 * requests are told apart from the admin's (this file's seeding, kwok) and the controllers'.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {freePort} from '../../src/lab/dev/net.js'
import {CHARTS} from '../../src/lab/charts.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {runCli} from '../helpers/cli.js'
import {helmBinary, runHelm} from '../helpers/helm.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {type AuditEvent, auditedRun, describeEvent, WRITE_VERBS} from './audit.js'
import {adminRequest} from './control-plane.js'
import {createNamespace, useCluster} from './harness.js'
import {installApp} from './keda.js'
import {clusterAdminServiceAccount, getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {dedicated: true, audit: true})
const HELM = 3
const PVC = 'data-redis-ha-server-0'
const ns = () => cluster.namespace
const mon = () => `${cluster.namespace}-mon`
const answers: InstallAnswers = {...sampleAnswers, webhook: false, monitoring: false}

let repo: ChartRepo
let home: string
let cli: {kubeconfig: string; username: string}
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'keda-lab-clean-cluster-'))
  // KEDA's release: the stand-in chart with KEDA's real CRDs in crds/ (no APIService: nothing serves it here).
  repo = await startChartRepo({charts: ['keda'], kedaMetricsApiService: false})
  cli = await clusterAdminServiceAccount(cluster.kubeconfig, 'keda-lab-cli', join(home, 'cli.kubeconfig'))
  env = {
    KUBECONFIG: cli.kubeconfig,
    PATH: `${join(helmBinary(HELM), '..')}:${process.env.PATH}`,
    HELM_CONFIG_HOME: join(home, 'helm-config'),
    HELM_CACHE_HOME: join(home, 'helm-cache'),
    HELM_DATA_HOME: join(home, 'helm-data'),
    // Doctor's Telegram check never leaves the machine (nothing listens there).
    TELEGRAM_API_URL: `http://127.0.0.1:${await freePort()}`,
  }
}, 180_000)
afterAll(async () => {
  await repo?.close()
  if (home) rmSync(home, {recursive: true, force: true})
})

interface Check {
  id: string
  title: string
  status: string
  detail?: string
  hint?: string
}

/** `doctor --json`'s checks by id (exit 1: KEDA's check fails on this cluster). */
const doctorChecks = async (): Promise<Record<string, Check>> => {
  const r = await runCli(['doctor', '-n', ns(), '--monitoring-namespace', mon(), '--json'], {env, timeoutMs: 180_000})
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1)
  return Object.fromEntries((JSON.parse(r.stdout) as {ok: boolean; checks: Check[]}).checks.map((c) => [c.id, c]))
}
const doctorJson = async () => (await doctorChecks())['keda-redis']

const audited = <T>(action: () => Promise<T>) => auditedRun({kubeconfig: cluster.kubeconfig, auditLog: auditLog(), username: cli.username}, action)
const auditLog = () => {
  const path = cluster.state.auditLog
  if (!path) throw new Error('the dedicated control plane was started without an audit log')
  return path
}
const writes = (events: AuditEvent[]) => events.filter((e) => WRITE_VERBS.includes(e.verb)).map(describeEvent)

describe('doctor on a cluster without KEDA', () => {
  it("KEDA's CRD absent: the KEDA check fails saying KEDA is not installed, with its fix", async () => {
    expect(await getJson(cluster.kubeconfig, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/scaledobjects.keda.sh')).toBeUndefined()
    const r = await runCli(['doctor', '-n', ns(), '--monitoring-namespace', mon()], {env, timeoutMs: 180_000})
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1)
    expect(r.stdout).toContain(
      '× KEDA can reach Redis: KEDA is not installed (no CustomResourceDefinition scaledobjects.keda.sh)\n    hint: keda-lab install\n',
    )
    const checks = await doctorChecks()
    // No monitoring namespace yet: the monitoring checks are skipped, not failed.
    for (const id of ['prometheus-targets', 'alert-rules', 'grafana-datasources', 'loki-logs']) {
      expect(checks[id], id).toMatchObject({status: 'skip', detail: `monitoring is not installed (namespace ${mon()} does not exist)`})
    }
    expect(checks['keda-redis']).toEqual({
      id: 'keda-redis',
      category: 'autoscaling',
      title: 'KEDA can reach Redis',
      status: 'fail',
      fatal: false,
      detail: 'KEDA is not installed (no CustomResourceDefinition scaledobjects.keda.sh)',
      hint: 'keda-lab install',
    })
  }, 240_000)

  it("KEDA's release installed (its real CRDs) but no ScaledObject: the check says the app is missing", async () => {
    const helm = await runHelm(
      HELM,
      ['install', 'keda', 'keda', '--repo', repo.repoUrl('kedacore'), '--version', CHARTS.keda.version, '-n', ns(), '--kubeconfig', cluster.kubeconfig],
      180_000,
    )
    expect(helm.exitCode, helm.stderr).toBe(0)
    expect(await getJson(cluster.kubeconfig, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/scaledobjects.keda.sh')).toBeDefined()
    expect(await doctorJson()).toMatchObject({
      status: 'fail',
      detail: `no ScaledObject in namespace ${ns()}`,
      hint: "keda-lab install (the app release creates the worker's ScaledObject)",
    })
  }, 240_000)
})

describe('uninstall that must remove nothing, as the API server recorded it', () => {
  // The rest of the lab: the app release (ScaledObject and all), Redis's PVC, the monitoring namespace.
  beforeAll(async () => {
    await installApp({
      kubeconfig: cluster.kubeconfig,
      namespace: ns(),
      workDir: home,
      answers,
      // A free port where no Redis listens: this file needs the app's objects, not a running app.
      redis: {port: await freePort(), password: 'clean-cluster-redis-password'},
      helm: HELM,
    })
    const pvc = await adminRequest(cluster.kubeconfig, 'POST', `/api/v1/namespaces/${ns()}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {name: PVC, labels: {app: 'redis-ha'}},
      spec: {accessModes: ['ReadWriteOnce'], resources: {requests: {storage: '1Gi'}}},
    })
    if (pvc.status !== 201) throw new Error(`creating PVC ${PVC}: ${pvc.status} ${pvc.body.slice(0, 300)}`)
    await createNamespace(cluster.kubeconfig, mon())
  }, 180_000)

  /** What the plan names is all still there. */
  const labIntact = async () => {
    expect(await getJson(cluster.kubeconfig, `/apis/keda.sh/v1alpha1/namespaces/${ns()}/scaledobjects/keda-lab-worker`)).toBeDefined()
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns()}/persistentvolumeclaims/${PVC}`)).toBeDefined()
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${mon()}`)).toBeDefined()
    const releases = await runHelm(HELM, ['list', '-n', ns(), '-q', '--kubeconfig', cluster.kubeconfig])
    expect(releases.stdout.trim().split('\n').sort()).toEqual(['keda', 'keda-lab'])
  }

  it('without --yes: prints the plan, asks nothing, sends no write (audit log), exits 1', async () => {
    const {result: r, events} = await audited(() => runCli(['uninstall', '-n', ns(), '--monitoring-namespace', mon()], {env, timeoutMs: 120_000}))
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1)
    expect(r.stdout.trim().split('\n')).toEqual([
      `Helm releases to remove, in this order: keda-lab (${ns()}), keda (${ns()})`,
      `Namespaces to delete: ${ns()}, ${mon()}`,
      `PersistentVolumeClaims kept (use --purge to delete them): ${ns()}/${PVC}`,
    ])
    expect(r.stderr.trim().split('\n')).toEqual([
      'Error: uninstall needs a confirmation and there is no terminal to ask on',
      'Fix: run it again with --yes (or KEDA_LAB_YES=1) to confirm',
    ])
    // The filter sees the CLI's requests (its reads, helm's list of release records) …
    const seen = events.map(describeEvent)
    expect(seen).toContain(`get namespaces ${ns()}`)
    expect(seen).toContain(`list persistentvolumeclaims ${ns()}`)
    expect(seen).toContain('list secrets')
    // … and among them not one write.
    expect(writes(events)).toEqual([])
    await labIntact()
  }, 300_000)

  it('--yes with helm missing from PATH: one clear error and its fix, no stack trace, no write sent', async () => {
    const {result: r, events} = await audited(() =>
      runCli(['uninstall', '--yes', '-n', ns(), '--monitoring-namespace', mon()], {env: {...env, PATH: '/usr/bin:/bin'}, timeoutMs: 120_000}),
    )
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1)
    expect(r.stderr.trim().split('\n')).toEqual([
      'Error: helm not found: install it from https://helm.sh/docs/intro/install/',
      'Fix: install helm (https://helm.sh/docs/intro/install/) and make sure it is on PATH, then run the command again',
    ])
    // It asked the cluster first (its version), then stopped at helm.
    expect(events.map((e) => e.requestURI)).toContain('/version')
    expect(writes(events)).toEqual([])
    await labIntact()
  }, 300_000)

  it('the same filter shows the writes of `uninstall --yes` (the releases, the monitoring namespace)', async () => {
    const {result: r, events} = await audited(() =>
      runCli(['uninstall', '--yes', '-n', ns(), '--monitoring-namespace', mon(), '--timeout', '60'], {env, timeoutMs: 240_000}),
    )
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    expect(r.stdout).toContain(`√ Removed Helm releases: keda-lab (${ns()}), keda (${ns()})`)
    const written = writes(events)
    expect(written).toContain(`delete secrets ${ns()}/sh.helm.release.v1.keda-lab.v1`)
    expect(written).toContain(`delete scaledobjects.keda.sh ${ns()}/keda-lab-worker`)
    expect(written).toContain(`delete secrets ${ns()}/sh.helm.release.v1.keda.v1`)
    expect(written).toContain(`delete namespaces ${mon()}`)
    // The claim keeps its namespace (not deleted without --purge).
    expect(written).not.toContain(`delete persistentvolumeclaims ${ns()}/${PVC}`)
    expect(written).not.toContain(`delete namespaces ${ns()}`)
  }, 300_000)
})
