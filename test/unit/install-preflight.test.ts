import {describe, expect, it} from 'vitest'

import {sampleAnswers} from '../helpers/install-answers.js'

import {hasFatalFailure, runChecks} from '../../src/lab/checks.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import {type InstallFacts, PREFLIGHT_CHECKS} from '../../src/lab/install/preflight.js'
import {formatCheckResult} from '../../src/ui/checks.js'

const answers: InstallAnswers = sampleAnswers

const GiB = 1024 ** 3
const healthy: InstallFacts = {
  helm: {major: 3, version: 'v3.17.3'},
  reachable: true,
  contextName: 'minikube',
  server: 'https://192.168.49.2:8443',
  serverVersion: {major: 1, minor: 32, gitVersion: 'v1.32.0'},
  nodes: [{name: 'minikube', cpuMillis: 4000, memoryBytes: 8 * GiB, labels: {'minikube.k8s.io/name': 'minikube'}}],
  storageClasses: [{name: 'standard', provisioner: 'k8s.io/minikube-hostpath', isDefault: true}],
  crds: [],
  metricsApi: true,
  canCreateNamespaces: true,
  canCreateCrds: true,
  cluster: {kind: 'minikube', name: 'minikube'},
  telegram: {status: 'valid', username: 'lab_bot'},
}

async function check(facts: Partial<InstallFacts>, a: Partial<InstallAnswers> = {}) {
  const results = await runChecks(PREFLIGHT_CHECKS, {facts: {...healthy, ...facts}, answers: {...answers, ...a}})
  return Object.fromEntries(results.map((r) => [r.id, r]))
}

describe('install pre-flight checks', () => {
  it('a healthy minikube passes, with the tunnel pointed out', async () => {
    const r = await check({})
    expect(Object.values(r).filter((x) => x.status === 'fail')).toEqual([])
    expect(r['load-balancer']!.status).toBe('warn')
    expect(r['load-balancer']!.hint).toContain('minikube tunnel')
    expect(formatCheckResult(r.helm!)).toBe('√ helm present (major version 3 or 4): helm v3.17.3 (Helm 3: --atomic, --wait)')
  })

  it('LoadBalancer on another cluster: told from the addresses the cluster really assigned, never fatal', async () => {
    const other = {cluster: {kind: 'other' as const}, contextName: 'prod'}
    const assigned = await check({...other, loadBalancers: {total: 3, withAddress: 2}}, {image: 'r/keda-lab:1'})
    expect(assigned['load-balancer']!).toMatchObject({status: 'pass', detail: 'LoadBalancer (2 of 3 LoadBalancer services in the cluster have an address)'})
    const pending = await check({...other, loadBalancers: {total: 2, withAddress: 0}}, {image: 'r/keda-lab:1'})
    expect(pending['load-balancer']!).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('no LoadBalancer service in the cluster has an address (2 pending)'),
    })
    expect(pending['load-balancer']!.hint).toContain('--expose NodePort')
    const unknown = await check({...other, loadBalancers: {total: 0, withAddress: 0}}, {image: 'r/keda-lab:1'})
    expect(unknown['load-balancer']!.status).toBe('warn')
    expect(unknown['load-balancer']!.detail).toContain('cannot tell')
    expect(hasFatalFailure(Object.values(pending))).toBe(false)
  })

  it("existing KEDA: keda-lab's own release is upgraded, a foreign one reused", async () => {
    const own = await check({crds: ['scaledobjects.keda.sh'], appNamespace: 'keda', kedaNamespace: 'keda', kedaRelease: {name: 'keda', namespace: 'keda'}})
    expect(own['existing-keda']!.detail).toBe("keda-lab's own KEDA (release keda/keda): upgraded in place")
    const foreign = await check({
      crds: ['scaledobjects.keda.sh'],
      appNamespace: 'keda',
      kedaNamespace: 'platform',
      kedaRelease: {name: 'keda', namespace: 'platform'},
    })
    expect(foreign['existing-keda']!.detail).toContain(
      'a KEDA that keda-lab did not install runs in namespace platform, Helm release platform/keda: reusing it',
    )
    const leftover = await check({crds: ['scaledobjects.keda.sh'], appNamespace: 'keda'})
    expect(leftover['existing-keda']!.detail).toContain('no KEDA operator runs: KEDA will be installed')
  })

  it('each problem is named, with its fix, and the fatal ones stop the install', async () => {
    const r = await check({
      helm: undefined,
      helmError: 'helm not found: install it from https://helm.sh/docs/intro/install/',
      serverVersion: {major: 1, minor: 22, gitVersion: 'v1.22.17'},
      canCreateCrds: false,
      storageClasses: [{name: 'slow', provisioner: 'x', isDefault: false}],
      nodes: [{name: 'minikube', cpuMillis: 1000, memoryBytes: 2 * GiB, labels: {'minikube.k8s.io/name': 'minikube'}}],
      metricsApi: false,
      telegram: {status: 'invalid', reason: 'Telegram rejected the token (401 Unauthorized)'},
    })
    expect(r.helm!.status).toBe('fail')
    expect(r['kubernetes-version']!).toMatchObject({status: 'fail', detail: 'v1.22.17: the charts need autoscaling/v2 and policy/v1'})
    expect(r.permissions!).toMatchObject({status: 'fail', detail: 'not allowed to create customresourcedefinitions'})
    expect(r['storage-class']!).toMatchObject({status: 'fail', detail: 'no default among slow', hint: expect.stringContaining('--no-redis-persistence')})
    expect(r.resources!.status).toBe('fail')
    expect(r.resources!.hint).toContain('minikube start --cpus 4 --memory 8g')
    expect(r['metrics-server']!).toMatchObject({status: 'warn', hint: 'minikube addons enable metrics-server -p minikube'})
    expect(r['telegram-token']!.status).toBe('fail')
    expect(hasFatalFailure(Object.values(r))).toBe(true)
  })

  it('warnings: older Kubernetes, no room at maximum replicas, kind without LoadBalancer, Telegram unreachable', async () => {
    const r = await check(
      {
        serverVersion: {major: 1, minor: 29, gitVersion: 'v1.29.4'},
        nodes: [{name: 'lab-control-plane', cpuMillis: 4000, memoryBytes: 8 * GiB, labels: {}}],
        cluster: {kind: 'kind', name: 'lab'},
        telegram: {status: 'unreachable', reason: 'https://api.telegram.org is not reachable'},
      },
      {workerMaxReplicas: 40},
    )
    expect(r['kubernetes-version']!.status).toBe('warn')
    expect(r.resources!.status).toBe('warn')
    expect(r['load-balancer']!).toMatchObject({status: 'warn', hint: expect.stringContaining('--expose NodePort')})
    expect(r['telegram-token']!.status).toBe('warn')
    expect(hasFatalFailure(Object.values(r))).toBe(false)
  })

  it('a cluster without metrics-server: the hint installs the pinned release (the one the tests run), never latest', async () => {
    const r = await check({metricsApi: false, cluster: {kind: 'kind', name: 'lab'}})
    expect(r['metrics-server']!).toMatchObject({
      status: 'warn',
      hint: 'kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.9.0/components.yaml',
    })
    expect(r['metrics-server']!.hint).not.toContain('latest')
  })

  it('--storage-class: a class that exists passes (no default needed); a missing one fails, naming the classes there are', async () => {
    const classes = [
      {name: 'standard', provisioner: 'k8s.io/minikube-hostpath', isDefault: true},
      {name: 'fast', provisioner: 'ebs.csi.aws.com', isDefault: false},
    ]
    const named = await check({storageClasses: classes}, {storageClass: 'fast'})
    expect(named['storage-class']!).toMatchObject({status: 'pass', detail: 'fast (ebs.csi.aws.com), asked with --storage-class'})
    const noDefault = await check({storageClasses: [classes[1]!]}, {storageClass: 'fast'})
    expect(noDefault['storage-class']!.status).toBe('pass')
    const missing = await check({storageClasses: classes}, {storageClass: 'gold'})
    expect(missing['storage-class']!).toMatchObject({
      status: 'fail',
      detail: 'StorageClass gold does not exist; the cluster has standard (k8s.io/minikube-hostpath, default), fast (ebs.csi.aws.com)',
      hint: expect.stringContaining('--storage-class NAME'),
    })
    expect(hasFatalFailure(Object.values(missing))).toBe(true)
    const none = await check({storageClasses: []}, {storageClass: 'gold'})
    expect(none['storage-class']!.detail).toBe('StorageClass gold does not exist; the cluster has no StorageClass at all')
    // Without --storage-class and without a default, the hint offers the flag first.
    const nodefault = await check({storageClasses: [classes[1]!]})
    expect(nodefault['storage-class']!).toMatchObject({status: 'fail', detail: 'no default among fast', hint: expect.stringContaining('--storage-class NAME')})
  })

  it('an unreachable cluster fails once and skips the checks that need it; persistence off skips the StorageClass', async () => {
    const r = await check({reachable: false, reachError: 'connect ECONNREFUSED 127.0.0.1:6443', serverVersion: undefined}, {redisPersistence: false})
    expect(r['cluster-reachable']!).toMatchObject({status: 'fail', hint: expect.stringContaining('minikube start')})
    expect(r['kubernetes-version']!.status).toBe('skip')
    expect(r['storage-class']!).toMatchObject({status: 'skip', detail: 'persistence off (--no-redis-persistence)'})
  })
})
