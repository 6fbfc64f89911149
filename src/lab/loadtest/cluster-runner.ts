/**
 * `keda-lab loadtest --runner cluster --parallel N`: the load runs inside the cluster, as an Indexed
 * Job of N pods in the lab's own image (cluster-job.ts), each running its shard with
 * `--runner local --shard i/N --json`. keda-lab creates the Job through the Kube adapter and
 * follows its pods' logs while they run (cluster-logs.ts): each shard prints its per-second
 * records as it goes and its summary at the end (shard-log.ts). The records are merged by wall-clock second into one
 * series (merge.ts SeriesMerger) as the shards report them, with the scaling the coordinator
 * samples every second (the watcher a local run uses), so the live view, the time series, the
 * report's charts and the scaling facts are a local run's; the summaries are merged exactly and the
 * thresholds judged on the merge, so that one report and one exit code speak for the whole run —
 * what k6's operator users ask for and do not get.
 *
 * Ctrl-C deletes the Job with foreground propagation: its pods are stopped (SIGTERM, and each
 * shard prints the summary of what it ran), keda-lab reads what they print until they are gone,
 * and merges the summaries that came, saying how many (`LoadSummary.shards`).
 */
import {randomBytes} from 'node:crypto'

import type {Kube, PodInfo} from '../../adapters/kube/index.js'
import {KedaLabError} from '../../errors.js'
import {APP_RELEASE} from '../../config/release.js'
import {buildLoadtestJob, jobName, RUN_LABEL} from './cluster-job.js'
import {ShardLogs, shardIndex} from './cluster-logs.js'
import {type LoadTestCommandOptions, prepareLoadTest} from './prepare.js'
import {executorPlan} from './executors.js'
import {checkShards, judgeMerged, mergeSummaries, SeriesMerger} from './merge.js'
import {createFactsCollector} from './facts.js'
import type {LoadSummary, ScalingSample, SecondRecord} from './records.js'
import {parseShardLog} from './shard-log.js'
import {pause, withTimeout} from './waits.js'

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
  kube: Pick<Kube, 'listWorkloads' | 'getService' | 'createJob' | 'getJob' | 'deleteJob' | 'listPods' | 'readPodLog' | 'followPodLog'>
  /** Lines for people (stderr under --json). */
  info(line: string): void
  /**
   * Aborted on Ctrl-C: the Job is deleted with its pods, the summaries they print as they stop are
   * merged, and the run ends with exit code 130.
   */
  signal?: AbortSignal
  /** Each merged second, in order, once every running shard has reported past it (the live view). */
  onRecord?(record: SecondRecord): void
  /**
   * Opens the scaling watch (the watcher of a local run, on the lab's namespace; `inCluster` is
   * the API's address inside the cluster), once the options are checked. Its sampler is asked
   * every second from the Job's creation to the end of the watch after the load; `close` ends
   * what it opened (a port-forward). Undefined: the scaling is not watched.
   */
  openWatch?(inCluster: string): Promise<{sample(): Promise<ScalingSample | undefined>; close(): Promise<void>}>
  /** How often the Job and its pods' logs are read (default 1 s). */
  pollMs?: number
  /** The run's id (default: random); names the Job. */
  runId?: string
  sleep?(ms: number, signal?: AbortSignal): Promise<void>
  /** Wall-clock milliseconds (default Date.now): the shards' records are merged by wall-clock second. */
  now?(): number
}

/** The result: the merged summary, the merged series, the shards' own summaries, and the Job's name. */
export interface ClusterRunResult {
  summary: LoadSummary
  records: SecondRecord[]
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
  add('stop-grace', options.stopGrace)
  add('target', targetUrl)
  // The pods only send load: watching the scaling and the report are keda-lab's, here.
  args.push('--watch-after', '0')
  return args
}

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

/** The options of a cluster run checked (those of any run, then its own), before anything is opened. */
export function checkClusterOptions(options: ClusterRunOptions): ReturnType<typeof prepareLoadTest> {
  if (options.profileFile)
    throw new KedaLabError('--profile-file cannot be used with --runner cluster yet: the pods cannot read a file of this machine', {
      hint: 'use --profile NAME or the shape flags (--vus/--iterations, --rate/--duration, --stages)',
      exitCode: 2,
    })
  const prepared = prepareLoadTest(options)
  const {parallel} = options
  if (!Number.isInteger(parallel) || parallel < 1)
    throw new KedaLabError(`--parallel ${parallel} must be a whole number ≥ 1`, {hint: 'e.g. --runner cluster --parallel 4', exitCode: 2})
  if (prepared.shard) throw new KedaLabError('--shard is for one pod of a cluster run; keda-lab gives each pod its own', {hint: 'drop --shard', exitCode: 2})
  return prepared
}

/** How long after the Job's deletion the pods get to print their summaries, on top of --stop-grace. */
const STOP_MARGIN_MS = 20_000

type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>
type Watch = Awaited<ReturnType<NonNullable<ClusterRunDeps['openWatch']>>>

/** The merged series, the scaling facts read from it, and where each merged second goes. */
function createSeries(merger: SeriesMerger, now: () => number, onRecord: ClusterRunDeps['onRecord']) {
  const facts = createFactsCollector()
  const records: SecondRecord[] = []
  const emit = (merged: readonly SecondRecord[]) => {
    for (const r of merged) {
      records.push(r)
      facts.onRecord(r)
      onRecord?.(r)
    }
  }
  const lastSecond = () => Math.max(merger.lastShardSecond ?? Number.NEGATIVE_INFINITY, Math.floor(now() / 1000) - 1)
  return {merger, facts, records, emit, lastSecond}
}

/** Samples the scaling every second into the merger until `stop` (nothing without a watch). */
function startSampler(watch: Watch | undefined, merger: SeriesMerger, now: () => number, sleep: Sleep): {stop(): Promise<void>} {
  const sampling = new AbortController()
  const sampler = (async () => {
    if (!watch) return
    while (!sampling.signal.aborted) {
      const at = now()
      const sample = await withTimeout(watch.sample(), 2000)
      if (sample) merger.addSample(at, sample)
      await sleep(Math.max(0, at + 1000 - now()), sampling.signal)
    }
  })()
  return {
    async stop() {
      sampling.abort()
      await sampler
    },
  }
}

/** What the steps of one cluster run share. */
interface Run {
  kube: ClusterRunDeps['kube']
  info(line: string): void
  signal: AbortSignal | undefined
  now(): number
  sleep: Sleep
  options: ClusterRunOptions
  prepared: ReturnType<typeof prepareLoadTest>
  name: string
  runId: string
  target: LoadSummary['target']
  startedAt: Date
  series: ReturnType<typeof createSeries>
  sampler: {stop(): Promise<void>}
  logs: ShardLogs
}

/** The end: the series up to now, the scaling facts from it, the shards' summaries merged and judged. */
async function finishRun(run: Run, shards: LoadSummary[], interrupted: boolean): Promise<ClusterRunResult> {
  const {series, prepared, target, now, options} = run
  const {merger} = series
  await run.sampler.stop()
  if (merger.firstSecond !== undefined) series.emit(merger.take(series.lastSecond() + 1))
  if (merger.late > 0)
    run.info(
      `${merger.late} shard record(s) came after their second was merged: counted in the summary, not in the time series (the pods' logs were read late).`,
    )
  const merged = mergeSummaries(shards, {
    executor: {...prepared.load.executor},
    scaling: series.facts.facts(),
    none: {
      profile: prepared.load.name,
      target,
      tool: {name: 'keda-lab', version: options.version},
      startedAt: run.startedAt.toISOString(),
      endedAt: new Date(now()).toISOString(),
    },
  })
  const summary: LoadSummary = {...merged, target, shards: {count: options.parallel, reported: shards.length}, interrupted: merged.interrupted || interrupted}
  return {summary: judgeMerged(summary, prepared.thresholds), records: series.records, shards, job: run.name}
}

/** Ctrl-C: the Job goes with its pods; what they print as they stop is merged. */
async function stopRun(run: Run): Promise<ClusterRunResult> {
  const {kube, info, now, logs, name, runId} = run
  const {namespace, parallel} = run.options
  info(`Stopping: deleting Job ${namespace}/${name} and its pods; the shards that print their summary as they stop are merged.`)
  await kube.deleteJob(namespace, name, 'Foreground').catch(() => false)
  const until = now() + run.prepared.stopGraceMs + STOP_MARGIN_MS
  for (;;) {
    const pods = await kube.listPods(namespace, `${RUN_LABEL}=${runId}`).catch(() => undefined)
    if (pods) {
      logs.followLogs(pods)
      await logs.readLogs(pods)
    }
    const waiting = (pods ?? []).filter((p) => p.phase !== 'Pending' && !logs.summaryOf(p.name))
    if ((pods && waiting.length === 0) || now() > until) break
    await run.sleep(1000) // not on the signal: it is aborted already
  }
  const shards = logs.summaries().filter((s) => s.shard?.count === parallel)
  checkShards(shards, parallel, true)
  info(
    `Stopped: ${shards.length} of ${parallel} shard${parallel === 1 ? '' : 's'} reported a summary before ${parallel === 1 ? 'its pod was' : 'their pods were'} gone; the summary merges ${shards.length === 1 ? 'it' : 'those'}.`,
  )
  return finishRun(run, shards, true)
}

/**
 * Follows the Job until it is Complete or Failed (with the reason), merging what its pods print as
 * they go; undefined when the run is aborted. Past the Job's deadline (plus a minute) it is deleted.
 */
async function followJob(run: Run, activeDeadlineSeconds: number, pollMs: number): Promise<{finished: 'Complete' | 'Failed'; reason: string} | undefined> {
  const {kube, info, now, logs, series, name, runId} = run
  const {namespace} = run.options
  let last = ''
  const deadline = now() + (activeDeadlineSeconds + 60) * 1000
  for (;;) {
    if (run.signal?.aborted) return undefined
    if (now() > deadline) {
      await kube.deleteJob(namespace, name).catch(() => false)
      throw new KedaLabError(`Job ${namespace}/${name} did not finish within ${activeDeadlineSeconds + 60} s; it was deleted`, {
        hint: `look at its pods: kubectl -n ${namespace} describe pods -l ${RUN_LABEL}=${runId}`,
      })
    }
    const [job, pods] = await Promise.all([kube.getJob(namespace, name), kube.listPods(namespace, `${RUN_LABEL}=${runId}`)])
    if (!job) throw new KedaLabError(`Job ${namespace}/${name} disappeared while it ran`, {hint: 'someone deleted it; run the load test again'})
    const line = `Job ${name}: ${podCounts(pods)}`
    if (line !== last) info(line)
    last = line
    logs.followLogs(pods)
    await logs.readLogs(pods)
    series.emit(series.merger.take(logs.horizon(pods)))
    const condition = job.conditions.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')
    if (condition) return {finished: condition.type as 'Complete' | 'Failed', reason: [condition.reason, condition.message].filter(Boolean).join(': ')}
    await run.sleep(pollMs, run.signal)
  }
}

/** The error of a failed Job, with the last lines of its failed pods' logs (not their records). */
async function jobFailedError(run: Run, pods: readonly PodInfo[], reason: string): Promise<KedaLabError> {
  const {name, runId} = run
  const {namespace} = run.options
  const failed = pods.filter((p) => p.phase === 'Failed')
  const tails = await Promise.all(
    failed.map(async (p) => {
      const log = await run.logs.read(p).catch((e: unknown) => `(log unreadable: ${(e as Error).message})`)
      const lines = log
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith(`{"kedaLabShardRecord"`))
      return `shard ${shardIndex(p)} (pod ${p.name}): ${lines.slice(-3).join(' | ') || '(empty log)'}`
    }),
  )
  return new KedaLabError(`Job ${namespace}/${name} failed${reason ? ` (${reason})` : ''}${tails.length > 0 ? `:\n  ${tails.join('\n  ')}` : ''}`, {
    hint: `the pods' logs: kubectl -n ${namespace} logs -l ${RUN_LABEL}=${runId}`,
  })
}

/** After the load: keep watching until the system is back at rest, as a local run does. */
async function watchAfterLoad(run: Run): Promise<void> {
  const {series, now, signal} = run
  series.emit(series.merger.take(series.lastSecond() + 1))
  const until = now() + run.prepared.watchAfterMs
  while (now() < until && !signal?.aborted && !series.facts.settled()) {
    await run.sleep(Math.min(1000, until - now()), signal)
    series.emit(series.merger.take(Math.floor(now() / 1000)))
  }
}

/** Runs the load as an Indexed Job in the cluster and returns the merged, judged summary and series. */
export async function runClusterLoadTest(options: ClusterRunOptions, deps: ClusterRunDeps): Promise<ClusterRunResult> {
  const prepared = checkClusterOptions(options)
  const {parallel, namespace} = options

  const sleep = deps.sleep ?? pause
  const now = deps.now ?? (() => Date.now())
  const {kube, info} = deps
  const lab = await findLab(kube, namespace)
  const targetUrl = options.target.url ?? lab.apiUrl
  const runId = deps.runId ?? randomBytes(4).toString('hex')
  const name = jobName(runId)
  const plan = executorPlan(prepared.load.executor)
  const activeDeadlineSeconds = Math.ceil((plan.durationMs + plan.gracefulStopMs) / 1000) + START_MARGIN_S
  const manifest = buildLoadtestJob({
    ...{name, namespace, image: lab.image, parallel, runId, args: shardArgs(options, targetUrl), activeDeadlineSeconds},
    // A stopped pod gets the time to finish what is in flight and print its summary.
    terminationGracePeriodSeconds: Math.ceil(prepared.stopGraceMs / 1000) + 15,
  })
  const startedAt = new Date(now())
  const from = `the load sent from ${parallel} pod${parallel === 1 ? '' : 's'} of Job ${namespace}/${name}`
  const target: LoadSummary['target'] = options.target.url
    ? {url: targetUrl, source: 'flag', reason: `given with --target; ${from}`}
    : {url: targetUrl, source: 'cluster-service', reason: `the API's Service inside the cluster; ${from}`}

  // The merged series, and the scaling sampled beside it.
  const series = createSeries(new SeriesMerger({executor: prepared.load.executor}), now, deps.onRecord)
  info(`Target: ${targetUrl} (from inside the cluster: ${parallel} pod${parallel === 1 ? '' : 's'} of Job ${namespace}/${name}, image ${lab.image})`)
  const watch = await deps.openWatch?.(lab.apiUrl)
  const sampler = startSampler(watch, series.merger, now, sleep)
  const logs = new ShardLogs(kube, namespace, series.merger)
  const run: Run = {kube, info, signal: deps.signal, now, sleep, options, prepared, name, runId, target, startedAt, series, sampler, logs}

  try {
    await kube.createJob(namespace, manifest)
    const ended = await followJob(run, activeDeadlineSeconds, deps.pollMs ?? 1000)
    if (!ended) return await stopRun(run)

    const pods = await kube.listPods(namespace, `${RUN_LABEL}=${runId}`)
    if (ended.finished === 'Failed') throw await jobFailedError(run, pods, ended.reason)
    const done = pods.filter((p) => p.phase === 'Succeeded')
    await logs.readLogs(done)
    // A pod that completed without a summary in its log is an error that names it.
    const shards = await Promise.all(done.map(async (p) => logs.summaryOf(p.name) ?? parseShardLog(await logs.read(p), p.name)))
    checkShards(shards, parallel)

    if (watch && prepared.watchAfterMs > 0 && !deps.signal?.aborted) await watchAfterLoad(run)
    return await finishRun(run, shards, deps.signal?.aborted === true)
  } finally {
    logs.close()
    await sampler.stop()
    await watch?.close()
  }
}
