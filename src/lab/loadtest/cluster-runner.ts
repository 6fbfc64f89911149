/**
 * `keda-lab loadtest --runner cluster --parallel N`: the load runs inside the cluster, as an Indexed
 * Job of N pods in the lab's own image (cluster-job.ts), each running its shard with
 * `--runner local --shard i/N --json`. keda-lab creates the Job through the Kube adapter, follows
 * its pods, reads each shard's summary from its pod's log (shard-log.ts), merges them exactly
 * (merge.ts) and judges the thresholds on the merge, so that one report and one exit code speak for
 * the whole run — what k6's operator users ask for and do not get.
 */
import {randomBytes} from 'node:crypto'

import type {Kube, PodInfo} from '../../adapters/kube/index.js'
import {KedaLabError} from '../../errors.js'
import {APP_RELEASE} from '../../config/release.js'
import {buildLoadtestJob, COMPLETION_INDEX_LABEL, jobName, RUN_LABEL, SHARD_CONTAINER} from './cluster-job.js'
import type {LoadTestCommandOptions} from './prepare.js'
import {prepareLoadTest} from './prepare.js'
import {executorPlan} from './executors.js'
import {checkShards, judgeMerged, mergeSummaries} from './merge.js'
import type {LoadSummary, ScalingFacts} from './records.js'
import {parseShardLog} from './shard-log.js'

/** Time for the pods to be scheduled and pull the image, on top of the load's own length. */
const START_MARGIN_S = 180

/** What `--runner cluster` needs besides the command's options. */
export interface ClusterRunOptions extends LoadTestCommandOptions {
  /** `--parallel N`: pods, each one shard. */
  parallel: number
  /** The lab's namespace (where the API runs and the Job is created). */
  namespace: string
}

/** The I/O edges. */
export interface ClusterRunDeps {
  kube: Pick<Kube, 'listWorkloads' | 'getService' | 'createJob' | 'getJob' | 'deleteJob' | 'listPods' | 'readPodLog'>
  /** Lines for people (stderr under --json). */
  info(line: string): void
  /** Aborted on Ctrl-C: the Job is deleted (its pods stop) and the run ends with exit code 130. */
  signal?: AbortSignal
  /** How often the Job is looked at (default 2 s). */
  pollMs?: number
  /** The run's id (default: random); names the Job. */
  runId?: string
  /** The scaling facts the coordinator saw (the shards do not watch the autoscaler). */
  scalingFacts?(): ScalingFacts
  sleep?(ms: number, signal?: AbortSignal): Promise<void>
}

/** The result: the merged summary, the shards' own, and the Job's name. */
export interface ClusterRunResult {
  summary: LoadSummary
  shards: LoadSummary[]
  job: string
}

/** The shard command's arguments for the options (the load's shape and the scenario; not the report or thresholds). */
export function shardArgs(options: ClusterRunOptions, targetUrl: string): string[] {
  const args: string[] = []
  const add = (flag: string, value: string | number | undefined) => {
    if (value !== undefined) args.push(`--${flag}`, String(value))
  }
  add('profile', options.profile)
  add('vus', options.vus)
  add('iterations', options.iterations)
  add('rate', options.rate)
  add('duration', options.duration)
  add('stages', options.stages)
  add('max-vus', options.maxVus)
  add('time-scale', options.timeScale)
  add('task-iterations', options.taskIterations)
  add('target', targetUrl)
  // The pods only send load: watching the scaling and the report are keda-lab's, here.
  args.push('--watch-after', '0')
  return args
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })

/** The lab's image and the API's address inside the cluster, read from what `install` created. */
async function findLab(kube: ClusterRunDeps['kube'], namespace: string): Promise<{image: string; apiUrl: string}> {
  const apiName = `${APP_RELEASE}-api`
  const api = (await kube.listWorkloads(namespace)).find((w) => w.kind === 'Deployment' && w.name === apiName)
  const image = api?.images[api.containers.indexOf('api')] ?? api?.images[0]
  if (!api || !image)
    throw new KedaLabError(`the lab's API (Deployment ${apiName}) is not in namespace ${namespace}: --runner cluster runs the load in the lab's image`, {
      hint: 'install the lab first (keda-lab install), or pass the namespace it is in with --namespace',
      exitCode: 3,
    })
  const service = await kube.getService(namespace, apiName)
  const port = service?.ports.find((p) => p.name === 'http') ?? service?.ports[0]
  if (!service || !port)
    throw new KedaLabError(`the lab's API Service ${apiName} is not in namespace ${namespace}`, {hint: 'reinstall the lab (keda-lab install)', exitCode: 3})
  return {image, apiUrl: `http://${apiName}.${namespace}.svc:${port.port}`}
}

const podCounts = (pods: readonly PodInfo[]) => {
  const by = (phase: string) => pods.filter((p) => p.phase === phase).length
  return `${pods.length} pod${pods.length === 1 ? '' : 's'}: ${by('Pending')} pending, ${by('Running')} running, ${by('Succeeded')} done, ${by('Failed')} failed`
}

/** Runs the load as an Indexed Job in the cluster and returns the merged, judged summary. */
export async function runClusterLoadTest(options: ClusterRunOptions, deps: ClusterRunDeps): Promise<ClusterRunResult> {
  const prepared = prepareLoadTest(options)
  const {parallel, namespace} = options
  if (!Number.isInteger(parallel) || parallel < 1)
    throw new KedaLabError(`--parallel ${parallel} must be a whole number ≥ 1`, {hint: 'e.g. --runner cluster --parallel 4', exitCode: 2})
  if (prepared.shard) throw new KedaLabError('--shard is for one pod of a cluster run; keda-lab gives each pod its own', {hint: 'drop --shard', exitCode: 2})
  if (options.profileFile)
    throw new KedaLabError('--profile-file cannot be used with --runner cluster yet: the pods cannot read a file of this machine', {
      hint: 'use --profile NAME or the shape flags (--vus/--iterations, --rate/--duration, --stages)',
      exitCode: 2,
    })
  const sleep = deps.sleep ?? defaultSleep
  const {kube, info} = deps
  const lab = await findLab(kube, namespace)
  const targetUrl = options.target.url ?? lab.apiUrl
  const runId = deps.runId ?? randomBytes(4).toString('hex')
  const name = jobName(runId)
  const plan = executorPlan(prepared.load.executor)
  const activeDeadlineSeconds = Math.ceil((plan.durationMs + plan.gracefulStopMs) / 1000) + START_MARGIN_S
  const manifest = buildLoadtestJob({name, namespace, image: lab.image, parallel, runId, args: shardArgs(options, targetUrl), activeDeadlineSeconds})

  info(`Target: ${targetUrl} (from inside the cluster: ${parallel} pod${parallel === 1 ? '' : 's'} of Job ${namespace}/${name}, image ${lab.image})`)
  await kube.createJob(namespace, manifest)
  const deleteJob = () => kube.deleteJob(namespace, name).catch(() => false)
  const onAbort = () => {
    info(`Stopping: deleting Job ${namespace}/${name} and its pods.`)
    void deleteJob()
  }
  deps.signal?.addEventListener('abort', onAbort, {once: true})
  try {
    let last = ''
    const deadline = Date.now() + (activeDeadlineSeconds + 60) * 1000
    let finished: 'Complete' | 'Failed' | undefined
    let reason = ''
    while (!finished) {
      if (deps.signal?.aborted) throw new KedaLabError(`stopped: Job ${namespace}/${name} was deleted before it finished`, {exitCode: 130})
      if (Date.now() > deadline) {
        await deleteJob()
        throw new KedaLabError(`Job ${namespace}/${name} did not finish within ${activeDeadlineSeconds + 60} s; it was deleted`, {
          hint: `look at its pods: kubectl -n ${namespace} describe pods -l ${RUN_LABEL}=${runId}`,
        })
      }
      const [job, pods] = await Promise.all([kube.getJob(namespace, name), kube.listPods(namespace, `${RUN_LABEL}=${runId}`)])
      if (!job) throw new KedaLabError(`Job ${namespace}/${name} disappeared while it ran`, {hint: 'someone deleted it; run the load test again'})
      const line = `Job ${name}: ${podCounts(pods)}`
      if (line !== last) info(line)
      last = line
      const condition = job.conditions.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')
      if (condition) {
        finished = condition.type as 'Complete' | 'Failed'
        reason = [condition.reason, condition.message].filter(Boolean).join(': ')
        break
      }
      await sleep(deps.pollMs ?? 2000, deps.signal)
    }

    const pods = await kube.listPods(namespace, `${RUN_LABEL}=${runId}`)
    const indexOf = (p: PodInfo) => Number(p.labels[COMPLETION_INDEX_LABEL])
    const read = async (p: PodInfo) => kube.readPodLog(namespace, p.name, SHARD_CONTAINER)
    if (finished === 'Failed') {
      const failed = pods.filter((p) => p.phase === 'Failed')
      const tails = await Promise.all(
        failed.map(async (p) => {
          const log = await read(p).catch((e: unknown) => `(log unreadable: ${(e as Error).message})`)
          return `shard ${indexOf(p)} (pod ${p.name}): ${log.trim().split('\n').slice(-3).join(' | ') || '(empty log)'}`
        }),
      )
      throw new KedaLabError(`Job ${namespace}/${name} failed${reason ? ` (${reason})` : ''}${tails.length > 0 ? `:\n  ${tails.join('\n  ')}` : ''}`, {
        hint: `the pods' logs: kubectl -n ${namespace} logs -l ${RUN_LABEL}=${runId}`,
      })
    }
    const done = pods.filter((p) => p.phase === 'Succeeded')
    const shards = await Promise.all(done.map(async (p) => parseShardLog(await read(p), p.name)))
    checkShards(shards, parallel)
    const merged = mergeSummaries(shards, {executor: {...prepared.load.executor}, scaling: deps.scalingFacts?.() ?? {source: 'none', events: []}})
    return {summary: judgeMerged(merged, prepared.thresholds), shards, job: name}
  } finally {
    deps.signal?.removeEventListener('abort', onAbort)
  }
}
