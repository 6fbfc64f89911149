/**
 * The app chart installed directly with `helm install`, as the README promises, on a real API
 * server with real Helm 3 and Helm 4 (which applies server-side). A control plane of this file's
 * own: the first case needs a cluster WITHOUT KEDA's CRDs, which other files install.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {parseAllDocuments} from 'yaml'
import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {waitFor} from '../helpers/processes.js'
import {adminRequest} from './control-plane.js'

import {CHART_DIR, type HelmMajor, helmBinary, runHelm} from '../helpers/helm.js'
import {createNamespace, useCluster} from './harness.js'
import {applyCrds, kedaCrds, prometheusOperatorCrds} from './crds.js'
import {getJson, listNames} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {dedicated: true, namespace: false})
const majors: HelmMajor[] = [3, 4]

const install = (major: HelmMajor, ns: string, set: string[]) =>
  runHelm(
    major,
    ['upgrade', '--install', 'keda-lab', CHART_DIR, '--namespace', ns, '--kubeconfig', cluster.kubeconfig, ...set.flatMap((s) => ['--set', s])],
    120_000,
  )

const plain = ['secrets.create=true', 'webhook.enabled=false']
/** PATH with the real Helm 3 first, as a user has `helm` on PATH. */
const helmPath = `${dirname(helmBinary(3))}:${process.env.PATH}`

describe('helm install of the app chart on a real API server', () => {
  it('without KEDA: fails with one clear message naming KEDA and how to install it (Helm 3 and 4)', async () => {
    for (const major of majors) {
      const ns = `nokeda-h${major}`
      await createNamespace(cluster.kubeconfig, ns)
      const result = await install(major, ns, plain)
      expect(result.exitCode, result.stdout).not.toBe(0)
      expect(result.stderr).toContain('KEDA is not installed in this cluster')
      expect(result.stderr).toContain('helm install keda kedacore/keda')
      // Not the API server's raw refusal: the chart stopped before anything was applied.
      expect(result.stderr).not.toContain('no matches for kind')
      expect(await listNames(cluster.kubeconfig, `/apis/apps/v1/namespaces/${ns}/deployments`)).toEqual([])
    }
  })

  it('with KEDA but no prometheus-operator CRDs: installs, skipping the monitoring objects and saying so (Helm 3 and 4)', async () => {
    await applyCrds(cluster.kubeconfig, await kedaCrds())
    for (const major of majors) {
      const ns = `keda-h${major}`
      await createNamespace(cluster.kubeconfig, ns)
      const result = await install(major, ns, plain)
      expect(result.exitCode, result.stderr).toBe(0)
      expect(result.stdout).toContain('monitoring.enabled is true but this cluster serves no prometheus-operator API')
      expect(await listNames(cluster.kubeconfig, `/apis/apps/v1/namespaces/${ns}/deployments`)).toEqual(['keda-lab-api', 'keda-lab-worker'])
      expect(await listNames(cluster.kubeconfig, `/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects`)).toEqual(['keda-lab-worker'])
      expect(await listNames(cluster.kubeconfig, `/apis/keda.sh/v1alpha1/namespaces/${ns}/triggerauthentications`)).toHaveLength(1)
      // The dashboard ConfigMap needs no CRD and stays.
      expect(await listNames(cluster.kubeconfig, `/api/v1/namespaces/${ns}/secrets`)).toContain('keda-lab-secrets')
    }
  })

  it('once the prometheus-operator CRDs exist, an upgrade adds the ServiceMonitors and alert rules (Helm 3 and 4)', async () => {
    await applyCrds(cluster.kubeconfig, await prometheusOperatorCrds(['servicemonitors', 'prometheusrules']))
    for (const major of majors) {
      const ns = `keda-h${major}`
      const result = await install(major, ns, plain)
      expect(result.exitCode, result.stderr).toBe(0)
      expect(result.stdout).not.toContain('serves no prometheus-operator API')
      expect(await listNames(cluster.kubeconfig, `/apis/monitoring.coreos.com/v1/namespaces/${ns}/servicemonitors`)).toEqual([
        'keda-lab-api',
        'keda-lab-worker',
      ])
      expect(await listNames(cluster.kubeconfig, `/apis/monitoring.coreos.com/v1/namespaces/${ns}/prometheusrules`)).toHaveLength(1)
    }
  })

  it('secrets.create=true with the webhook on and no token: says every value it needs (Helm 3 and 4)', async () => {
    for (const major of majors) {
      const result = await install(major, `keda-h${major}`, ['secrets.create=true'])
      expect(result.exitCode).not.toBe(0)
      expect(result.stderr).toContain('secrets.create=true needs secrets.telegramBotToken while webhook.enabled=true')
      expect(result.stderr).toContain('webhook.telegram.chatIds')
      expect(result.stderr).toContain('secrets.redisPassword and secrets.webhookToken are optional')
    }
  })

  it("render's manifests are accepted by the real API server (server-side dry run, with KEDA's and prometheus-operator's CRDs)", async () => {
    const out = mkdtempSync(join(tmpdir(), 'keda-lab-render-'))
    try {
      const ns = 'render-check'
      await createNamespace(cluster.kubeconfig, ns)
      // install creates both namespaces before the app release; the dashboard goes to the monitoring one.
      await createNamespace(cluster.kubeconfig, 'render-mon')
      const rendered = await runCli(
        ['render', '-n', ns, '--monitoring-namespace', 'render-mon', '--output', out, '--telegram-chat-id', '42', '--image', 'ghcr.io/keda-lab/keda-lab:test'],
        {env: {PATH: helmPath}, timeoutMs: 120_000},
      )
      expect(rendered.code, rendered.stderr).toBe(0)
      const objects = parseAllDocuments(readFileSync(join(out, 'manifests', 'keda-lab.yaml'), 'utf8'))
        .map((d) => d.toJS() as {apiVersion: string; kind: string; metadata: {name: string; namespace?: string}} | null)
        .filter((o) => o !== null)
      expect(objects.length).toBeGreaterThan(15)
      const plural = (kind: string) => (kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : kind.endsWith('s') ? `${kind}es` : `${kind}s`).toLowerCase()
      for (const o of objects) {
        const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`
        // The webhook's ClusterRole and ClusterRoleBinding (get on the lab's two namespaces) are cluster-scoped.
        const scope = o.kind.startsWith('Cluster') ? '' : `/namespaces/${o.metadata.namespace ?? ns}`
        const path = `${base}${scope}/${plural(o.kind)}?dryRun=All&fieldValidation=Strict`
        const res = await adminRequest(cluster.kubeconfig, 'POST', path, o)
        expect(res.status, `${o.kind}/${o.metadata.name}: ${res.body.slice(0, 400)}`).toBe(201)
      }
    } finally {
      rmSync(out, {recursive: true, force: true})
    }
  })

  it('uninstall names the unavailable APIService that keeps a namespace Terminating', async () => {
    const ns = 'held-by-discovery'
    await createNamespace(cluster.kubeconfig, ns)
    // An aggregated API whose Service has no listener: discovery of its group fails, and the
    // namespace controller cannot finish any namespace deletion while it is registered.
    const svc = await adminRequest(cluster.kubeconfig, 'POST', `/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {name: 'broken-metrics'},
      spec: {ports: [{port: 8443}]},
    })
    expect(svc.status, svc.body).toBe(201)
    const apiService = {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: {name: 'v1beta1.broken.example.com'},
      spec: {
        group: 'broken.example.com',
        version: 'v1beta1',
        groupPriorityMinimum: 100,
        versionPriority: 100,
        insecureSkipTLSVerify: true,
        service: {name: 'broken-metrics', namespace: ns, port: 8443},
      },
    }
    const created = await adminRequest(cluster.kubeconfig, 'POST', '/apis/apiregistration.k8s.io/v1/apiservices', apiService)
    expect(created.status, created.body).toBe(201)
    try {
      const result = await runCli(['uninstall', '--yes', '-n', ns, '--monitoring-namespace', ns, '--timeout', '20'], {
        env: {KUBECONFIG: cluster.kubeconfig, PATH: helmPath},
        timeoutMs: 240_000,
      })
      expect(result.code, result.stdout).toBe(1)
      expect(result.stdout).toContain(`Namespace ${ns} is stuck in Terminating`)
      expect(result.stdout).toMatch(/APIService v1beta1\.broken\.example\.com is unavailable \(/)
      expect(result.stdout).toContain('the unavailable APIService v1beta1.broken.example.com stops the namespace controller')
    } finally {
      await adminRequest(cluster.kubeconfig, 'DELETE', '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.broken.example.com')
    }
    // Once the APIService is gone, the namespace controller finishes on its own.
    await waitFor(async () => (await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns}`)) === undefined, {
      timeoutMs: 120_000,
      intervalMs: 1000,
      what: `namespace ${ns} to go once the APIService is deleted`,
    })
  })
})
