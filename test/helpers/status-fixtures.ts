/**
 * Fixtures for the tests of `keda-lab status` (src/status/): a pod as the Kube adapter reports it,
 * and a healthy cluster report that each test changes where it matters.
 */
import type {PodInfo} from '../../src/adapters/kube/index.js'
import type {ClusterStatusReport} from '../../src/status/model.js'

/** A running, ready API pod without restarts, images or ports; `o` overrides any field. */
export function podInfo(o: Partial<PodInfo> = {}): PodInfo {
  return {name: 'p', labels: {app: 'api'}, phase: 'Running', ready: true, restarts: 0, images: [], ports: [], deleting: false, ...o}
}

/**
 * A healthy report of namespace `lab` checked at 2026-12-01T10:00:30Z: the worker's ScaledObject
 * Ready and Active at 2 replicas of 3 desired (last scaled 30 s before), 1 task waiting and 2
 * active, no alert firing, no note. The components are the test's; `o` overrides any field.
 */
export function clusterReport(o: Partial<ClusterStatusReport> & Pick<ClusterStatusReport, 'components'>): ClusterStatusReport {
  return {
    target: 'cluster',
    verdict: 'healthy',
    reasons: [],
    exitCode: 0,
    context: 'ctx',
    server: 'https://127.0.0.1:6443',
    namespace: 'lab',
    monitoringNamespace: 'mon',
    checkedAt: '2026-12-01T10:00:30.000Z',
    worker: {
      name: 'keda-lab-worker',
      ready: 'True',
      active: 'True',
      paused: false,
      currentReplicas: 2,
      desiredReplicas: 3,
      minReplicas: 1,
      maxReplicas: 10,
      tasksPerReplica: '2',
      lastScale: {at: '2026-12-01T10:00:00Z', message: 'New size: 3'},
    },
    queue: {available: true, name: 'tasks', waiting: 1, active: 2, completed: 3, failed: 0, workers: 2},
    alerts: {available: true, firing: []},
    notes: [],
    ...o,
  }
}
