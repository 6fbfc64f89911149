/**
 * `keda-lab loadtest --runner cluster --parallel 3` on the real control plane: the Indexed Job is
 * created as specified and its pods are admitted in a namespace that ENFORCES Pod Security
 * `restricted`; the shards' per-second records and summaries reach keda-lab through the real
 * pod-logs API while they run, and the merged summary, time series and report agree with the
 * shards, with the scaling keda-lab watched in the namespace. Ctrl-C deletes the Job with its pods
 * (foreground) and merges the summaries the stopping shards print.
 *
 * kwok pods run no containers, so this file plays the kubelet's part, as faithfully as it can:
 * - each pod's command is the one the created pod carries (its args with `$(VAR)` expanded from
 *   its env, the completion index resolved from the pod's own annotation, as the kubelet does),
 *   run here against a real `keda-lab dev` (real Redis, API, workers) at the `--target` given;
 * - what the process prints (stdout and stderr, as a container runtime keeps them) is appended to
 *   a file as it comes, which this control plane's kwok serves as the container's log (a kwok
 *   `Logs` object: kwok started with `--enable-crds Logs`), so keda-lab reads it through the API
 *   server's `pods/log` while the pod runs, exactly as on a real cluster;
 * - a pod completes only when its process has exited: this control plane's kwok replaces its
 *   `pod-complete` stage with one that waits for the exit code, put by this file on the pod;
 * - a pod whose process was started and that is deleted stays (terminating) until its process has
 *   exited, as the kubelet keeps it while the container stops: kwok's `pod-delete` stage is held
 *   the same way for pods this file marked as running. The test sends the process SIGTERM when the
 *   pod is deleted, as the kubelet does.
 * That needs a kwok configured for it, hence a dedicated control plane (~15 s to start).
 */
import {appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseAllDocuments} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {COMPLETION_INDEX_LABEL, RUN_LABEL} from '../../src/lab/loadtest/cluster-job.js'
import {mergeSummaries} from '../../src/lab/loadtest/merge.js'
import type {LoadSummary, SecondRecord} from '../../src/lab/loadtest/records.js'
import {parseShardLog, parseShardRecord} from '../../src/lab/loadtest/shard-log.js'
import {cleanupDev, type DevRun, startDev} from '../e2e/dev-harness.js'
import {goModuleDir} from '../helpers/chart-repo.js'
import {cliEntry, repoRoot} from '../helpers/cli.js'
import {spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {adminRequest, VERSIONS} from './control-plane.js'
import {applyCrds, type CrdObject} from './crds.js'
import {CLUSTER_START_TIMEOUT_MS, useCluster} from './harness.js'
import {getJson} from './kube-test-helpers.js'

const EXIT_ANNOTATION = 'keda-lab.test/exit-code'

/** kwok's pod-complete for Job pods, held until the pod's process has exited (its exit code annotated). */
const HELD_POD_COMPLETE = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-complete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.metadata.ownerReferences.[].kind'
      operator: 'In'
      values:
      - 'Job'
    - key: '.metadata.annotations["${EXIT_ANNOTATION}"]'
      operator: 'Exists'
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $code := index .metadata.annotations "${EXIT_ANNOTATION}" }}
      containerStatuses:
      {{ range $index, $item := .spec.containers }}
      - image: {{ $item.image | Quote }}
        name: {{ $item.name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: {{ $code }}
            finishedAt: {{ $now | Quote }}
            reason: {{ if eq $code "0" }}Completed{{ else }}Error{{ end }}
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: {{ if eq $code "0" }}Succeeded{{ else }}Failed{{ end }}
`

const RUNNING_ANNOTATION = 'keda-lab.test/running'
/** A finalizer nobody removes but the test: holds a pod in Terminating (no Stage deletes a pod that has one). */
const HOLD_FINALIZER = 'keda-lab.test/hold'

/** kwok's pod-delete, for pods whose process this file did not start (none runs: deleted at once). */
const POD_DELETE = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
    - key: '.metadata.finalizers'
      operator: 'DoesNotExist'
    - key: '.metadata.annotations["${RUNNING_ANNOTATION}"]'
      operator: 'DoesNotExist'
  next:
    delete: true
`

/** kwok's pod-delete for pods whose process runs here: held until it has exited. */
const POD_DELETE_AFTER_EXIT = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete-after-exit
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
    - key: '.metadata.finalizers'
      operator: 'DoesNotExist'
    - key: '.metadata.annotations["${RUNNING_ANNOTATION}"]'
      operator: 'Exists'
    - key: '.metadata.annotations["${EXIT_ANNOTATION}"]'
      operator: 'Exists'
  next:
    delete: true
`

const ctx = useCluster(import.meta.filename, {
  dedicated: true,
  kwok: {args: ['--enable-crds', 'Logs'], config: [HELD_POD_COMPLETE, POD_DELETE, POD_DELETE_AFTER_EXIT]},
})
const dir = mkdtempSync(join(tmpdir(), 'keda-lab-loadtest-cluster-'))
const stateDir = mkdtempSync(join(tmpdir(), 'keda-lab-loadtest-cluster-state-'))
let dev: DevRun | undefined
let api = ''

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are read field by field
type Obj = any

async function create(path: string, body: unknown): Promise<void> {
  const res = await adminRequest(ctx.kubeconfig, 'POST', path, body)
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${res.body.slice(0, 400)}`)
}

beforeAll(async () => {
  // kwok's Logs CRD, from the kwok module the control plane was built from.
  const crdFile = join(await goModuleDir('sigs.k8s.io/kwok', VERSIONS.kwok), 'kustomize', 'crd', 'bases', 'kwok.x-k8s.io_logs.yaml')
  const crds = parseAllDocuments(readFileSync(crdFile, 'utf8')).map((d) => d.toJS() as CrdObject)
  await applyCrds(ctx.kubeconfig, crds)

  // Pod Security `restricted`, enforced.
  const ns = `/api/v1/namespaces/${ctx.namespace}`
  const labels = {'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest'}
  const patched = await adminRequest(ctx.kubeconfig, 'PATCH', ns, {metadata: {labels}}, 'application/merge-patch+json')
  expect(patched.status).toBe(200)

  // What `keda-lab install` leaves that --runner cluster reads: the API Deployment (its image) and
  // Service (its port). No replicas: the load goes to the real keda-lab dev below.
  await create(`/apis/apps/v1/namespaces/${ctx.namespace}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: 'keda-lab-api'},
    spec: {
      replicas: 0,
      selector: {matchLabels: {app: 'keda-lab-api'}},
      template: {metadata: {labels: {app: 'keda-lab-api'}}, spec: {containers: [{name: 'api', image: 'ghcr.io/example/keda-lab:cluster-test'}]}},
    },
  })
  await create(`/api/v1/namespaces/${ctx.namespace}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {name: 'keda-lab-api'},
    spec: {selector: {app: 'keda-lab-api'}, ports: [{name: 'http', port: 80, targetPort: 8000}]},
  })

  // The worker Deployment the scaling watch reads (kwok runs its pods: they are Ready, never work).
  await create(`/apis/apps/v1/namespaces/${ctx.namespace}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: 'keda-lab-worker'},
    spec: {
      replicas: 2,
      selector: {matchLabels: {app: 'keda-lab-worker'}},
      template: {
        metadata: {labels: {app: 'keda-lab-worker'}},
        spec: {
          // The namespace enforces `restricted`.
          securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: 'RuntimeDefault'}},
          containers: [
            {
              name: 'worker',
              image: 'ghcr.io/example/keda-lab:cluster-test',
              securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}},
            },
          ],
        },
      },
    },
  })
  await waitFor(
    async () => {
      const d = await getJson<Obj>(ctx.kubeconfig, `/apis/apps/v1/namespaces/${ctx.namespace}/deployments/keda-lab-worker`)
      return d?.status?.readyReplicas === 2 || undefined
    },
    {timeoutMs: 60_000, intervalMs: 250, what: 'the worker Deployment with 2 ready replicas'},
  )

  dev = startDev(['--api-port', '0', '--workers', '2', '--task-iterations', '200000', '--log-level', 'warn'], {KEDA_LAB_STATE_DIR: stateDir})
  api = (await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+API\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000))[1] as string
}, CLUSTER_START_TIMEOUT_MS + 120_000)

afterAll(async () => {
  await cleanupDev(dev)
  rmSync(dir, {recursive: true, force: true})
  rmSync(stateDir, {recursive: true, force: true})
})

/** A container's environment as the kubelet gives it: values, and fieldRefs resolved against the pod. */
function containerEnv(pod: Obj, container: Obj): Record<string, string> {
  const env: Record<string, string> = {}
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value
    const path: string | undefined = e.valueFrom?.fieldRef?.fieldPath
    const annotation = path && /^metadata\.annotations\['(.+)'\]$/.exec(path)
    if (annotation) env[e.name] = pod.metadata.annotations?.[annotation[1] as string] ?? ''
    else if (path === 'metadata.name') env[e.name] = pod.metadata.name
    else if (path) throw new Error(`fieldRef ${path} is not resolved by this test`)
  }
  return env
}

/** A pod's process, run here as its container. */
interface Container {
  child: ReturnType<typeof spawnTracked>
  /** Resolves when the process has exited and its exit code is on the pod (kwok may complete or delete it). */
  exited: Promise<{exitCode: number | null; signal: NodeJS.Signals | null; text: string}>
  /** The output so far, as `kubectl logs` shows it. */
  text(): string
}

/**
 * Runs a pod's container command here, as the kubelet would: its args with `$(VAR)` expanded from
 * its env. Its output is kept as a container runtime keeps it, one CRI log line per line,
 * `<RFC 3339 time> <stdout|stderr> F <line>`, appended to the file kwok serves as the pod's log
 * from the start (a `Logs` object), so keda-lab can read it while the process runs. The pod is
 * marked as running (its deletion is held until the process exits); when the process exits, its
 * exit code goes on the pod.
 */
async function startContainer(pod: Obj): Promise<Container> {
  const container = pod.spec.containers[0]
  const env = containerEnv(pod, container)
  expect(env.JOB_COMPLETION_INDEX).toBe(pod.metadata.labels[COMPLETION_INDEX_LABEL])
  const argv: string[] = container.args.map((a: string) => expand(a, env))
  const name: string = pod.metadata.name
  const logFile = join(dir, `${name}.log`)
  writeFileSync(logFile, '')
  await create(`/apis/kwok.x-k8s.io/v1alpha1/namespaces/${ctx.namespace}/logs`, {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Logs',
    metadata: {name},
    spec: {logs: [{containers: [container.name], logsFile: logFile}]},
  })
  const annotate = async (annotations: Record<string, string>) => {
    const res = await adminRequest(
      ctx.kubeconfig,
      'PATCH',
      `/api/v1/namespaces/${ctx.namespace}/pods/${name}`,
      {metadata: {annotations}},
      'application/merge-patch+json',
    )
    expect(res.status, res.body).toBe(200)
  }
  await annotate({[RUNNING_ANNOTATION]: 'true'})
  const child = spawnTracked(process.execPath, [cliEntry(), ...argv], {
    cwd: repoRoot,
    env: {...process.env, ...env, KEDA_LAB_STATE_DIR: stateDir},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  const collect = (stream: 'stdout' | 'stderr') => {
    let rest = ''
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n')
      rest = parts.pop() ?? ''
      for (const line of parts) {
        appendFileSync(logFile, `${new Date().toISOString()} ${stream} F ${line}\n`)
        text += `${line}\n`
      }
    }
  }
  child.stdout?.on('data', collect('stdout'))
  child.stderr?.on('data', collect('stderr'))
  const exited = new Promise<{exitCode: number | null; signal: NodeJS.Signals | null}>((resolve) =>
    child.on('close', (exitCode, signal) => resolve({exitCode, signal})),
  ).then(async ({exitCode, signal}) => {
    // The process has exited: kwok may now complete (or, when deleted, remove) the pod.
    await annotate({[EXIT_ANNOTATION]: String(exitCode ?? 137)})
    return {exitCode, signal, text}
  })
  return {child, exited, text: () => text}
}

/** The records a shard printed (its per-second lines). */
const printedRecords = (text: string) => text.split('\n').flatMap((l) => parseShardRecord(l) ?? [])

/** The load-test pods of a run, once `count` of them run. */
async function runningPods(runId: string, count: number, cliExited: () => string | undefined): Promise<Obj[]> {
  return waitFor(
    async () => {
      const early = cliExited()
      if (early) throw new Error(early)
      const list = await getJson<{items: Obj[]}>(
        ctx.kubeconfig,
        `/api/v1/namespaces/${ctx.namespace}/pods?labelSelector=${encodeURIComponent(`${RUN_LABEL}=${runId}`)}`,
      )
      const running = (list?.items ?? []).filter((p) => p.status?.phase === 'Running')
      return running.length === count ? running : undefined
    },
    {timeoutMs: 90_000, intervalMs: 250, what: `${count} running load-test pods (a FailedCreate event would mean Pod Security refused them)`},
  )
}

/** The load-test Job keda-lab created for its run (the newest). */
async function newJob(seen: ReadonlySet<string>, cliExited: () => string | undefined): Promise<Obj> {
  return waitFor(
    async () => {
      const early = cliExited()
      if (early) throw new Error(early)
      const jobs = await getJson<{items: Obj[]}>(ctx.kubeconfig, `/apis/batch/v1/namespaces/${ctx.namespace}/jobs`)
      return jobs?.items.find((j) => !seen.has(j.metadata.name))
    },
    {timeoutMs: 60_000, intervalMs: 250, what: 'the load-test Job'},
  )
}

/** keda-lab's CLI, its output collected. */
function startCli(args: string[]) {
  const cli = spawnTracked(process.execPath, [cliEntry(), ...args], {
    cwd: repoRoot,
    env: {...process.env, KUBECONFIG: ctx.kubeconfig, NO_COLOR: '1', KEDA_LAB_STATE_DIR: stateDir},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out = {stdout: '', stderr: ''}
  cli.stdout?.on('data', (d: Buffer) => (out.stdout += d))
  cli.stderr?.on('data', (d: Buffer) => (out.stderr += d))
  const exited = new Promise<number | null>((resolve) => cli.on('close', (code) => resolve(code)))
  const early = () => (cli.exitCode !== null ? `keda-lab exited early (${cli.exitCode}): ${out.stderr.slice(-1500)}` : undefined)
  const within = (ms: number) => Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))])
  return {cli, out, exited, early, within}
}

/** The names of the Jobs in the namespace now (a run's Job is the one not among them). */
async function existingJobs(): Promise<Set<string>> {
  const jobs = await getJson<{items: Obj[]}>(ctx.kubeconfig, `/apis/batch/v1/namespaces/${ctx.namespace}/jobs`)
  return new Set((jobs?.items ?? []).map((j) => j.metadata.name as string))
}

/** `$(VAR)` in args, expanded from the container's env as the kubelet does (`$$` escapes). */
const expand = (arg: string, env: Record<string, string>) =>
  arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) => (m === '$$' ? '$' : (env[name] ?? m)))

describe('keda-lab loadtest --runner cluster', () => {
  it('runs the shards as an Indexed Job admitted under restricted, and merges what their logs say', async () => {
    const out = join(dir, 'report')
    const args = ['loadtest', '--json', '--runner', 'cluster', '--parallel', '3', '--namespace', ctx.namespace]
    args.push('--profile', 'shared-20', '--time-scale', '0.05', '--target', api, '--threshold', 'checks>99%', '--threshold', 'add.p99<1m', '--out', out)
    args.push('--watch-after', '30s')
    const started = Date.now()
    const before = await existingJobs()
    const {cli, out: output, early, within} = startCli(args)
    try {
      // The Job, as keda-lab created it.
      const job = await newJob(before, early)
      expect(job.spec).toMatchObject({completionMode: 'Indexed', completions: 3, parallelism: 3, backoffLimit: 0, ttlSecondsAfterFinished: 600})
      const runId = job.metadata.labels[RUN_LABEL]
      const template = job.spec.template.spec
      expect(template.containers[0].image).toBe('ghcr.io/example/keda-lab:cluster-test')
      expect(template.containers[0].resources.limits).toEqual({cpu: '1', memory: '512Mi'})
      // --stop-grace (3 s) plus the time to print the summary, for a pod stopped by Ctrl-C.
      expect(template.terminationGracePeriodSeconds).toBe(18)

      // The pods the Job controller created: admitted in a namespace enforcing `restricted`.
      const pods = await runningPods(runId, 3, early)
      // The check can fail: the same pod without its security context is refused by the same admission.
      const probe = {apiVersion: 'v1', kind: 'Pod', metadata: {name: 'restricted-probe'}, spec: template}
      const admitted = await adminRequest(ctx.kubeconfig, 'POST', `/api/v1/namespaces/${ctx.namespace}/pods?dryRun=All`, probe)
      expect(admitted.status, admitted.body).toBe(201)
      const loose = structuredClone(probe)
      delete loose.spec.securityContext
      delete loose.spec.containers[0].securityContext
      const refused = await adminRequest(ctx.kubeconfig, 'POST', `/api/v1/namespaces/${ctx.namespace}/pods?dryRun=All`, loose)
      expect(refused.status).toBe(403)
      expect((JSON.parse(refused.body) as {message: string}).message).toContain('violates PodSecurity "restricted:latest"')

      // Each pod's process, run here as its container would run it, its output its log as it comes.
      const containers = await Promise.all(pods.map((pod) => startContainer(pod)))
      for (const c of containers)
        expect(c.child.spawnargs.slice(2, 7)).toEqual(['loadtest', '--runner', 'local', '--shard', expect.stringMatching(/^[0-2]\/3$/)])
      const runs = await Promise.all(containers.map((c) => c.exited))
      for (const run of runs) expect(run.exitCode, run.text.slice(-1500)).toBe(0)
      const shardOutputs = runs.map((run, i) => ({summary: parseShardLog(run.text, pods[i].metadata.name), records: printedRecords(run.text)}))

      const code = await within(120_000)
      expect(code, `stdout:\n${output.stdout.slice(-3000)}\nstderr:\n${output.stderr.slice(-3000)}`).toBe(0)
      console.log(`loadtest-cluster: keda-lab --runner cluster took ${((Date.now() - started) / 1000).toFixed(1)} s; its stderr:\n${output.stderr}`)
      const merged = JSON.parse(output.stdout) as LoadSummary
      const shards = shardOutputs.map((s) => s.summary)

      // Every shard ran its slice: 20 iterations in all, each shard's own figure, nothing twice.
      expect(shards.map((s) => s.shard?.index).sort()).toEqual([0, 1, 2])
      expect(shards.map((s) => s.iterations.completed).reduce((a, b) => a + b)).toBe(20)
      expect(merged.iterations.completed).toBe(20)
      expect(merged.tasks.completed).toBe(20)
      expect(merged.requests.add).toBe(20)
      expect(merged.requests.status).toBe(shards.reduce((a, s) => a + s.requests.status, 0))
      for (const [name, c] of Object.entries(merged.checks)) {
        expect(c.fails, name).toBe(0)
        expect(c.passes, name).toBe(shards.reduce((a, s) => a + (s.checks[name]?.passes ?? 0), 0))
      }
      // Latencies from the added histograms: count, and the ends are the shards' own.
      expect(merged.latency.add?.count).toBe(20)
      expect(merged.latency.add?.max).toBe(Math.max(...shards.map((s) => s.latency.add?.max ?? 0)))
      expect(merged.latency.add?.min).toBe(Math.min(...shards.map((s) => s.latency.add?.min ?? Number.POSITIVE_INFINITY)))
      expect(merged.latency.status?.count).toBe(merged.requests.status)
      // keda-lab read the same summaries through the logs API as the processes printed: the same merge.
      const again = mergeSummaries(shards, {executor: merged.executor, scaling: merged.scaling})
      expect({...merged, thresholds: [], exitCode: 0}).toEqual({...again, target: merged.target, shards: {count: 3, reported: 3}})
      expect(merged.target).toMatchObject({url: api, source: 'flag'})
      expect(merged.executor).toMatchObject({type: 'shared-iterations', vus: 20, iterations: 20})
      expect(merged.shard).toBeUndefined()
      expect(merged.thresholds.map((t) => [t.expression, t.ok])).toEqual([
        ['checks>99%', true],
        ['add.p99<1m', true],
      ])

      // The time series: the shards' seconds merged by wall-clock second, every request in one
      // second, each second with what keda-lab's watcher saw in the namespace and the API's queue.
      const written = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as LoadSummary
      expect(written.iterations.completed).toBe(20)
      const series = readFileSync(join(out, 'timeseries.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as SecondRecord)
      const printed = shardOutputs.flatMap((s) => s.records)
      const total = (rs: readonly SecondRecord[], f: (r: SecondRecord) => number) => rs.reduce((a, r) => a + f(r), 0)
      expect(printed.length).toBeGreaterThanOrEqual(3)
      expect(series.map((r) => r.t)).toEqual(series.map((_, i) => i))
      expect(total(series, (r) => r.requests.add)).toBe(20)
      expect(total(series, (r) => r.requests.status)).toBe(merged.requests.status)
      expect(total(series, (r) => r.tasksCompleted)).toBe(20)
      expect(total(series, (r) => r.checks.passed)).toBe(total(printed, (r) => r.checks.passed))
      // A second's latency is exact or absent: merged from the shards' per-second histograms when
      // they send them, else only where one shard alone sent requests.
      for (const r of series) if (r.latency.add) expect(r.latency.add.count, `second ${r.t}`).toBe(r.requests.add)
      if (printed.every((r) => r.histograms !== undefined)) expect(total(series, (r) => r.latency.add?.count ?? 0)).toBe(20)
      const sampled = series.filter((r) => r.scaling !== undefined)
      expect(sampled.length).toBeGreaterThan(0)
      for (const r of sampled) expect(r.scaling).toMatchObject({source: 'cluster', workers: 2, queueWaiting: expect.any(Number)})
      expect(merged.scaling).toMatchObject({source: 'cluster', workersMax: 2, workersAtStart: 2, backlogPeak: expect.any(Number)})
      expect(readFileSync(join(out, 'timeseries.csv'), 'utf8').trim().split('\n')).toHaveLength(series.length + 1)
      const html = readFileSync(join(out, 'report.html'), 'utf8')
      for (const id of ['chart-requests', 'chart-latency', 'chart-queue']) expect(html).toContain(`id="${id}"`)
    } finally {
      await stopProcess(cli)
    }
  }, 360_000)

  it('reports a shard that failed with its log, and no merged summary', async () => {
    const args = [
      'loadtest',
      '--runner',
      'cluster',
      '--parallel',
      '2',
      '--namespace',
      ctx.namespace,
      '--profile',
      'smoke',
      '--time-scale',
      '0.05',
      '--target',
      api,
    ]
    const cli = spawnTracked(process.execPath, [cliEntry(), ...args], {
      cwd: repoRoot,
      env: {...process.env, KUBECONFIG: ctx.kubeconfig, NO_COLOR: '1', KEDA_LAB_STATE_DIR: stateDir},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    cli.stdout?.on('data', (d: Buffer) => (stdout += d))
    cli.stderr?.on('data', (d: Buffer) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => cli.on('close', (code) => resolve(code)))
    try {
      const pods: Obj[] = await waitFor(
        async () => {
          if (cli.exitCode !== null) throw new Error(`keda-lab exited early (${cli.exitCode}): ${stderr.slice(-1500)}`)
          const list = await getJson<{items: Obj[]}>(
            ctx.kubeconfig,
            `/api/v1/namespaces/${ctx.namespace}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/component=loadtest')}`,
          )
          const running = (list?.items ?? []).filter((p) => p.status?.phase === 'Running')
          return running.length === 2 ? running : undefined
        },
        {timeoutMs: 90_000, intervalMs: 250, what: '2 running load-test pods'},
      )
      // Shard 0 dies at once, as a pod whose target refuses it would; shard 1 is never run: the Job
      // fails (backoffLimit 0) and the other pod is stopped by the Job controller.
      const [failing] = pods.filter((p) => p.metadata.labels[COMPLETION_INDEX_LABEL] === '0')
      const logFile = join(dir, 'failing.log')
      const now = new Date().toISOString()
      writeFileSync(logFile, `${now} stderr F Error: cannot reach the API at http://keda-lab-api:80 (ECONNREFUSED)\n${now} stderr F Fix: check that it runs\n`)
      await create(`/apis/kwok.x-k8s.io/v1alpha1/namespaces/${ctx.namespace}/logs`, {
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'Logs',
        metadata: {name: failing.metadata.name},
        spec: {logs: [{containers: ['loadtest'], logsFile: logFile}]},
      })
      const patch = await adminRequest(
        ctx.kubeconfig,
        'PATCH',
        `/api/v1/namespaces/${ctx.namespace}/pods/${failing.metadata.name}`,
        {metadata: {annotations: {[EXIT_ANNOTATION]: '4'}}},
        'application/merge-patch+json',
      )
      expect(patch.status).toBe(200)
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000))])
      expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(1)
      expect(stderr).toMatch(/^Error: Job .* failed \(BackoffLimitExceeded/m)
      expect(stderr).toContain(
        `shard 0 (pod ${failing.metadata.name}): Error: cannot reach the API at http://keda-lab-api:80 (ECONNREFUSED) | Fix: check that it runs`,
      )
      expect(stderr).toMatch(/^Fix: the pods' logs: kubectl -n \S+ logs -l keda-lab.io\/loadtest-run=/m)
      expect(stdout).not.toContain('Profile')
    } finally {
      await stopProcess(cli)
    }
  }, 240_000)

  it('Ctrl-C deletes the Job with its pods, merges the summaries the stopping shards print, and exits 130', async () => {
    const out = join(dir, 'stopped')
    const args = ['loadtest', '--json', '--runner', 'cluster', '--parallel', '2', '--namespace', ctx.namespace]
    args.push('--vus', '2', '--duration', '10m', '--time-scale', '0.1', '--stop-grace', '2s', '--target', api, '--out', out)
    const before = await existingJobs()
    const {cli, out: output, early, within} = startCli(args)
    const containers: Container[] = []
    try {
      const job = await newJob(before, early)
      const runId = job.metadata.labels[RUN_LABEL]
      const pods = await runningPods(runId, 2, early)
      containers.push(...(await Promise.all(pods.map((pod) => startContainer(pod)))))
      // Both shards are sending load and have printed some seconds.
      await waitFor(() => containers.every((c) => printedRecords(c.text()).length >= 2) || undefined, {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: 'two seconds printed by each shard',
      })
      cli.kill('SIGINT')
      // keda-lab deletes the Job, foreground: the Job waits for its pods, which are being deleted.
      let seen = ''
      const deleting = await waitFor(
        async () => {
          const j = await getJson<Obj>(ctx.kubeconfig, `/apis/batch/v1/namespaces/${ctx.namespace}/jobs/${job.metadata.name}`)
          const ps = await getJson<{items: Obj[]}>(
            ctx.kubeconfig,
            `/api/v1/namespaces/${ctx.namespace}/pods?labelSelector=${encodeURIComponent(`${RUN_LABEL}=${runId}`)}`,
          )
          seen = JSON.stringify({job: j?.metadata, pods: (ps?.items ?? []).map((p) => ({...p.metadata, managedFields: undefined, phase: p.status?.phase}))})
          const terminating = (ps?.items ?? []).filter((p) => p.metadata.deletionTimestamp)
          return j?.metadata.deletionTimestamp && terminating.length === 2 ? j : undefined
        },
        {timeoutMs: 60_000, intervalMs: 250, what: 'the Job and both pods being deleted'},
      ).catch((error: Error) => {
        throw new Error(`${error.message}; last seen: ${seen}; keda-lab's stderr:\n${output.stderr}`)
      })
      expect(deleting.metadata.finalizers).toContain('foregroundDeletion')
      // The kubelet's part: shard 0 gets SIGTERM, stops and prints its summary; shard 1 is killed
      // before it can (a pod the kubelet had to kill), so one shard of two reports.
      const byIndex = (i: number) => containers.find((c) => c.child.spawnargs.includes(`${i}/2`)) as Container
      byIndex(0).child.kill('SIGTERM')
      byIndex(1).child.kill('SIGKILL')
      const [stopped, killed] = await Promise.all([byIndex(0).exited, byIndex(1).exited])
      expect(stopped.exitCode, stopped.text.slice(-1500)).toBe(130)
      expect(killed.signal).toBe('SIGKILL')
      const shard0 = parseShardLog(stopped.text, 'shard 0')
      expect(shard0.interrupted).toBe(true)

      const code = await within(90_000)
      expect(code, `stdout:\n${output.stdout.slice(-3000)}\nstderr:\n${output.stderr.slice(-3000)}`).toBe(130)
      console.log(`loadtest-cluster (Ctrl-C): its stderr:\n${output.stderr}`)
      expect(output.stderr).toMatch(/^Stopping: deleting Job \S+ and its pods/m)
      expect(output.stderr).toMatch(/^Stopped: 1 of 2 shards reported a summary before their pods were gone/m)
      const merged = JSON.parse(output.stdout) as LoadSummary
      expect(merged).toMatchObject({interrupted: true, exitCode: 130, shards: {count: 2, reported: 1}})
      // The merge is shard 0's summary: the shard that did not report adds nothing.
      expect(merged.requests).toEqual(shard0.requests)
      expect(merged.iterations).toEqual(shard0.iterations)
      expect(merged.latency.add?.count).toBe(shard0.requests.add)
      const written = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as LoadSummary
      expect(written).toMatchObject({interrupted: true, shards: {count: 2, reported: 1}})
      // The series has what both shards printed while keda-lab read their logs.
      const series = readFileSync(join(out, 'timeseries.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as SecondRecord)
      const adds = (rs: readonly SecondRecord[]) => rs.reduce((a, r) => a + r.requests.add, 0)
      expect(adds(series)).toBeGreaterThanOrEqual(adds(printedRecords(stopped.text)))
      expect(adds(series)).toBeLessThanOrEqual(adds(printedRecords(stopped.text)) + adds(printedRecords(killed.text)))
      // Foreground: the Job is gone once its pods are.
      await waitFor(
        async () =>
          (await adminRequest(ctx.kubeconfig, 'GET', `/apis/batch/v1/namespaces/${ctx.namespace}/jobs/${job.metadata.name}`)).status === 404 || undefined,
        {timeoutMs: 60_000, intervalMs: 250, what: 'the Job deleted after its pods'},
      )
    } finally {
      await stopProcess(cli)
      for (const c of containers) await stopProcess(c.child)
    }
  }, 300_000)

  it('a second Ctrl-C exits at once, without waiting for the pods', async () => {
    const args = [
      'loadtest',
      '--json',
      '--runner',
      'cluster',
      '--parallel',
      '2',
      '--namespace',
      ctx.namespace,
      '--vus',
      '2',
      '--duration',
      '10m',
      '--target',
      api,
    ]
    const before = await existingJobs()
    const {cli, out: output, early, within} = startCli(args)
    const held: string[] = []
    try {
      const job = await newJob(before, early)
      const pods = await runningPods(job.metadata.labels[RUN_LABEL], 2, early)
      // The pods' processes never start here, and a finalizer keeps each pod Terminating once the Job
      // is deleted (kwok deletes a pod at once otherwise): after the first Ctrl-C keda-lab waits for
      // their summaries, for as long as its stop grace, so only the second Ctrl-C can end it at once.
      for (const pod of pods) {
        const path = `/api/v1/namespaces/${ctx.namespace}/pods/${pod.metadata.name}`
        const res = await adminRequest(ctx.kubeconfig, 'PATCH', path, {metadata: {finalizers: [HOLD_FINALIZER]}}, 'application/merge-patch+json')
        expect(res.status, res.body).toBe(200)
        held.push(path)
      }
      cli.kill('SIGINT')
      await waitFor(() => /^Stopping: deleting Job/m.test(output.stderr) || undefined, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'the first Ctrl-C noticed',
      }).catch((error: Error) => {
        throw new Error(`${error.message}; keda-lab's stderr:\n${output.stderr}`)
      })
      cli.kill('SIGINT')
      expect(await within(30_000), output.stderr).toBe(130)
      // No summary: it did not wait for the pods.
      expect(output.stdout).toBe('')
    } finally {
      await stopProcess(cli)
      for (const path of held) await adminRequest(ctx.kubeconfig, 'PATCH', path, {metadata: {finalizers: null}}, 'application/merge-patch+json')
    }
  }, 180_000)
})
