/**
 * `keda-lab status` on the API's autoscaling (issue 18): the API pods' CPU and memory from the
 * metrics API against their request and the HPA's target, the API HPA's last scaling event and why
 * it cannot scale, on the screen and in the JSON report.
 */
import {describe, expect, it} from 'vitest'

import type {EventInfo, HpaInfo, PodInfo} from '../../src/adapters/kube/index.js'
import {apiHpaStatus, apiUsageStatus, componentStatus, COMPONENTS} from '../../src/status/cluster.js'
import type {ClusterStatusReport} from '../../src/status/model.js'
import {renderStatus} from '../../src/status/screen.js'
import {clusterReport, podInfo} from '../helpers/status-fixtures.js'

const pod = (name: string, cpuRequestMillis?: number): PodInfo => podInfo({name, cpuRequestMillis})
const MiB = 2 ** 20

const hpa = (o: Partial<HpaInfo> = {}): HpaInfo => ({
  name: 'keda-lab-api',
  labels: {},
  targetKind: 'Deployment',
  targetName: 'keda-lab-api',
  minReplicas: 1,
  maxReplicas: 5,
  currentReplicas: 3,
  desiredReplicas: 4,
  lastScaleTime: '2026-12-01T10:00:00Z',
  cpu: {currentPercent: 180, targetPercent: 50},
  conditions: [{type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound'}],
  ...o,
})
const event = (reason: string, message: string, at: string): EventInfo => ({reason, message, lastTimestamp: at, type: 'Normal'}) as EventInfo

describe('apiUsageStatus', () => {
  it("each measured API pod's CPU against its request, and the average as the HPA computes it (sum over sum)", () => {
    const u = apiUsageStatus([pod('api-b', 100), pod('api-a', 100), pod('api-new', 100)], {
      available: true,
      pods: [
        {name: 'api-a', cpuMillis: 250, memoryBytes: 96 * MiB},
        {name: 'api-b', cpuMillis: 50, memoryBytes: 64 * MiB},
        {name: 'worker-x', cpuMillis: 900, memoryBytes: MiB},
      ],
    })
    expect(u).toEqual({
      available: true,
      pods: [
        {name: 'api-a', cpuMillis: 250, memoryBytes: 96 * MiB, cpuRequestMillis: 100, cpuPercent: 250},
        {name: 'api-b', cpuMillis: 50, memoryBytes: 64 * MiB, cpuRequestMillis: 100, cpuPercent: 50},
      ],
      cpuPercent: 150,
    })
  })

  it('no request: no percentage; no metrics API: the reason; no pod measured yet: says so', () => {
    expect(apiUsageStatus([pod('a')], {available: true, pods: [{name: 'a', cpuMillis: 7, memoryBytes: MiB}]})).toMatchObject({
      pods: [{name: 'a', cpuMillis: 7, cpuPercent: undefined}],
      cpuPercent: undefined,
    })
    expect(apiUsageStatus([pod('a', 100)], {available: false, reason: 'the cluster serves no metrics.k8s.io API'})).toEqual({
      available: false,
      reason: 'the cluster serves no metrics.k8s.io API',
      pods: [],
    })
    expect(apiUsageStatus([pod('a', 100)], {available: true, pods: []})).toMatchObject({
      available: true,
      pods: [],
      reason: expect.stringContaining('two scrapes'),
    })
  })
})

describe('apiHpaStatus', () => {
  it('the newest SuccessfulRescale event is the last scaling; without one, lastScaleTime', () => {
    const h = apiHpaStatus(hpa(), [
      event('SuccessfulRescale', 'New size: 2; reason: cpu resource utilization (percentage of request) above target', '2026-12-01T09:59:00Z'),
      event('SuccessfulRescale', 'New size: 4; reason: cpu resource utilization (percentage of request) above target', '2026-12-01T10:00:10Z'),
      event('FailedGetResourceMetric', 'x', '2026-12-01T10:00:20Z'),
    ])
    expect(h).toMatchObject({cpuPercent: 180, cpuTargetPercent: 50, currentReplicas: 3, desiredReplicas: 4, problem: undefined})
    expect(h.lastScale).toEqual({at: '2026-12-01T10:00:10Z', message: 'New size: 4; reason: cpu resource utilization (percentage of request) above target'})
    expect(apiHpaStatus(hpa()).lastScale).toEqual({at: '2026-12-01T10:00:00Z', message: 'scaled to 3'})
  })

  it('ScalingActive=False is the reason it cannot scale', () => {
    const h = apiHpaStatus(
      hpa({
        cpu: {targetPercent: 50},
        lastScaleTime: undefined,
        conditions: [
          {type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric', message: 'unable to get metrics for resource cpu: no metrics returned'},
        ],
      }),
    )
    expect(h.problem).toBe('FailedGetResourceMetric: unable to get metrics for resource cpu: no metrics returned')
    expect(h.lastScale).toBeUndefined()
  })
})

describe('the screen', () => {
  const report: ClusterStatusReport = clusterReport({
    components: [componentStatus(COMPONENTS.find((c) => c.id === 'api')!, 'lab', undefined, [], false)],
    apiHpa: apiHpaStatus(hpa(), [event('SuccessfulRescale', 'New size: 3; reason: cpu above target', '2026-12-01T10:00:20Z')]),
    apiUsage: apiUsageStatus([pod('keda-lab-api-1', 100), pod('keda-lab-api-2', 100)], {
      available: true,
      pods: [
        {name: 'keda-lab-api-1', cpuMillis: 200, memoryBytes: 96 * MiB},
        {name: 'keda-lab-api-2', cpuMillis: 40, memoryBytes: 80 * MiB},
      ],
    }),
  })

  it('shows both HPAs with replicas and last scaling, and each API pod against its request and the target', () => {
    const lines = renderStatus(report, new Date('2026-12-01T10:00:30Z')).split('\n')
    expect(lines).toContain('API (HPA keda-lab-api): CPU 180% of 50% target; replicas 3 now, 4 desired, min 1 max 5')
    expect(lines).toContain('  last scaling: New size: 3; reason: cpu above target (10s ago)')
    expect(lines).toContain('  API pods: average CPU 120% of request (target 50%)')
    expect(lines.find((l) => l.includes('keda-lab-api-1'))).toMatch(/keda-lab-api-1 +200m +200% of 100m \(above target\) +96Mi$/)
    expect(lines.find((l) => l.includes('keda-lab-api-2'))).toMatch(/keda-lab-api-2 +40m +40% of 100m +80Mi$/)
    expect(lines).toContain('  last scaling: New size: 3 (30s ago)')
  })

  it('says why the figures are unknown', () => {
    const lines = renderStatus(
      {...report, apiUsage: {available: false, reason: 'the cluster serves no metrics.k8s.io API (metrics-server is not installed)', pods: []}},
      new Date('2026-12-01T10:00:30Z'),
    ).split('\n')
    expect(lines).toContain("  API pods' CPU and memory: unknown (the cluster serves no metrics.k8s.io API (metrics-server is not installed))")
  })
})
