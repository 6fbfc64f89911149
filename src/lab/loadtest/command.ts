/**
 * What `keda-lab loadtest` does, with its I/O edges passed in (the command only turns flags into
 * `LoadTestInput`, makes one call to `loadtestCommand` and renders what it returns): list the
 * profiles, export one as a k6 script, or run the load — resolve the profile, thresholds, shard and
 * target (every mistake fails here, before any request), say which target and why, run the engine
 * locally or as a Job in the cluster with the record stream going to the view, the report and the
 * scaling facts, handle Ctrl-C, and return the summary (its `exitCode`: 0, 99 when a threshold
 * failed, 130 interrupted).
 */
import type {Kube} from '../../adapters/kube/index.js'
import {KedaLabError} from '../../errors.js'
import {formatDuration} from './durations.js'
import {describeExecutor, executorPlan, shardExecutor} from './executors.js'
import {createFactsCollector} from './facts.js'
import {createHttpClient} from './http.js'
import {type LoadTestCommandOptions, prepareLoadTest} from './prepare.js'
import type {LoadSummary, ScalingSample, SecondRecord} from './records.js'
import {runLoadTest} from './run.js'
import {formatShardRecord} from './shard-log.js'
import {describeTarget, type ResolvedTarget, type TargetDeps, type TargetOptions} from './target.js'

/** What the run needs from the outside. */
export interface LoadTestCommandDeps {
  resolveTarget(options: TargetOptions): Promise<ResolvedTarget>
  /** The scaling sampler for a target (undefined: nothing to watch). */
  createSampler?(target: ResolvedTarget): (() => Promise<ScalingSample | undefined>) | undefined
  /** Lines for people (stderr under --json): the target, the plan, Ctrl-C notices. */
  info(line: string): void
  /** Each record (the live view, the progress lines, the report's time series). */
  onRecord?(record: SecondRecord): void
  /** Aborted on the first Ctrl-C. */
  signal?: AbortSignal
  readFile?(path: string): string
}

/** A line saying what will run: the executor, VUs and duration, known before it starts. */
function describePlan(prepared: ReturnType<typeof prepareLoadTest>): string {
  const executor = prepared.shard ? shardExecutor(prepared.load.executor, prepared.shard) : prepared.load.executor
  const plan = executorPlan(executor)
  const size = plan.iterations !== undefined ? `${plan.iterations} iterations, at most ${formatDuration(plan.durationMs)}` : formatDuration(plan.durationMs)
  const shard = prepared.shard ? ` (shard ${prepared.shard.index}/${prepared.shard.count})` : ''
  const task = prepared.taskIterations !== undefined ? `; tasks of ${prepared.taskIterations} iterations (POST /api/tasks)` : ''
  return `Profile ${prepared.load.name}${shard}: ${describeExecutor(executor)} — up to ${plan.maxVUs} VUs, ${size}${task}`
}

/** Runs the load test command; the summary's exitCode is the process's. */
export async function runLoadTestCommand(options: LoadTestCommandOptions, deps: LoadTestCommandDeps): Promise<LoadSummary> {
  const prepared = prepareLoadTest(options, deps.readFile)
  const resolved = await deps.resolveTarget(options.target)
  try {
    deps.info(describeTarget(resolved.target))
    await preflight(resolved.target.url)
    deps.info(describePlan(prepared))
    // The record stream feeds the scaling facts and the "settled yet?" question after the load.
    const facts = createFactsCollector()
    const sample = deps.createSampler?.(resolved)
    return await runLoadTest(
      {
        profile: prepared.load.name,
        executor: prepared.load.executor,
        target: resolved.target,
        shard: prepared.shard,
        taskIterations: prepared.taskIterations,
        thresholds: prepared.thresholds,
        abortOnFail: options.abortOnFail,
        timeScale: options.timeScale,
        watchAfterMs: sample ? prepared.watchAfterMs : 0,
        stopGraceMs: prepared.stopGraceMs,
        version: options.version,
      },
      {
        sample,
        signal: deps.signal,
        onRecord(record) {
          facts.onRecord(record)
          deps.onRecord?.(record)
        },
        scalingFacts: () => facts.facts(),
        settled: () => facts.settled(),
      },
    )
  } finally {
    await resolved.close()
  }
}

/**
 * Any HTTP answer will do; no answer at all is a clear error before the load starts. Sent by the
 * engine's own client (fetch refuses some ports outright, the engine would not).
 */
async function preflight(url: string): Promise<void> {
  const http = createHttpClient({url, connections: 1, timeoutMs: 5000})
  try {
    await http.request({method: 'GET', path: '/readyz'}, AbortSignal.timeout(5000))
  } catch (error) {
    const e = error as {code?: string; message?: string; cause?: {code?: string}}
    throw new KedaLabError(`cannot reach the API at ${url} (${e.code ?? e.cause?.code ?? e.message})`, {
      hint: 'check that it runs (`keda-lab status --local` for keda-lab dev, `keda-lab status` for a cluster), or pass the right --target URL',
      exitCode: 4,
    })
  } finally {
    await http.close()
  }
}

/** The real edges of target discovery: dev state files, the cluster through the Kube adapter, a reachability probe. */
async function targetDeps(): Promise<TargetDeps> {
  const [{findDevStates}, {createKube}] = await Promise.all([import('../../status/dev-state.js'), import('../../adapters/kube/index.js')])
  return {
    findDevStates: () => findDevStates(),
    createKube: (o) => createKube({...o, requestTimeoutMs: 10_000}),
    reachable: (url) =>
      fetch(`${url}/readyz`, {signal: AbortSignal.timeout(2000)}).then(
        () => true,
        () => false,
      ),
  }
}

/**
 * The real edges of a local run: target discovery (dev state files, the cluster through the Kube
 * adapter) and the scaling watcher for the chosen target.
 */
export async function localRunDeps(): Promise<Pick<LoadTestCommandDeps, 'resolveTarget' | 'createSampler'>> {
  const [{resolveTarget}, {createScalingWatcher}, deps] = await Promise.all([import('./target.js'), import('./watcher.js'), targetDeps()])
  return {
    resolveTarget: (target) => resolveTarget(target, deps),
    createSampler(resolved) {
      const source = resolved.dev
        ? ({kind: 'dev', pid: resolved.dev.pid} as const)
        : resolved.kube && resolved.namespace
          ? ({kind: 'cluster', kube: resolved.kube, namespace: resolved.namespace} as const)
          : ({kind: 'queue-only'} as const)
      const watcher = createScalingWatcher({apiUrl: resolved.target.url, source})
      return () => watcher.sample()
    },
  }
}

/**
 * The scaling watch of a cluster run, from this machine: the lab's namespace through the Kube
 * adapter, and the queue from the API — at --target, else as this machine reaches the installed
 * lab (its LoadBalancer address, or a port-forward for the run; never a keda-lab dev: the load goes
 * to the cluster's API). When the API cannot be reached from here, the cluster is still watched.
 */
async function openClusterWatch(input: LoadTestInput, kube: Kube, inCluster: string, note: (line: string) => void) {
  const [{resolveTarget}, {createScalingWatcher}, deps] = await Promise.all([import('./target.js'), import('./watcher.js'), targetDeps()])
  const namespace = input.target.namespace
  const api = input.target.url
    ? undefined
    : await resolveTarget({...input.target, url: undefined}, {...deps, findDevStates: () => [], createKube: async () => kube}).catch((error: unknown) => {
        note(`Scaling: the API's queue cannot be read from here (${(error as Error).message}); the workers are still watched.`)
        return undefined
      })
  const apiUrl = input.target.url ?? api?.target.url ?? inCluster
  note(`Scaling: watched in namespace ${namespace}, the queue read from ${apiUrl}${api ? ` (${api.target.reason})` : ''}`)
  const watcher = createScalingWatcher({apiUrl, source: {kind: 'cluster', kube, namespace}})
  return {sample: () => watcher.sample(), close: async () => api?.close()}
}

/** Everything `keda-lab loadtest` was asked, from its flags. */
export interface LoadTestInput extends LoadTestCommandOptions {
  /** `--list`: print the profiles and exit. */
  list?: boolean
  /** `--export k6 FILE`: write the profile as a k6 script instead of running it. */
  export?: 'k6'
  exportFile?: string
  /** `--runner`: from this process, or as an Indexed Job of `parallel` pods in the cluster. */
  runner: 'local' | 'cluster'
  parallel: number
  /** `--out DIR`: summary.json, the time series and report.html. */
  out?: string
}

/** The live view of a run (src/ui/loadtest-view.ts), or what stands in for it under --json. */
export interface RunView {
  update(record: SecondRecord): void
  /** A line for people: the target, the plan, Ctrl-C notices (stderr under --json). */
  note(line: string): void
  stop(): void
}

/** The command's I/O edges. */
export interface LoadTestIo {
  /** The view for the run, once its profile and planned length are known. */
  createView(plan: {profile: string; plannedS?: number}): RunView
  /** Calls `handler` on each Ctrl-C (SIGINT, SIGTERM) until the returned function is called. */
  onInterrupt(handler: () => void): () => void
  /** The second Ctrl-C: leaves at once with this exit code. */
  exit(code: number): void
  writeFile(path: string, text: string): void
  /** Standard error (a shard's per-second records). */
  stderr(text: string): void
}

/** What the command renders. */
export type LoadTestOutcome =
  | {kind: 'list'; lines: string[]}
  | {kind: 'export'; file: string; profile: string}
  | {kind: 'run'; summary: LoadSummary; scalingLines: string[]}

/** `keda-lab loadtest`: one call from the command. */
export async function loadtestCommand(input: LoadTestInput, io: LoadTestIo): Promise<LoadTestOutcome> {
  if (input.list) {
    const {listProfiles} = await import('./profiles.js')
    return {kind: 'list', lines: listProfiles()}
  }
  if (input.export || input.exportFile) {
    if (!input.export || !input.exportFile)
      throw new KedaLabError('--export k6 needs the script file after it', {hint: 'e.g. keda-lab loadtest --profile ramp --export k6 ramp.js', exitCode: 2})
    const {writeK6Export} = await import('./k6-export.js')
    return {kind: 'export', ...writeK6Export(input, input.exportFile, {writeFile: io.writeFile})}
  }
  const prepared = prepareLoadTest(input) // every flag checked before anything is opened
  const [{createReportWriter}, {describeScalingFacts}] = await Promise.all([import('./report.js'), import('./facts.js')])
  const report = input.out ? createReportWriter(input.out) : undefined
  const view = io.createView({profile: prepared.load.name, plannedS: prepared.plannedS})
  const stop = new AbortController()
  const unsubscribe = io.onInterrupt(() => {
    if (stop.signal.aborted) {
      io.exit(130) // the second Ctrl-C: at once
      return
    }
    stop.abort()
    view.note(
      input.runner === 'cluster'
        ? 'Ctrl-C: stopping the cluster run (Ctrl-C again to quit at once, without the summary).'
        : `Stopping: no new iterations; those in flight get ${input.stopGrace ?? '3s'}, then the summary of what ran (Ctrl-C again to quit at once).`,
    )
  })
  const onRecord = (record: SecondRecord) => {
    report?.record(record)
    view.update(record)
  }
  let summary: LoadSummary
  // A shard prints each second as it ends, for the coordinator that reads its pod's log (shard-log.ts).
  const shardRecord = input.shard !== undefined ? (record: SecondRecord) => io.stderr(`${formatShardRecord(record)}\n`) : undefined
  try {
    if (input.runner === 'cluster') {
      const [{runClusterLoadTest, checkClusterOptions}, {createKube}] = await Promise.all([
        import('./cluster-runner.js'),
        import('../../adapters/kube/index.js'),
      ])
      checkClusterOptions({...input, namespace: input.target.namespace}) // before the cluster is asked anything
      const kube = await createKube({context: input.target.context})
      const result = await runClusterLoadTest(
        {...input, namespace: input.target.namespace},
        {kube, info: view.note, signal: stop.signal, onRecord, openWatch: (inCluster) => openClusterWatch(input, kube, inCluster, view.note)},
      ).finally(() => view.stop())
      summary = result.summary
    } else {
      const record = (r: SecondRecord) => {
        shardRecord?.(r)
        onRecord(r)
      }
      summary = await runLoadTestCommand(input, {...(await localRunDeps()), info: view.note, signal: stop.signal, onRecord: record}).finally(() => view.stop())
    }
  } finally {
    unsubscribe()
  }
  if (report) view.note(`Report: ${report.finish(summary).html}`)
  return {kind: 'run', summary, scalingLines: describeScalingFacts(summary.scaling)}
}
