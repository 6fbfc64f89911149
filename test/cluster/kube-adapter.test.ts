/**
 * The Kube adapter (src/adapters/kube/, the real @kubernetes/client-node through createKube) against
 * the real API server: every method install, uninstall and doctor use, with the real authorizer
 * (canI as a ServiceAccount that may do little), the real namespace controller (a namespace held by
 * an object's finalizer, then by a spec finalizer only /finalize clears), the real volume and
 * Deployment controllers, and the aggregator's own APIService conditions.
 *
 * A control plane of this file's own: it makes an APIService unavailable and a StorageClass the
 * default, which would disturb other files (discovery, namespace deletion, install pre-flight).
 * What the real API server cannot be made to answer here stays in test/integration/kube-adapter.test.ts
 * (the service proxy reaching a Service's pod: pods have loopback IPs that Endpoints refuse).
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createKube, type Kube, resources} from '../../src/adapters/kube/index.js'
import {KedaLabError} from '../../src/errors.js'
import {freePort, notYet, waitFor} from '../helpers/processes.js'
import {adminRequest, NODE_NAME, VERSIONS} from './control-plane.js'
import {applyCrds, kedaCrds} from './crds.js'
import {createNamespace, useCluster} from './harness.js'
import {getJson, serviceAccountKubeconfig} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {dedicated: true})
let kube: Kube
let dir: string

const must = async (method: string, path: string, body?: unknown, contentType?: string) => {
  const res = await adminRequest(cluster.kubeconfig, method, path, body, contentType)
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`)
  return res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {}
}

beforeAll(async () => {
  kube = await createKube({kubeconfig: cluster.kubeconfig})
  dir = mkdtempSync(join(tmpdir(), 'kube-adapter-'))
  await applyCrds(cluster.kubeconfig, await kedaCrds())
}, 120_000)
afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('createKube against the real API server', () => {
  it('reads the context, server and version', async () => {
    expect(kube.contextName).toBe('keda-lab-test')
    expect(kube.server).toBe(cluster.state.server)
    expect(await kube.serverVersion()).toEqual({major: 1, minor: 34, gitVersion: VERSIONS.kube})
  })

  it('lists the nodes with allocatable CPU and memory parsed', async () => {
    const nodes = await kube.listNodes()
    expect(nodes).toEqual([{name: NODE_NAME, cpuMillis: 8000, memoryBytes: 32 * 2 ** 30, labels: expect.objectContaining({type: 'kwok'})}])
  })

  it('answers canI from the real authorizer, for an admin and for a ServiceAccount that may only create namespaces', async () => {
    expect(await kube.canI('create', 'apiextensions.k8s.io', 'customresourcedefinitions')).toBe(true)
    const ns = cluster.namespace
    const name = `${ns}-ns-creator`
    await must('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'limited'}})
    await must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: {name},
      rules: [{apiGroups: [''], resources: ['namespaces'], verbs: ['create']}],
    })
    await must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: {name},
      roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name},
      subjects: [{kind: 'ServiceAccount', name: 'limited', namespace: ns}],
    })
    const path = await serviceAccountKubeconfig(cluster.kubeconfig, ns, 'limited', join(dir, 'limited.kubeconfig'))
    const limited = await createKube({kubeconfig: path})
    expect(await limited.canI('create', '', 'namespaces')).toBe(true)
    expect(await limited.canI('create', 'apiextensions.k8s.io', 'customresourcedefinitions')).toBe(false)
    expect(await limited.canI('delete', '', 'namespaces')).toBe(false)
  })

  it('lists storage classes with the default flagged', async () => {
    const sc = (name: string, provisioner: string, isDefault: boolean) =>
      must('POST', '/apis/storage.k8s.io/v1/storageclasses', {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: {name, annotations: isDefault ? {'storageclass.kubernetes.io/is-default-class': 'true'} : {}},
        provisioner,
      })
    await sc('standard', 'k8s.io/minikube-hostpath', true)
    await sc('slow', 'example.com/slow', false)
    expect((await kube.listStorageClasses()).sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      {name: 'slow', provisioner: 'example.com/slow', isDefault: false},
      {name: 'standard', provisioner: 'k8s.io/minikube-hostpath', isDefault: true},
    ])
  })

  it('lists CRDs, and reads the availability the aggregator gives an APIService', async () => {
    expect(await kube.listCrdNames()).toEqual(expect.arrayContaining(['scaledobjects.keda.sh', 'scaledjobs.keda.sh']))
    // The control plane's metrics-server is served for real.
    expect(await kube.apiServiceAvailable('v1beta1.metrics.k8s.io')).toBe(true)
    expect(await kube.apiServiceAvailable('v1beta1.nothing.example.com')).toBe(false)
    // Registered, but its Service does not exist: the aggregator says so (ServiceNotFound).
    const name = 'v1alpha1.unserved.keda-lab.test'
    await must('POST', '/apis/apiregistration.k8s.io/v1/apiservices', {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: {name},
      spec: {
        group: 'unserved.keda-lab.test',
        version: 'v1alpha1',
        service: {namespace: cluster.namespace, name: 'nobody'},
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 10,
        versionPriority: 10,
      },
    })
    try {
      await waitFor(
        async () => {
          const a = await getJson<{status?: {conditions?: {type: string; status: string}[]}}>(
            cluster.kubeconfig,
            `/apis/apiregistration.k8s.io/v1/apiservices/${name}`,
          )
          return a?.status?.conditions?.some((c) => c.type === 'Available') || notYet('no Available condition yet')
        },
        {timeoutMs: 30_000, intervalMs: 250, what: 'the aggregator to judge the APIService'},
      )
      expect(await kube.apiServiceAvailable(name)).toBe(false)
    } finally {
      await adminRequest(cluster.kubeconfig, 'DELETE', `/apis/apiregistration.k8s.io/v1/apiservices/${name}`)
    }
  })

  it('ensureNamespace creates once, merges labels, and refuses a Terminating one', async () => {
    await kube.ensureNamespace('app', {'app.kubernetes.io/part-of': 'keda-lab'})
    const first = await getJson<{metadata: {uid: string}}>(cluster.kubeconfig, '/api/v1/namespaces/app')
    await kube.ensureNamespace('app', {extra: 'yes'})
    const again = await getJson<{metadata: {uid: string; labels: Record<string, string>}}>(cluster.kubeconfig, '/api/v1/namespaces/app')
    expect(again?.metadata.uid).toBe(first?.metadata.uid)
    expect(again?.metadata.labels).toMatchObject({'app.kubernetes.io/part-of': 'keda-lab', extra: 'yes', 'kubernetes.io/metadata.name': 'app'})

    // Held in Terminating by a ConfigMap's finalizer nobody removes.
    await createNamespace(cluster.kubeconfig, 'dying')
    await must('POST', '/api/v1/namespaces/dying/configmaps', {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'held', finalizers: ['example.com/hold']}})
    expect(await kube.deleteNamespace('dying')).toBe(true)
    await expect(kube.ensureNamespace('dying')).rejects.toThrow(/being deleted/)
    await must('PATCH', '/api/v1/namespaces/dying/configmaps/held', {metadata: {finalizers: null}}, 'application/merge-patch+json')
  })

  it('applies and reads Secrets (create, then replace)', async () => {
    expect(await kube.getSecretData('app', 'keda-lab-secrets')).toBeUndefined()
    await kube.applySecret('app', 'keda-lab-secrets', {'redis-password': 'p4ss', 'telegram-bot-token': '123:abc'}, {'app.kubernetes.io/managed-by': 'keda-lab'})
    expect(await kube.getSecretData('app', 'keda-lab-secrets')).toEqual({'redis-password': 'p4ss', 'telegram-bot-token': '123:abc'})
    await kube.applySecret('app', 'keda-lab-secrets', {'redis-password': 'other'})
    expect(await kube.getSecretData('app', 'keda-lab-secrets')).toEqual({'redis-password': 'other'})
    const stored = await getJson<{type: string; data: Record<string, string>; metadata: {labels?: Record<string, string>}}>(
      cluster.kubeconfig,
      '/api/v1/namespaces/app/secrets/keda-lab-secrets',
    )
    expect(stored).toMatchObject({type: 'Opaque', data: {'redis-password': Buffer.from('other').toString('base64')}})
  })

  it('lists objects generically with a label selector, their conditions, creation and field managers', async () => {
    await must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: {name: 'lab-keda-operator', labels: {'app.kubernetes.io/part-of': 'keda-operator'}},
    })
    const roles = await kube.listObjects(resources.clusterRoles, 'app.kubernetes.io/part-of in (keda-operator,other)')
    expect(roles.map((r) => [r.name, r.kind])).toEqual([['lab-keda-operator', 'ClusterRole']])
    expect(roles[0]?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(roles[0]?.fieldManagers?.length).toBeGreaterThan(0)
    await must('POST', '/apis/keda.sh/v1alpha1/namespaces/app/scaledobjects', {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: {name: 'worker'},
      spec: {scaleTargetRef: {name: 'worker'}, triggers: [{type: 'cpu', metricType: 'Utilization', metadata: {value: '50'}}]},
    })
    const current = await must('GET', '/apis/keda.sh/v1alpha1/namespaces/app/scaledobjects/worker')
    await must('PUT', '/apis/keda.sh/v1alpha1/namespaces/app/scaledobjects/worker/status', {
      ...current,
      status: {conditions: [{type: 'Ready', status: 'True', reason: 'ScaledObjectReady', message: 'ok'}]},
    })
    const scaled = await kube.listObjects({group: 'keda.sh', plural: 'scaledobjects', namespace: 'app'})
    expect(scaled[0]).toMatchObject({name: 'worker', namespace: 'app', conditions: [{type: 'Ready', status: 'True', message: 'ok'}]})
    expect(await kube.listObjects({group: 'not.served.example', plural: 'things'})).toEqual([])
  })

  it('deletes a namespace: the real namespace controller names what holds it; a merge patch frees it; /finalize clears a spec finalizer', async () => {
    await kube.ensureNamespace('stuck')
    await must('POST', '/apis/keda.sh/v1alpha1/namespaces/stuck/scaledobjects', {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: {name: 'worker', finalizers: ['finalizer.keda.sh']},
      spec: {scaleTargetRef: {name: 'worker'}, triggers: [{type: 'cpu', metricType: 'Utilization', metadata: {value: '50'}}]},
    })
    await must('POST', '/api/v1/namespaces/stuck/configmaps', {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'plain'}})
    expect(await kube.deleteNamespace('stuck')).toBe(true)
    const ns = await waitFor(
      async () => {
        const n = await kube.getNamespace('stuck')
        return n?.conditions.some((c) => c.type === 'NamespaceFinalizersRemaining' && c.status === 'True') ? n : notYet(JSON.stringify(n?.conditions))
      },
      {timeoutMs: 60_000, intervalMs: 250, what: "the namespace controller's conditions"},
    )
    expect(ns.phase).toBe('Terminating')
    expect(ns.conditions.find((c) => c.type === 'NamespaceContentRemaining')).toMatchObject({
      status: 'True',
      message: expect.stringContaining('scaledobjects.keda.sh has 1 resource instances'),
    })
    expect(ns.conditions.find((c) => c.type === 'NamespaceFinalizersRemaining')?.message).toContain('finalizer.keda.sh in 1 resource instances')
    expect((await kube.listTerminatingNamespaces()).map((n) => n.name)).toContain('stuck')
    const left = await kube.listObjects({group: 'keda.sh', plural: 'scaledobjects', namespace: 'stuck'})
    expect(left[0]).toMatchObject({name: 'worker', finalizers: ['finalizer.keda.sh'], deletionTimestamp: expect.any(String)})
    // The ConfigMap went; only the finalizer holds the namespace.
    expect(await kube.listObjects({group: '', plural: 'configmaps', namespace: 'stuck'})).toEqual(
      expect.not.arrayContaining([expect.objectContaining({name: 'plain'})]),
    )

    await kube.mergePatchObject({group: 'keda.sh', plural: 'scaledobjects', namespace: 'stuck'}, 'worker', {metadata: {finalizers: null}})
    await waitFor(async () => (await kube.getNamespace('stuck')) === undefined || notYet('still there'), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'namespace stuck to be gone',
    })
    expect(await kube.deleteNamespace('stuck')).toBe(false)

    // Held by a spec finalizer no controller owns: only /finalize releases it.
    await must('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {name: 'held'},
      spec: {finalizers: ['kubernetes', 'example.com/hold']},
    })
    await kube.deleteNamespace('held')
    await waitFor(
      async () => {
        const f = (await kube.getNamespace('held'))?.specFinalizers
        return f?.length === 1 && f[0] === 'example.com/hold' ? f : notYet(JSON.stringify(f))
      },
      {timeoutMs: 60_000, intervalMs: 250, what: "the namespace controller to remove its own 'kubernetes' finalizer"},
    )
    await kube.finalizeNamespace('held', [])
    await waitFor(async () => (await kube.getNamespace('held')) === undefined || notYet('still there'), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'namespace held to be gone',
    })
  }, 180_000)

  it('deletes objects generically (a claim goes once the real pvc-protection controller lets it)', async () => {
    const ref = {...resources.persistentVolumeClaims, namespace: 'app'}
    await must('POST', '/api/v1/namespaces/app/persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {name: 'data-redis-ha-server-0'},
      spec: {accessModes: ['ReadWriteOnce'], storageClassName: 'slow', resources: {requests: {storage: '1Gi'}}},
    })
    expect((await kube.listObjects(ref)).map((p) => p.name)).toEqual(['data-redis-ha-server-0'])
    const claims = await kube.listPersistentVolumeClaims('app')
    expect(claims).toEqual([expect.objectContaining({name: 'data-redis-ha-server-0', phase: 'Pending', storageClass: 'slow'})])
    expect(await kube.deleteObject(ref, 'data-redis-ha-server-0')).toBe(true)
    await waitFor(async () => (await kube.listObjects(ref)).length === 0 || notYet('claim still there'), {timeoutMs: 60_000, intervalMs: 250})
    expect(await kube.deleteObject(ref, 'data-redis-ha-server-0')).toBe(false)
  })

  it('lists Deployments with the rollout counters the real controllers (and kwok) fill in', async () => {
    const deployment = (name: string, replicas?: number, labels: Record<string, string> = {}) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name, labels},
      spec: {
        ...(replicas === undefined ? {} : {replicas}),
        selector: {matchLabels: {app: name}},
        template: {metadata: {labels: {app: name}}, spec: {containers: [{name: 'c', image: 'registry.k8s.io/pause:3.10'}]}},
      },
    })
    await must('POST', '/apis/apps/v1/namespaces/app/deployments', deployment('keda-lab-api', 2, {'app.kubernetes.io/instance': 'keda-lab'}))
    await must('POST', '/apis/apps/v1/namespaces/app/deployments', deployment('other'))
    await waitFor(
      async () => {
        const d = await kube.listDeployments('app', 'app.kubernetes.io/instance=keda-lab')
        return d[0]?.readyReplicas === 2 ? d : notYet(JSON.stringify(d))
      },
      {timeoutMs: 90_000, intervalMs: 500, what: 'keda-lab-api to be ready'},
    )
    expect(await kube.listDeployments('app', 'app.kubernetes.io/instance=keda-lab')).toEqual([
      {name: 'keda-lab-api', replicas: 2, readyReplicas: 2, updatedReplicas: 2, availableReplicas: 2},
    ])
    // No replicas given: the API server defaults them to 1.
    expect((await kube.listDeployments('app')).find((d) => d.name === 'other')?.replicas).toBe(1)
    const pods = await kube.listPods('app', 'app=keda-lab-api')
    expect(pods).toHaveLength(2)
    for (const p of pods) expect(p).toMatchObject({phase: 'Running', ready: true, images: ['registry.k8s.io/pause:3.10']})
  }, 120_000)

  it('reads events about one object', async () => {
    await must('POST', '/api/v1/namespaces/app/events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {name: 'worker.1'},
      involvedObject: {kind: 'ScaledObject', name: 'worker', namespace: 'app'},
      reason: 'KEDAScalerFailed',
      message: 'connection refused',
      type: 'Warning',
      firstTimestamp: new Date().toISOString(),
      lastTimestamp: new Date().toISOString(),
      source: {component: 'keda-operator'},
    })
    const events = await kube.listEvents('app', {kind: 'ScaledObject', name: 'worker'})
    expect(events).toEqual([expect.objectContaining({type: 'Warning', reason: 'KEDAScalerFailed', message: 'connection refused'})])
    expect(await kube.listEvents('app', {kind: 'ScaledObject', name: 'nobody'})).toEqual([])
  })

  it('the service proxy: the real API server’s refusal comes back as an answer (no endpoints), a missing Service as 404', async () => {
    await must('POST', '/api/v1/namespaces/app/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {name: 'prom'},
      spec: {selector: {app: 'nobody'}, ports: [{name: 'http', port: 9090}]},
    })
    expect(await kube.getService('app', 'prom')).toMatchObject({name: 'prom'})
    expect(await kube.getService('app', 'nope')).toBeUndefined()
    const res = await kube.proxyService({namespace: 'app', service: 'prom', port: 9090, path: '/api/v1/query', query: {query: 'up'}})
    expect(res.status).toBe(503)
    expect(res.body).toContain('no endpoints available for service')
    expect((await kube.proxyService({namespace: 'app', service: 'nope', path: '/'})).status).toBe(404)
  })

  it('turns an unreachable server and an unknown context into one clear error', async () => {
    await expect(createKube({kubeconfig: cluster.kubeconfig, context: 'nope'})).rejects.toThrow(/context "nope" does not exist/)
    const closed = `https://127.0.0.1:${await freePort()}`
    const path = join(dir, 'closed.kubeconfig')
    const text = readFileSync(cluster.kubeconfig, 'utf8')
    writeFileSync(path, text.replace(cluster.state.server, closed))
    const gone = await createKube({kubeconfig: path})
    const error = await gone.serverVersion().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KedaLabError)
    expect((error as KedaLabError).message).toContain(`Cannot reach the Kubernetes API at ${closed}`)
    expect((error as KedaLabError).hint).toMatch(/cluster-info/)
  })
})
