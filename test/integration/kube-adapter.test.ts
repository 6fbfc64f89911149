/**
 * The real @kubernetes/client-node (through createKube) against the loopback fake API server:
 * every Kube method, the merge-patch content type, namespace termination and /finalize.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createKube, type Kube, resources} from '../../src/adapters/kube/index.js'
import {KedaLabError} from '../../src/errors.js'
import {type FakeKubeApi, startFakeKubeApi} from '../fakes/kube-api.js'

let api: FakeKubeApi
let kube: Kube
let dir: string

beforeAll(async () => {
  api = await startFakeKubeApi({version: {major: '1', minor: '30+', gitVersion: 'v1.30.4'}})
  dir = mkdtempSync(join(tmpdir(), 'kube-adapter-'))
  kube = await createKube({kubeconfig: api.writeKubeconfig(dir)})
})

afterAll(async () => {
  await api?.close()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('createKube against the fake API', () => {
  it('reads the context, server and version', async () => {
    expect(kube.contextName).toBe('fake')
    expect(kube.server).toBe(api.url)
    expect(await kube.serverVersion()).toEqual({major: 1, minor: 30, gitVersion: 'v1.30.4'})
  })

  it('lists nodes with allocatable CPU and memory parsed', async () => {
    api.put({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {name: 'minikube', labels: {'minikube.k8s.io/name': 'minikube'}},
      status: {allocatable: {cpu: '3800m', memory: '8Gi'}},
    })
    api.put({apiVersion: 'v1', kind: 'Node', metadata: {name: 'worker'}, status: {allocatable: {cpu: '2', memory: '16318948Ki'}}})
    const nodes = await kube.listNodes()
    expect(nodes).toEqual([
      {name: 'minikube', cpuMillis: 3800, memoryBytes: 8 * 2 ** 30, labels: {'minikube.k8s.io/name': 'minikube'}},
      {name: 'worker', cpuMillis: 2000, memoryBytes: 16_318_948 * 1024, labels: {}},
    ])
  })

  it('answers canI from the allow-list', async () => {
    api.setAllow(['create::namespaces', '*:apiextensions.k8s.io:customresourcedefinitions'])
    expect(await kube.canI('create', '', 'namespaces')).toBe(true)
    expect(await kube.canI('delete', 'apiextensions.k8s.io', 'customresourcedefinitions')).toBe(true)
    expect(await kube.canI('create', 'rbac.authorization.k8s.io', 'clusterroles')).toBe(false)
    api.setAllow(undefined)
    const review = api.requests.findLast((r) => r.path.endsWith('/selfsubjectaccessreviews'))
    expect(review?.body).toMatchObject({spec: {resourceAttributes: {verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles'}}})
  })

  it('lists storage classes with the default flagged', async () => {
    api.put({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: {name: 'standard', annotations: {'storageclass.kubernetes.io/is-default-class': 'true'}},
      provisioner: 'k8s.io/minikube-hostpath',
    })
    api.put({apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: {name: 'slow'}, provisioner: 'example.com/slow'})
    expect(await kube.listStorageClasses()).toEqual([
      {name: 'standard', provisioner: 'k8s.io/minikube-hostpath', isDefault: true},
      {name: 'slow', provisioner: 'example.com/slow', isDefault: false},
    ])
  })

  it('lists CRDs and reads APIService availability', async () => {
    api.put({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: {name: 'scaledobjects.keda.sh'},
      spec: {
        group: 'keda.sh',
        scope: 'Namespaced',
        names: {plural: 'scaledobjects', kind: 'ScaledObject'},
        versions: [{name: 'v1alpha1', served: true, storage: true}],
      },
    })
    expect(await kube.listCrdNames()).toContain('scaledobjects.keda.sh')
    expect(await kube.apiServiceAvailable('v1beta1.metrics.k8s.io')).toBe(false)
    api.put({
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: {name: 'v1beta1.metrics.k8s.io'},
      status: {conditions: [{type: 'Available', status: 'False', reason: 'MissingEndpoints'}]},
    })
    expect(await kube.apiServiceAvailable('v1beta1.metrics.k8s.io')).toBe(false)
    api.put({
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: {name: 'v1beta1.metrics.k8s.io'},
      status: {conditions: [{type: 'Available', status: 'True'}]},
    })
    expect(await kube.apiServiceAvailable('v1beta1.metrics.k8s.io')).toBe(true)
  })

  it('ensureNamespace creates once, adds labels with a merge patch, and refuses a Terminating one', async () => {
    await kube.ensureNamespace('app', {'app.kubernetes.io/part-of': 'keda-lab'})
    await kube.ensureNamespace('app', {'app.kubernetes.io/part-of': 'keda-lab', extra: 'yes'})
    expect(api.get('v1', 'Namespace', 'app')?.metadata.labels).toEqual({'app.kubernetes.io/part-of': 'keda-lab', extra: 'yes'})
    const patch = api.requests.findLast((r) => r.method === 'PATCH' && r.path === '/api/v1/namespaces/app')
    expect(patch?.contentType).toBe('application/merge-patch+json')
    expect(api.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces')).toHaveLength(1)

    api.put({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {name: 'dying', deletionTimestamp: new Date().toISOString()},
      spec: {finalizers: ['example.com/hold']},
      status: {phase: 'Terminating'},
    })
    await expect(kube.ensureNamespace('dying')).rejects.toThrow(/being deleted/)
  })

  it('applies and reads Secrets (create, then replace)', async () => {
    expect(await kube.getSecretData('app', 'keda-lab-secrets')).toBeUndefined()
    await kube.applySecret('app', 'keda-lab-secrets', {'redis-password': 'p4ss', 'telegram-bot-token': '123:abc'}, {'app.kubernetes.io/managed-by': 'keda-lab'})
    expect(await kube.getSecretData('app', 'keda-lab-secrets')).toEqual({'redis-password': 'p4ss', 'telegram-bot-token': '123:abc'})
    await kube.applySecret('app', 'keda-lab-secrets', {'redis-password': 'other'})
    expect(await kube.getSecretData('app', 'keda-lab-secrets')).toEqual({'redis-password': 'other'})
    expect(api.get('v1', 'Secret', 'keda-lab-secrets', 'app')?.data).toEqual({'redis-password': Buffer.from('other').toString('base64')})
  })

  it('lists objects generically with a label selector, discovering the version of custom groups', async () => {
    api.put({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: {name: 'keda-operator', labels: {'app.kubernetes.io/part-of': 'keda-operator'}},
    })
    api.put({apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: 'admin'}})
    const roles = await kube.listObjects(resources.clusterRoles, 'app.kubernetes.io/part-of in (keda-operator,other)')
    expect(roles.map((r) => [r.name, r.kind])).toEqual([['keda-operator', 'ClusterRole']])
    api.put({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: {name: 'worker', namespace: 'app'},
      status: {conditions: [{type: 'Ready', status: 'True', reason: 'ScaledObjectReady', message: 'ok'}]},
    })
    const scaled = await kube.listObjects({group: 'keda.sh', plural: 'scaledobjects', namespace: 'app'})
    expect(scaled[0]).toMatchObject({name: 'worker', namespace: 'app', conditions: [{type: 'Ready', status: 'True', message: 'ok'}]})
    expect(await kube.listObjects({group: 'not.served.example', plural: 'things'})).toEqual([])
  })

  it('deletes a namespace: objects with finalizers block it until merge-patched, then /finalize clears spec finalizers', async () => {
    await kube.ensureNamespace('stuck')
    api.put({apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: {name: 'worker', namespace: 'stuck', finalizers: ['finalizer.keda.sh']}})
    api.put({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'plain', namespace: 'stuck'}})
    expect(await kube.deleteNamespace('stuck')).toBe(true)
    const ns = await kube.getNamespace('stuck')
    expect(ns?.phase).toBe('Terminating')
    expect(ns?.conditions.find((c) => c.type === 'NamespaceContentRemaining')).toMatchObject({
      status: 'True',
      message: expect.stringContaining('scaledobjects.keda.sh has 1 resource instances'),
    })
    expect(ns?.conditions.find((c) => c.type === 'NamespaceFinalizersRemaining')?.message).toContain('finalizer.keda.sh in 1 resource instances')
    expect((await kube.listTerminatingNamespaces()).map((n) => n.name)).toContain('stuck')

    const left = await kube.listObjects({group: 'keda.sh', plural: 'scaledobjects', namespace: 'stuck'})
    expect(left[0]).toMatchObject({name: 'worker', finalizers: ['finalizer.keda.sh'], deletionTimestamp: expect.any(String)})

    await kube.mergePatchObject({group: 'keda.sh', plural: 'scaledobjects', namespace: 'stuck'}, 'worker', {metadata: {finalizers: null}})
    const patch = api.requests.findLast((r) => r.method === 'PATCH')
    expect(patch).toMatchObject({contentType: 'application/merge-patch+json', body: {metadata: {finalizers: null}}})
    expect(await kube.getNamespace('stuck')).toBeUndefined()
    expect(await kube.deleteNamespace('stuck')).toBe(false)

    // A namespace held by a third-party spec finalizer is released through /finalize.
    api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'held'}, spec: {finalizers: ['kubernetes', 'example.com/hold']}})
    await kube.deleteNamespace('held')
    expect((await kube.getNamespace('held'))?.specFinalizers).toEqual(['example.com/hold'])
    await kube.finalizeNamespace('held', [])
    expect(api.requests.findLast((r) => r.path === '/api/v1/namespaces/held/finalize')?.method).toBe('PUT')
    expect(await kube.getNamespace('held')).toBeUndefined()
  })

  it('deletes objects generically', async () => {
    api.put({apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: {name: 'data-redis-ha-server-0', namespace: 'app'}})
    expect((await kube.listObjects({...resources.persistentVolumeClaims, namespace: 'app'})).map((p) => p.name)).toEqual(['data-redis-ha-server-0'])
    expect(await kube.deleteObject({...resources.persistentVolumeClaims, namespace: 'app'}, 'data-redis-ha-server-0')).toBe(true)
    expect(await kube.deleteObject({...resources.persistentVolumeClaims, namespace: 'app'}, 'data-redis-ha-server-0')).toBe(false)
  })

  it('lists Deployments with their rollout counters', async () => {
    api.put({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'keda-lab-api', namespace: 'app', labels: {'app.kubernetes.io/instance': 'keda-lab'}},
      spec: {replicas: 2},
      status: {readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1},
    })
    api.put({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'other', namespace: 'app'}, spec: {}})
    expect(await kube.listDeployments('app', 'app.kubernetes.io/instance=keda-lab')).toEqual([
      {name: 'keda-lab-api', replicas: 2, readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1},
    ])
    expect((await kube.listDeployments('app')).find((d) => d.name === 'other')).toEqual({
      name: 'other',
      replicas: 1,
      readyReplicas: 0,
      updatedReplicas: 0,
      availableReplicas: 0,
    })
  })

  it('sends requests through the service proxy, with query and headers', async () => {
    api.put({apiVersion: 'v1', kind: 'Service', metadata: {name: 'prom', namespace: 'mon'}, spec: {ports: [{port: 9090}]}})
    api.setProxy('mon', 'prom', (r) => ({body: {path: r.path, port: r.port, query: r.query, cookie: r.headers.cookie}}))
    const res = await kube.proxyService({
      namespace: 'mon',
      service: 'prom',
      port: 9090,
      path: '/api/v1/query',
      query: {query: 'up{job="x"}'},
      headers: {Cookie: 'a=b'},
    })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({path: '/api/v1/query', port: '9090', query: {query: 'up{job="x"}'}, cookie: 'a=b'})
    const missing = await kube.proxyService({namespace: 'mon', service: 'nope', path: '/'})
    expect(missing.status).toBe(404)
  })

  it('turns an unreachable server and an unknown context into one clear error', async () => {
    await expect(createKube({kubeconfig: api.writeKubeconfig(dir), context: 'nope'})).rejects.toThrow(/context "nope" does not exist/)
    const closed = await startFakeKubeApi()
    const gone = await createKube({kubeconfig: closed.writeKubeconfig(join(dir, 'gone'))})
    await closed.close()
    const error = await gone.serverVersion().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KedaLabError)
    expect((error as KedaLabError).message).toMatch(/Cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+/)
    expect((error as KedaLabError).hint).toMatch(/cluster-info/)
  })
})
