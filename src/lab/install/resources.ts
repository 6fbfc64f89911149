/**
 * What the chosen profile asks of the cluster: the sum of the CPU and memory REQUESTS of every pod
 * install creates, at minimum and at maximum replicas. The figures mirror the requests set in
 * templates/values/*.yaml and the app chart's values.yaml (change them together).
 */
import type {InstallAnswers} from './options.js'

interface Req {
  cpuMillis: number
  memoryBytes: number
}

const Mi = 1024 * 1024
const r = (cpuMillis: number, memoryMi: number): Req => ({cpuMillis, memoryBytes: memoryMi * Mi})

/** Requests per pod, from the values files. */
export const POD_REQUESTS = {
  keda: [r(100, 128), r(100, 128), r(50, 64)], // operator, metrics API server, admission webhooks
  redisPod: r(150, 192), // redis 100m/128Mi + sentinel 50m/64Mi
  monitoring: [r(200, 512), r(50, 64), r(100, 256), r(100, 128), r(50, 64), r(100, 256), r(50, 128)], // prometheus, alertmanager, grafana, operator, kube-state-metrics, loki, alloy
  nodeExporterPerNode: r(50, 32),
  api: r(100, 128),
  worker: r(250, 128),
  webhook: r(20, 64),
} as const

export interface ResourceEstimate {
  min: Req
  max: Req
}

function sum(items: readonly Req[]): Req {
  return items.reduce((a, b) => ({cpuMillis: a.cpuMillis + b.cpuMillis, memoryBytes: a.memoryBytes + b.memoryBytes}), r(0, 0))
}

function times(req: Req, n: number): Req {
  return {cpuMillis: req.cpuMillis * n, memoryBytes: req.memoryBytes * n}
}

/** Requests at minimum replicas (must fit) and at maximum replicas (should fit). */
export function estimateResources(answers: InstallAnswers, cluster: {nodeCount: number; kedaInstalled: boolean}): ResourceEstimate {
  const fixed: Req[] = [times(POD_REQUESTS.redisPod, answers.redisReplicas)]
  if (!cluster.kedaInstalled) fixed.push(...POD_REQUESTS.keda)
  if (answers.monitoring) fixed.push(...POD_REQUESTS.monitoring, times(POD_REQUESTS.nodeExporterPerNode, Math.max(1, cluster.nodeCount)))
  if (answers.webhook) fixed.push(POD_REQUESTS.webhook)
  const workerMin = answers.scaleToZero ? 0 : answers.workerMinReplicas
  return {
    min: sum([...fixed, times(POD_REQUESTS.api, answers.apiMinReplicas), times(POD_REQUESTS.worker, workerMin)]),
    max: sum([...fixed, times(POD_REQUESTS.api, answers.apiMaxReplicas), times(POD_REQUESTS.worker, answers.workerMaxReplicas)]),
  }
}

export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? `${millis / 1000}` : `${(millis / 1000).toFixed(2)}`
}

export function formatMemory(bytes: number): string {
  return bytes >= 1024 * Mi ? `${(bytes / (1024 * Mi)).toFixed(1)} GiB` : `${Math.round(bytes / Mi)} MiB`
}
