/**
 * What `keda-lab status` reports: one typed object, printed as a screen by src/status/screen.ts and
 * as is under `--json`. The verdict and its exit code are what scripts use.
 */

/** healthy: everything runs; degraded: installed but something is wrong (see reasons); not-installed: nothing to look at. */
export type Verdict = 'healthy' | 'degraded' | 'not-installed'

/**
 * Exit codes of `keda-lab status` (documented in the README and the command's help):
 * 0 healthy, 1 degraded, 3 not installed (no lab in the namespace / no dev stack running),
 * 4 the cluster (or the dev API) cannot be reached.
 */
export const STATUS_EXIT = {healthy: 0, degraded: 1, 'not-installed': 3, unreachable: 4} as const

/** One pod of a component. */
export interface PodStatus {
  name: string
  phase: string
  ready: boolean
  restarts: number
  /** Redis only: 'master' or 'replica' when the pod says so (a role label), else absent. */
  role?: string
}

/** One component of the lab: a Deployment, StatefulSet or DaemonSet. */
export interface ComponentStatus {
  id: string
  title: string
  namespace: string
  /** The workload's kind and name (what `kubectl get` needs). */
  workload: string
  /** ok: every desired pod ready; degraded: fewer ready; missing: required but not found; absent: optional and not installed. */
  state: 'ok' | 'degraded' | 'missing' | 'absent'
  ready: number
  desired: number
  restarts: number
  /** Image tag of the main container ('' when unknown). */
  version: string
  pods: PodStatus[]
}

/** Redis with Sentinels: who is master, how many replicas and Sentinels. */
export interface RedisStatus {
  /** The master's pod, when it can be told from the cluster (a role label on the pods). */
  master?: string
  replicas: number
  sentinels: number
  /** Why the master is not named, when it is not. */
  note?: string
}

/** The worker's ScaledObject and KEDA's HPA for it. */
export interface ScaledObjectStatus {
  name: string
  ready?: string
  readyReason?: string
  active?: string
  paused: boolean
  /** Replicas of the scaled Deployment now, and what KEDA's HPA wants. */
  currentReplicas?: number
  desiredReplicas?: number
  minReplicas?: number
  maxReplicas?: number
  tasksPerReplica?: string
  hpaName?: string
  /** The last scaling event of KEDA's HPA (SuccessfulRescale), or its lastScaleTime. */
  lastScale?: {at?: string; message: string}
}

/** The API's CPU HPA. */
export interface ApiHpaStatus {
  name: string
  /** Average CPU of the API pods in percent of their request, as the HPA last computed it. */
  cpuPercent?: number
  cpuTargetPercent?: number
  currentReplicas: number
  desiredReplicas: number
  minReplicas: number
  maxReplicas: number
  /** The last scaling event of the HPA (SuccessfulRescale), or its lastScaleTime. */
  lastScale?: {at?: string; message: string}
  /** Why the HPA cannot scale now (its ScalingActive condition is False, e.g. no CPU metrics). */
  problem?: string
}

/** One API pod's CPU and memory now (the resource metrics API). */
export interface PodUsage {
  name: string
  cpuMillis: number
  memoryBytes: number
  /** Its CPU request, and the CPU in percent of it (what the HPA compares with its target). */
  cpuRequestMillis?: number
  cpuPercent?: number
}

/** The API pods' CPU and memory, or why they are unknown. */
export interface ApiUsageStatus {
  /** The metrics API answered. */
  available: boolean
  reason?: string
  pods: PodUsage[]
  /** Sum of the pods' CPU over the sum of their requests (the HPA's own average), when known. */
  cpuPercent?: number
}

/** The queue as the API's `GET /api/queue` reports it. */
export interface QueueStatus {
  available: boolean
  name?: string
  waiting?: number
  active?: number
  completed?: number
  failed?: number
  delayed?: number
  /** Workers connected to the queue. */
  workers?: number
  /** Why the queue could not be read. */
  error?: string
}

/** One alert firing now. */
export interface FiringAlert {
  name: string
  severity?: string
  since?: string
  summary?: string
}

export interface AlertsStatus {
  available: boolean
  firing: FiringAlert[]
  error?: string
}

/** The whole report for a cluster. */
export interface ClusterStatusReport {
  target: 'cluster'
  verdict: Verdict
  reasons: string[]
  exitCode: number
  context: string
  server: string
  namespace: string
  monitoringNamespace: string
  checkedAt: string
  components: ComponentStatus[]
  redis?: RedisStatus
  worker?: ScaledObjectStatus
  apiHpa?: ApiHpaStatus
  /** The API pods' CPU and memory from the metrics API (undefined when the lab is not installed). */
  apiUsage?: ApiUsageStatus
  queue: QueueStatus
  alerts: AlertsStatus
  /** Facts worth showing that do not make the lab degraded (e.g. autoscaling paused on purpose). */
  notes: string[]
}

/** One autoscaling decision of `keda-lab dev --autoscale` (its [dev] line). */
export interface DevDecision {
  at: string
  message: string
}

/** The report for a `keda-lab dev` stack. */
export interface LocalStatusReport {
  target: 'local'
  verdict: Verdict
  reasons: string[]
  exitCode: number
  apiUrl: string
  checkedAt: string
  /** `GET /readyz`: the API reaches Redis. */
  apiReady: boolean
  queue: QueueStatus
  /** From the dev stack's state file, when it was found (a URL alone does not have it). */
  dev?: {
    pid: number
    startedAt: string
    workers: string[]
    autoscale?: {minWorkers: number; maxWorkers: number; tasksPerWorker: number; pollingIntervalMs: number}
    decisions: DevDecision[]
  }
}

export type StatusReport = ClusterStatusReport | LocalStatusReport
