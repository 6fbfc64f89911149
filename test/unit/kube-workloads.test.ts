import type * as K8s from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'

import {toClaimInfo, toDeploymentInfo, toLoadBalancerInfo, toPodInfo, toServiceInfo, toWorkloadInfo} from '../../src/adapters/kube/workloads.js'

// How the adapter reads the API's objects, the defaults the API applies included. The same
// methods are run against the real API server in test/cluster/kube-adapter.test.ts.

const template = {
  spec: {
    containers: [
      {name: 'grafana-sc-dashboard', image: 'quay.io/kiwigrid/k8s-sidecar:2.10.1'},
      {name: 'grafana', image: 'docker.io/grafana/grafana:12.3.1'},
    ],
  },
}

describe('workload mappers', () => {
  it('a Deployment or StatefulSet without .spec.replicas wants 1 (the API default); absent status counts 0', () => {
    const d: K8s.V1Deployment = {metadata: {name: 'api', labels: {app: 'api'}}, spec: {selector: {matchLabels: {app: 'api'}}, template}}
    expect(toWorkloadInfo('Deployment', d)).toEqual({
      kind: 'Deployment',
      name: 'api',
      labels: {app: 'api'},
      images: ['quay.io/kiwigrid/k8s-sidecar:2.10.1', 'docker.io/grafana/grafana:12.3.1'],
      containers: ['grafana-sc-dashboard', 'grafana'],
      selector: {app: 'api'},
      desired: 1,
      ready: 0,
    })
    const s: K8s.V1StatefulSet = {
      metadata: {name: 'redis'},
      spec: {replicas: 3, serviceName: 'r', selector: {}, template},
      status: {replicas: 3, readyReplicas: 2},
    }
    expect(toWorkloadInfo('StatefulSet', s)).toMatchObject({kind: 'StatefulSet', desired: 3, ready: 2, labels: {}})
    expect(toDeploymentInfo(d)).toEqual({name: 'api', replicas: 1, readyReplicas: 0, updatedReplicas: 0, availableReplicas: 0})
  })

  it('a DaemonSet wants what it should schedule, not a replica count', () => {
    const ds: K8s.V1DaemonSet = {
      metadata: {name: 'alloy'},
      spec: {selector: {}, template},
      status: {desiredNumberScheduled: 4, numberReady: 3, currentNumberScheduled: 4, numberMisscheduled: 0},
    }
    expect(toWorkloadInfo('DaemonSet', ds)).toMatchObject({kind: 'DaemonSet', desired: 4, ready: 3})
  })

  it('a pod: Ready from its condition, restarts and CPU requests summed over containers, deletion seen', () => {
    const pod: K8s.V1Pod = {
      metadata: {name: 'worker-1', creationTimestamp: new Date('2026-12-07T10:00:00Z'), deletionTimestamp: new Date('2026-12-07T10:05:00Z')},
      spec: {
        containers: [
          {name: 'worker', image: 'w:1', resources: {requests: {cpu: '250m'}}, ports: [{name: 'metrics', containerPort: 9464}]},
          {name: 'sidecar', image: 's:1', resources: {requests: {cpu: '1'}}},
        ],
      },
      status: {
        phase: 'Running',
        conditions: [
          {type: 'PodScheduled', status: 'True'},
          {type: 'Ready', status: 'True'},
        ],
        containerStatuses: [
          {name: 'worker', restartCount: 2, ready: true, image: 'w:1', imageID: ''},
          {name: 'sidecar', restartCount: 1, ready: true, image: 's:1', imageID: ''},
        ],
      },
    }
    expect(toPodInfo(pod)).toEqual({
      name: 'worker-1',
      labels: {},
      phase: 'Running',
      ready: true,
      restarts: 3,
      images: ['w:1', 's:1'],
      ports: [{name: 'metrics', containerPort: 9464}],
      cpuRequestMillis: 1250,
      deleting: true,
      createdAt: '2026-12-07T10:00:00.000Z',
    })
    expect(toPodInfo({status: {conditions: [{type: 'Ready', status: 'False'}]}})).toMatchObject({
      name: '',
      phase: 'Unknown',
      ready: false,
      restarts: 0,
      deleting: false,
    })
  })

  it('a claim without status is Pending; a Service without type is ClusterIP; a LoadBalancer lists IPs and hostnames', () => {
    expect(toClaimInfo({metadata: {name: 'data-redis-0'}, spec: {storageClassName: 'fast'}})).toMatchObject({
      name: 'data-redis-0',
      phase: 'Pending',
      storageClass: 'fast',
    })
    expect(toServiceInfo({spec: {ports: [{name: 'http', port: 80, targetPort: 'http'}]}}, 'api')).toEqual({
      name: 'api',
      type: 'ClusterIP',
      selector: {},
      ports: [{name: 'http', port: 80, targetPort: 'http'}],
    })
    expect(
      toLoadBalancerInfo({
        metadata: {namespace: 'keda-lab', name: 'api'},
        status: {loadBalancer: {ingress: [{ip: '127.0.0.5'}, {hostname: 'lb.example'}, {}]}},
      }),
    ).toEqual({namespace: 'keda-lab', name: 'api', addresses: ['127.0.0.5', 'lb.example']})
  })
})
