/**
 * The app chart installed directly with `helm install`, as the README promises, on a real API
 * server with real Helm 3 and Helm 4 (which applies server-side). A control plane of this file's
 * own: the first case needs a cluster WITHOUT KEDA's CRDs, which other files install.
 */
import {describe, expect, it} from 'vitest'

import {CHART_DIR, type HelmMajor, runHelm} from '../helpers/helm.js'
import {createNamespace, useCluster} from './harness.js'
import {applyCrds, kedaCrds, prometheusOperatorCrds} from './crds.js'
import {listNames} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {dedicated: true, namespace: false})
const majors: HelmMajor[] = [3, 4]

const install = (major: HelmMajor, ns: string, set: string[]) =>
  runHelm(major, ['upgrade', '--install', 'keda-lab', CHART_DIR, '--namespace', ns, '--kubeconfig', cluster.kubeconfig, ...set.flatMap((s) => ['--set', s])], 120_000)

const plain = ['secrets.create=true', 'webhook.enabled=false']

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
      expect(await listNames(cluster.kubeconfig, `/apis/monitoring.coreos.com/v1/namespaces/${ns}/servicemonitors`)).toEqual(['keda-lab-api', 'keda-lab-worker'])
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
})
