/**
 * `keda-lab uninstall` as a user runs it: the real CLI in a subprocess with the REAL Helm 3 / Helm 4
 * binaries (.tools/, fetched by scripts/fetch-tools.sh) on PATH and KUBECONFIG pointing at the fake
 * Kubernetes API, seeded with Helm release records exactly as Helm stores them — so `helm list` and
 * `helm uninstall` really run, against a fake cluster.
 */
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {type FakeKubeApi, type KubeObject, putHelmRelease, startFakeKubeApi} from '../fakes/kube-api.js'
import {repoRoot, runCli} from '../helpers/cli.js'

const HELM = {helm3: join(repoRoot, '.tools/helm3'), helm4: join(repoRoot, '.tools/helm4')}

let api: FakeKubeApi
let dir: string

beforeEach(async () => {
  for (const d of Object.values(HELM)) {
    if (!existsSync(join(d, 'helm'))) throw new Error(`${d}/helm is missing: run scripts/fetch-tools.sh (or .ci/run) to fetch Helm 3 and 4`)
  }
  api = await startFakeKubeApi()
  dir = mkdtempSync(join(tmpdir(), 'uninstall-e2e-'))
})

afterEach(async () => {
  await api.close()
  rmSync(dir, {recursive: true, force: true})
})

const envFor = (helm: keyof typeof HELM = 'helm3'): NodeJS.ProcessEnv => ({
  KUBECONFIG: api.writeKubeconfig(dir),
  PATH: `${HELM[helm]}:${process.env.PATH}`,
  HELM_CACHE_HOME: join(dir, 'helm-cache'),
  HELM_CONFIG_HOME: join(dir, 'helm-config'),
  HELM_DATA_HOME: join(dir, 'helm-data'),
})

const obj = (apiVersion: string, kind: string, name: string, namespace?: string, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion,
  kind,
  ...extra,
  metadata: {name, ...(namespace ? {namespace} : {}), ...extra.metadata},
})

/**
 * KEDA's operator, emulated: while its Deployment exists it releases a ScaledObject being deleted,
 * after `delayMs` (the real one restores the scaled Deployment first). Returns the index in
 * `fake.requests` at which each release happened.
 */
function emulateKedaOperator(fake: FakeKubeApi, delayMs = 2000): number[] {
  const released: number[] = []
  fake.onReconcile((a) => {
    if (!a.get('apps/v1', 'Deployment', 'keda-operator', 'keda')) return
    for (const so of a.list('keda.sh/v1alpha1', 'ScaledObject')) {
      const since = so.metadata.deletionTimestamp ? Date.now() - Date.parse(so.metadata.deletionTimestamp) : -1
      if (since >= delayMs && so.metadata.finalizers?.includes('finalizer.keda.sh')) {
        a.put({...so, metadata: {...so.metadata, finalizers: so.metadata.finalizers.filter((f) => f !== 'finalizer.keda.sh')}})
        released.push(a.requests.length)
      }
    }
  })
  return released
}

/** A cluster with the whole lab installed by Helm, Redis's PVC, and the usual leftovers-to-be. */
function seedInstalledLab(fake: FakeKubeApi): {kedaReleased: number[]} {
  fake.put(obj('v1', 'Namespace', 'keda'))
  fake.put(obj('v1', 'Namespace', 'keda-monitoring'))
  putHelmRelease(fake, {
    name: 'keda',
    namespace: 'keda',
    chart: 'keda',
    version: '2.18.1',
    objects: [
      // The KEDA chart ships its CRDs as templates, so `helm uninstall keda` deletes them.
      obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'scaledobjects.keda.sh', undefined, {
        spec: {
          group: 'keda.sh',
          scope: 'Namespaced',
          names: {plural: 'scaledobjects', kind: 'ScaledObject'},
          versions: [{name: 'v1alpha1', served: true, storage: true}],
        },
      }),
      obj('apps/v1', 'Deployment', 'keda-operator', 'keda'),
      obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'keda-operator', undefined, {
        metadata: {name: 'keda-operator', labels: {'app.kubernetes.io/part-of': 'keda-operator'}},
      }),
      obj('apiregistration.k8s.io/v1', 'APIService', 'v1beta1.external.metrics.k8s.io'),
    ],
  })
  putHelmRelease(fake, {
    name: 'redis-ha',
    namespace: 'keda',
    chart: 'redis-ha',
    version: '4.38.0',
    objects: [obj('apps/v1', 'StatefulSet', 'redis-ha-server', 'keda'), obj('v1', 'Service', 'redis-ha', 'keda')],
  })
  putHelmRelease(fake, {
    name: 'kube-prometheus-stack',
    namespace: 'keda-monitoring',
    chart: 'kube-prometheus-stack',
    version: '79.0.0',
    objects: [
      obj('apps/v1', 'Deployment', 'kube-prometheus-stack-operator', 'keda-monitoring'),
      obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'kube-prometheus-stack-operator'),
    ],
  })
  putHelmRelease(fake, {
    name: 'loki',
    namespace: 'keda-monitoring',
    chart: 'loki',
    version: '6.40.0',
    objects: [obj('apps/v1', 'StatefulSet', 'loki', 'keda-monitoring')],
  })
  putHelmRelease(fake, {
    name: 'alloy',
    namespace: 'keda-monitoring',
    chart: 'alloy',
    version: '1.4.0',
    objects: [obj('apps/v1', 'Deployment', 'alloy', 'keda-monitoring'), obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'alloy')],
  })
  putHelmRelease(fake, {
    name: 'keda-lab',
    namespace: 'keda',
    chart: 'keda-lab',
    version: '0.1.0',
    objects: [obj('apps/v1', 'Deployment', 'keda-lab-worker', 'keda'), obj('keda.sh/v1alpha1', 'ScaledObject', 'keda-lab-worker', 'keda')],
  })
  // KEDA put its finalizer on the live ScaledObject (never in the chart's manifest).
  const so = fake.get('keda.sh/v1alpha1', 'ScaledObject', 'keda-lab-worker', 'keda')!
  fake.put({...so, metadata: {...so.metadata, finalizers: ['finalizer.keda.sh']}})
  // Redis's data: the StatefulSet's volumeClaimTemplate PVC, which `helm uninstall` never deletes.
  fake.put(obj('v1', 'PersistentVolumeClaim', 'data-redis-ha-server-0', 'keda', {metadata: {name: 'data-redis-ha-server-0', labels: {app: 'redis-ha'}}}))
  // What Helm leaves behind: CRDs from a chart's crds/ folder (with the record `keda-lab install`
  // writes on them: test/cluster/install-lifecycle.test.ts), and hook-created RBAC.
  fake.put(
    obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'prometheuses.monitoring.coreos.com', undefined, {
      metadata: {
        name: 'prometheuses.monitoring.coreos.com',
        annotations: {'keda-lab.dev/release-name': 'kube-prometheus-stack', 'keda-lab.dev/release-namespace': 'keda-monitoring'},
      },
      spec: {
        group: 'monitoring.coreos.com',
        scope: 'Namespaced',
        names: {plural: 'prometheuses', kind: 'Prometheus'},
        versions: [{name: 'v1', served: true, storage: true}],
      },
    }),
  )
  fake.put(
    obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'kube-prometheus-stack-admission', undefined, {
      metadata: {name: 'kube-prometheus-stack-admission', labels: {release: 'kube-prometheus-stack', app: 'kube-prometheus-stack-admission'}},
    }),
  )
  // Not ours: must never be reported or touched.
  fake.put(obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'cluster-admin'))
  fake.put(
    obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'other-team-keda', undefined, {
      metadata: {name: 'other-team-keda', annotations: {'meta.helm.sh/release-name': 'keda', 'meta.helm.sh/release-namespace': 'platform'}},
    }),
  )
  return {kedaReleased: emulateKedaOperator(fake)}
}

const mutations = (fake: FakeKubeApi) => fake.requests.filter((r) => !['GET'].includes(r.method) && !r.path.endsWith('/selfsubjectaccessreviews'))

describe('keda-lab uninstall', () => {
  it('without a terminal and without --yes: prints the plan, asks nothing, removes nothing, exits 1', async () => {
    seedInstalledLab(api)
    const r = await runCli(['uninstall'], {env: envFor(), timeoutMs: 60_000})
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(
      'Helm releases to remove, in this order: keda-lab (keda), alloy (keda-monitoring), loki (keda-monitoring), kube-prometheus-stack (keda-monitoring), redis-ha (keda), keda (keda)',
    )
    expect(r.stdout).toContain('PersistentVolumeClaims kept (use --purge to delete them): keda/data-redis-ha-server-0')
    expect(r.stderr.trim().split('\n')).toEqual([
      'Error: uninstall needs a confirmation and there is no terminal to ask on',
      'Fix: run it again with --yes (or KEDA_LAB_YES=1) to confirm',
    ])
    expect(mutations(api)).toEqual([])
  })

  // The release order with KEDA's finalizer released by the real KEDA operator, the kept claim, the
  // leftovers and `--purge --json`: on the real control plane in test/cluster/uninstall-keda.test.ts.

  // Namespaces really stuck in Terminating (an object finalizer, a spec finalizer, a dangling
  // APIService), --force and --purge: on the real namespace controller in test/cluster/uninstall-stuck.test.ts.

  it('helm missing, or the cluster unreachable: one clear error and its fix, no stack trace', async () => {
    api.put(obj('v1', 'Namespace', 'keda'))
    const noHelm = await runCli(['uninstall', '--yes'], {env: {...envFor(), PATH: '/usr/bin:/bin'}, timeoutMs: 60_000})
    expect(noHelm.code).toBe(1)
    expect(noHelm.stderr.trim().split('\n')).toEqual([
      'Error: helm not found: install it from https://helm.sh/docs/intro/install/',
      'Fix: install helm (https://helm.sh/docs/intro/install/) and make sure it is on PATH, then run the command again',
    ])

    const closed = await startFakeKubeApi()
    const kubeconfig = closed.writeKubeconfig(join(dir, 'closed'))
    await closed.close()
    const down = await runCli(['uninstall', '--yes'], {env: {...envFor(), KUBECONFIG: kubeconfig}, timeoutMs: 60_000})
    expect(down.code).toBe(4) // EXIT_NO_CLUSTER
    const [error, fix] = down.stderr.trim().split('\n')
    expect(error).toMatch(/^Error: Cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+ \(context fake\) to read the server version: /)
    expect(fix).toBe('Fix: Check that the cluster is running (`kubectl cluster-info`; `minikube status`) or pick another --context.')
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([])
  })

  // A failing helm uninstall (the API server refusing a deletion): test/cluster/uninstall-helm-fails.test.ts.
})
