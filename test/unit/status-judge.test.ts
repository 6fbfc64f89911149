/**
 * The pure parts of `keda-lab status`: a component's state from its workload and pods, Redis,
 * the ScaledObject with KEDA's HPA and events, the queue answer, the verdict and the screen.
 */
import {describe, expect, it} from 'vitest'

import type {HpaInfo, PodInfo, ScaledObjectInfo, WorkloadInfo} from '../../src/adapters/kube/index.js'
import {COMPONENTS, componentStatus, imageTag, judge, parseQueue, redisStatus, reuseOfForeignKeda, scaledObjectStatus} from '../../src/status/cluster.js'
import type {ClusterStatusReport} from '../../src/status/model.js'
import {renderStatus} from '../../src/status/screen.js'
import {watchFrame} from '../../src/ui/status.js'
import {clusterReport, podInfo} from '../helpers/status-fixtures.js'

const spec = (id: string) => COMPONENTS.find((c) => c.id === id)!
const workload = (o: Partial<WorkloadInfo>): WorkloadInfo => ({
  kind: 'Deployment',
  name: 'keda-lab-api',
  labels: {},
  desired: 2,
  ready: 2,
  images: ['keda-lab:1.2.3'],
  containers: ['api'],
  selector: {app: 'api'},
  ...o,
})
const pod = podInfo

describe('imageTag', () => {
  it('takes the tag, the digest start, or latest', () => {
    expect(imageTag('registry:5000/team/app:2.20.2')).toBe('2.20.2')
    expect(imageTag('registry:5000/team/app')).toBe('latest')
    expect(imageTag('app@sha256:0123456789abcdef0123')).toBe('sha256:0123456789ab')
    expect(imageTag(undefined)).toBe('')
  })
})

describe('componentStatus', () => {
  it('counts only the pods its selector picks, sums their restarts, and says degraded below desired', () => {
    const pods = [pod({name: 'b', restarts: 2}), pod({name: 'a', restarts: 1, ready: false}), pod({name: 'other', labels: {app: 'worker'}, restarts: 9})]
    const c = componentStatus(spec('api'), 'lab', workload({ready: 1}), pods, true)
    expect(c).toMatchObject({state: 'degraded', ready: 1, desired: 2, restarts: 3, version: '1.2.3', workload: 'Deployment/keda-lab-api'})
    expect(c.pods.map((p) => p.name)).toEqual(['a', 'b'])
  })

  it('missing when required, absent when optional; a deleting pod shows as Terminating', () => {
    expect(componentStatus(spec('api'), 'lab', undefined, [], true).state).toBe('missing')
    expect(componentStatus(spec('webhook'), 'lab', undefined, [], false).state).toBe('absent')
    expect(componentStatus(spec('api'), 'lab', workload({}), [pod({deleting: true})], true).pods[0]!.phase).toBe('Terminating')
  })
})

describe("a component's version", () => {
  it("is its own container's image tag, by name or by the chart's app.kubernetes.io/name, whatever the container order", () => {
    const sidecar = 'quay.io/kiwigrid/k8s-sidecar:2.10.1'
    const grafana = workload({
      name: 'kube-prometheus-stack-grafana',
      containers: ['grafana-sc-dashboard', 'grafana-sc-datasources', 'grafana'],
      images: [sidecar, sidecar, 'docker.io/grafana/grafana:12.2.1'],
    })
    expect(componentStatus(spec('grafana'), 'mon', grafana, [], true).version).toBe('12.2.1')
    // Another chart's container name, but its own name label.
    const labelled = workload({labels: {'app.kubernetes.io/name': 'main'}, containers: ['sidecar', 'main'], images: [sidecar, 'keda-lab:1.2.3']})
    expect(componentStatus(spec('api'), 'lab', labelled, [], true).version).toBe('1.2.3')
    // Nothing names one: the first container.
    expect(componentStatus(spec('api'), 'lab', workload({containers: ['a', 'b'], images: ['x:1', 'y:2']}), [], true).version).toBe('1')
  })
})

describe('redisStatus', () => {
  const redis = (pods: PodInfo[]) =>
    componentStatus(spec('redis'), 'lab', workload({kind: 'StatefulSet', name: 'redis-ha-server', desired: 3, ready: 3, selector: {app: 'redis'}}), pods, true)
  it('names the master when a pod carries a role label', () => {
    const r = redisStatus(
      redis([
        pod({name: 'r-0', labels: {app: 'redis', 'redis-role': 'master'}}),
        pod({name: 'r-1', labels: {app: 'redis', 'redis-role': 'replica'}}),
        pod({name: 'r-2', labels: {app: 'redis'}}),
      ]),
      true,
    )
    expect(r).toEqual({master: 'r-0', replicas: 2, sentinels: 3})
  })
  it('says it cannot tell the master without such a label, and counts no Sentinel without the sidecar', () => {
    const r = redisStatus(redis([pod({name: 'r-0', labels: {app: 'redis'}}), pod({name: 'r-1', labels: {app: 'redis'}})]), false)
    expect(r).toMatchObject({replicas: 1, sentinels: 0})
    expect(r!.master).toBeUndefined()
    expect(r!.note).toContain('not labelled')
  })
})

describe('scaledObjectStatus', () => {
  const so = (o: Partial<ScaledObjectInfo> = {}): ScaledObjectInfo => ({
    name: 'keda-lab-worker',
    labels: {},
    annotations: {},
    targetName: 'keda-lab-worker',
    minReplicaCount: 0,
    maxReplicaCount: 10,
    triggers: [{type: 'redis', metadata: {listLength: '5'}}],
    conditions: [
      {type: 'Ready', status: 'False', reason: 'KEDAScalerFailed', message: 'connection refused'},
      {type: 'Active', status: 'False'},
    ],
    ...o,
  })
  const hpa: HpaInfo = {
    name: 'keda-hpa-keda-lab-worker',
    labels: {},
    targetKind: 'Deployment',
    targetName: 'keda-lab-worker',
    minReplicas: 1,
    maxReplicas: 10,
    currentReplicas: 3,
    desiredReplicas: 4,
    lastScaleTime: '2026-12-01T10:00:00Z',
    conditions: [],
  }

  it('takes Ready/Active, bounds, tasks per replica (listLength without scalingModifiers) and the newest rescale event', () => {
    const s = scaledObjectStatus(so(), hpa, undefined, [
      {type: 'Normal', reason: 'SuccessfulRescale', message: 'New size: 2', count: 1, lastTimestamp: '2026-12-01T09:00:00Z'},
      {type: 'Normal', reason: 'SuccessfulRescale', message: 'New size: 3', count: 1, lastTimestamp: '2026-12-01T10:00:00Z'},
      {type: 'Warning', reason: 'FailedGetExternalMetric', message: 'x', count: 1, lastTimestamp: '2026-12-01T11:00:00Z'},
    ])
    expect(s).toEqual({
      name: 'keda-lab-worker',
      ready: 'False',
      readyReason: 'KEDAScalerFailed: connection refused',
      active: 'False',
      paused: false,
      currentReplicas: 3,
      desiredReplicas: 4,
      minReplicas: 0,
      maxReplicas: 10,
      tasksPerReplica: '5',
      hpaName: 'keda-hpa-keda-lab-worker',
      lastScale: {at: '2026-12-01T10:00:00Z', message: 'New size: 3'},
    })
  })

  it('paused by either annotation; without events the HPA lastScaleTime; scalingModifiers target wins', () => {
    expect(scaledObjectStatus(so({annotations: {'autoscaling.keda.sh/paused-replicas': '0'}}), hpa, undefined, []).paused).toBe(true)
    expect(scaledObjectStatus(so({annotations: {'autoscaling.keda.sh/paused': 'true'}}), hpa, undefined, []).paused).toBe(true)
    const s = scaledObjectStatus(so({scalingModifiers: {formula: 'wait + active', target: '2'}}), hpa, undefined, [])
    expect(s.lastScale).toEqual({at: '2026-12-01T10:00:00Z', message: 'scaled to 3'})
    expect(s.tasksPerReplica).toBe('2')
  })
})

describe('parseQueue', () => {
  it('reads the counts and workers; any other answer is a reason', () => {
    const body = JSON.stringify({
      name: 'tasks',
      counts: {waiting: 4, active: 2, delayed: 0, prioritized: 0, 'waiting-children': 0, completed: 10, failed: 1},
      workers: 2,
    })
    expect(parseQueue({status: 200, headers: {}, body})).toEqual({
      available: true,
      name: 'tasks',
      waiting: 4,
      active: 2,
      completed: 10,
      failed: 1,
      delayed: 0,
      workers: 2,
    })
    expect(parseQueue({status: 503, headers: {}, body: '{"kind":"Status","message":"no endpoints available for service \\"keda-lab-api\\""}'})).toEqual({
      available: false,
      error: 'HTTP 503: no endpoints available for service "keda-lab-api"',
    })
    expect(parseQueue({status: 200, headers: {}, body: '<html>'}).error).toBe('the answer is not JSON')
  })
})

describe('judge and the screen', () => {
  const ok = componentStatus(spec('api'), 'lab', workload({}), [], true)
  const report = (o: Partial<ClusterStatusReport>): ClusterStatusReport => clusterReport({components: [ok], ...o})

  it('healthy when every part is fine; each problem is one reason', () => {
    const r = report({})
    expect(judge({...r, installed: true, monitoring: true})).toEqual({verdict: 'healthy', reasons: []})
    const bad = judge({
      ...r,
      components: [{...ok, state: 'degraded', ready: 1}, componentStatus(spec('keda-operator'), 'lab', undefined, [], true)],
      worker: undefined,
      queue: {available: false, error: 'HTTP 503: x'},
      alerts: {available: true, firing: [{name: 'KedaLabWorkersAtMax', severity: 'warning', summary: 'at max'}]},
      installed: true,
      monitoring: true,
    })
    expect(bad).toEqual({
      verdict: 'degraded',
      reasons: [
        'API: 1/2 pods ready',
        'KEDA operator: not found (Deployment/keda-operator in namespace lab)',
        'Worker autoscaling: no ScaledObject for the worker',
        "Queue: cannot read the API's /api/queue (HTTP 503: x)",
        'Alert firing: KedaLabWorkersAtMax (warning): at max',
      ],
    })
    expect(judge({...r, installed: false, monitoring: false}).verdict).toBe('not-installed')
    // Without monitoring, unreadable alerts are no reason.
    expect(judge({...r, alerts: {available: false, firing: [], error: 'x'}, installed: true, monitoring: false}).verdict).toBe('healthy')
  })

  it('renders the verdict first, the components as a table, the scaling with its age', () => {
    const screen = renderStatus(report({}), new Date('2026-12-01T10:00:30Z'))
    const lines = screen.split('\n')
    expect(lines[0]).toBe('keda-lab status: √ healthy  (context ctx, namespace lab, 2026-12-01T10:00:30.000Z)')
    expect(lines).toContain('√  API        2/2    0         1.2.3    lab/Deployment/keda-lab-api')
    expect(screen).toContain('Workers (ScaledObject keda-lab-worker): Ready=True, Active=True; replicas 2 now, 3 desired, min 1 max 10; 2 task(s) per replica')
    expect(screen).toContain('  last scaling: New size: 3 (30s ago)')
    expect(screen).toContain('Queue "tasks": 1 waiting, 2 active, 3 completed, 0 failed; 2 worker(s) connected')
    expect(screen).toContain('Alerts: none firing')
    expect(watchFrame('x', false)).toBe('x\n---')
    expect(watchFrame('x', true)).toMatch(/^\u001B\[H\u001B\[2Jx\n/)
  })

  it('a KEDA missing here is no reason when KEDA reports the ScaledObject Ready (a KEDA of another namespace serves it)', () => {
    const missing = () => [
      componentStatus(spec('keda-operator'), 'lab', undefined, [], true),
      componentStatus(spec('keda-metrics-server'), 'lab', undefined, [], true),
    ]
    const served = missing()
    expect(reuseOfForeignKeda(served, {name: 'w', ready: 'True', paused: false})).toBe(true)
    expect(served.map((c) => c.state)).toEqual(['absent', 'absent'])
    expect(judge({...report({}), components: served, installed: true, monitoring: true}).verdict).toBe('healthy')
    const unserved = missing()
    expect(reuseOfForeignKeda(unserved, {name: 'w', ready: 'False', paused: false})).toBe(false)
    expect(judge({...report({}), components: unserved, installed: true, monitoring: true}).reasons[0]).toBe(
      'KEDA operator: not found (Deployment/keda-operator in namespace lab)',
    )
  })
})
