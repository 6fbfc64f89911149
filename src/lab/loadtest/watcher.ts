/**
 * The scaling watcher of `keda-lab loadtest`: one `sample()` a second, what the autoscaler is
 * doing while the load runs.
 *
 * - cluster: the worker Deployment's ready replicas, KEDA's HPA desired replicas, the
 *   ScaledObject's Ready/Active and the API HPA's replicas and CPU, through the status module's
 *   scaling read (the same figures `keda-lab status` shows);
 * - dev: the local autoscaler's workers and its last decision, from the dev run's state file;
 * - both, and a bare `--target`: the queue's waiting/active from the API's `GET /api/queue`.
 *
 * A source that cannot answer leaves its fields out and says why in `error`; a sample never
 * throws (a failed sample is a gap in the charts, not the end of the run).
 */
import type {Kube} from '../../adapters/kube/index.js'
import {parseQueue} from '../../status/cluster.js'
import {type DevState, findDevStates} from '../../status/dev-state.js'
import {collectScalingStatus} from '../../status/scaling.js'
import type {ScalingSample} from './records.js'

/** What `sample()` reads, chosen with the target. */
export type WatchSource = {kind: 'cluster'; kube: Kube; namespace: string} | {kind: 'dev'; env?: NodeJS.ProcessEnv; pid?: number} | {kind: 'queue-only'}

export interface WatcherOptions {
  /** The API the load goes to: its `/api/queue` gives the queue. */
  apiUrl: string
  source: WatchSource
  /** Per request (default 1.5 s: a sample is due every second). */
  timeoutMs?: number
  /** Injected in tests; default global fetch. */
  fetch?: typeof fetch
}

export interface ScalingWatcher {
  readonly source: ScalingSample['source']
  sample(): Promise<ScalingSample>
}

/** The first line of an error, for a sample's `error`. */
const reason = (error: unknown) => {
  const e = error as {message?: string; cause?: {code?: string}}
  return (e.cause?.code ?? e.message ?? String(error)).split('\n')[0] ?? 'unknown error'
}

/** Creates the watcher for a run. */
export function createScalingWatcher(options: WatcherOptions): ScalingWatcher {
  const doFetch = options.fetch ?? fetch
  const timeoutMs = options.timeoutMs ?? 1500
  const queueUrl = new URL('/api/queue', options.apiUrl).href
  const source = options.source.kind

  const readQueue = async (): Promise<Pick<ScalingSample, 'queueWaiting' | 'queueActive'> & {error?: string}> => {
    try {
      const res = await doFetch(queueUrl, {signal: AbortSignal.timeout(timeoutMs)})
      const queue = parseQueue({status: res.status, headers: {}, body: await res.text()})
      if (!queue.available) return {error: `queue: ${queue.error}`}
      return {queueWaiting: queue.waiting, queueActive: queue.active}
    } catch (error) {
      return {error: `queue: ${reason(error)}`}
    }
  }

  const readDev = (): Pick<ScalingSample, 'workers' | 'workersDesired' | 'workersMinReplicas'> & {error?: string} => {
    const s = options.source.kind === 'dev' ? options.source : undefined
    const states = findDevStates(s?.env)
    const origin = new URL(options.apiUrl).origin
    const state: DevState | undefined = states.find((st) => (s?.pid !== undefined ? st.pid === s.pid : st.apiUrl === origin))
    if (!state) return {error: 'dev: the keda-lab dev run is gone (its state file was not found)'}
    return {
      workers: state.workers.length,
      ...(state.desiredWorkers !== undefined ? {workersDesired: state.desiredWorkers} : {}),
      ...(state.autoscale ? {workersMinReplicas: state.autoscale.minWorkers} : {}),
    }
  }

  const readCluster = async (kube: Kube, namespace: string): Promise<Omit<ScalingSample, 'source'>> => {
    try {
      const s = await collectScalingStatus(kube, namespace)
      const ready = (v: string | undefined) => (v === undefined ? undefined : v === 'True')
      const out: Omit<ScalingSample, 'source'> = {}
      const workers = s.workerDeployment?.ready ?? s.worker?.currentReplicas
      if (workers !== undefined) out.workers = workers
      if (s.worker?.desiredReplicas !== undefined) out.workersDesired = s.worker.desiredReplicas
      if (s.worker?.minReplicas !== undefined) out.workersMinReplicas = s.worker.minReplicas
      if (ready(s.worker?.ready) !== undefined) out.scaledObjectReady = ready(s.worker?.ready)
      if (ready(s.worker?.active) !== undefined) out.scaledObjectActive = ready(s.worker?.active)
      if (s.apiHpa) {
        out.apiReplicas = s.apiHpa.currentReplicas
        out.apiReplicasDesired = s.apiHpa.desiredReplicas
        if (s.apiHpa.cpuPercent !== undefined) out.apiCpuPercent = s.apiHpa.cpuPercent
      }
      if (!s.workerDeployment) out.error = `cluster: no worker Deployment in namespace ${namespace}`
      return out
    } catch (error) {
      return {error: `cluster: ${reason(error)}`}
    }
  }

  return {
    source,
    async sample() {
      const src = options.source
      const [queue, other] = await Promise.all([
        readQueue(),
        src.kind === 'cluster' ? readCluster(src.kube, src.namespace) : src.kind === 'dev' ? Promise.resolve(readDev()) : Promise.resolve({}),
      ])
      const {error: queueError, ...q} = queue
      const {error: otherError, ...o} = other as {error?: string}
      const sample: ScalingSample = {source, ...q, ...o}
      // The whole sample is missing only when no source answered; a partial one keeps what it has.
      if (Object.keys(sample).length === 1) sample.error = [queueError, otherError].filter(Boolean).join('; ') || 'no source answered'
      return sample
    },
  }
}
