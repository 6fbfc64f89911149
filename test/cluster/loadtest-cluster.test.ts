/**
 * `keda-lab loadtest --runner cluster --parallel 3` on the real control plane: the Indexed Job is
 * created as specified and its pods are admitted in a namespace that ENFORCES Pod Security
 * `restricted`; the shards' summaries reach keda-lab through the real pod-logs API, and the merged
 * report agrees with the shards.
 *
 * kwok pods run no containers, so this file plays the kubelet's part, as faithfully as it can:
 * - each pod's command is the one the created pod carries (its args with `$(VAR)` expanded from
 *   its env, the completion index resolved from the pod's own annotation, as the kubelet does),
 *   run here against a real `keda-lab dev` (real Redis, API, workers) at the `--target` given;
 * - what the process printed (stdout and stderr, as a container runtime keeps them) is written to
 *   a file, which this control plane's kwok serves as the container's log (a kwok `Logs` object:
 *   kwok started with `--enable-crds Logs`), so keda-lab reads it through the API server's
 *   `pods/log`, exactly as on a real cluster;
 * - a pod completes only when its process has exited: this control plane's kwok replaces its
 *   `pod-complete` stage with one that waits for the exit code, put by this file on the pod.
 * That needs a kwok configured for it, hence a dedicated control plane (~15 s to start).
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseAllDocuments} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {COMPLETION_INDEX_LABEL, RUN_LABEL} from '../../src/lab/loadtest/cluster-job.js'
import {mergeSummaries} from '../../src/lab/loadtest/merge.js'
import type {LoadSummary} from '../../src/lab/loadtest/records.js'
import {parseShardLog} from '../../src/lab/loadtest/shard-log.js'
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

const ctx = useCluster(import.meta.filename, {dedicated: true, kwok: {args: ['--enable-crds', 'Logs'], config: [HELD_POD_COMPLETE]}})
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

/**
 * Runs a container's command here and keeps its output as a container runtime does: one CRI log
 * line per line of output, `<RFC 3339 time> <stdout|stderr> F <line>` (what the kubelet, and kwok,
 * read back for `pods/log`). Also returns the output as `kubectl logs` shows it.
 */
async function runAsContainer(argv: string[], env: Record<string, string>): Promise<{exitCode: number | null; criLog: string; text: string}> {
  const child = spawnTracked(process.execPath, [cliEntry(), ...argv], {
    cwd: repoRoot,
    env: {...process.env, ...env, KEDA_LAB_STATE_DIR: stateDir},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: {stream: 'stdout' | 'stderr'; at: string; line: string}[] = []
  const collect = (stream: 'stdout' | 'stderr') => {
    let rest = ''
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n')
      rest = parts.pop() ?? ''
      for (const line of parts) lines.push({stream, at: new Date().toISOString(), line})
    }
  }
  child.stdout?.on('data', collect('stdout'))
  child.stderr?.on('data', collect('stderr'))
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return {
    exitCode,
    criLog: lines.map((l) => `${l.at} ${l.stream} F ${l.line}\n`).join(''),
    text: lines.map((l) => `${l.line}\n`).join(''),
  }
}

/** `$(VAR)` in args, expanded from the container's env as the kubelet does (`$$` escapes). */
const expand = (arg: string, env: Record<string, string>) =>
  arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) => (m === '$$' ? '$' : (env[name] ?? m)))

describe('keda-lab loadtest --runner cluster', () => {
  it('runs the shards as an Indexed Job admitted under restricted, and merges what their logs say', async () => {
    const out = join(dir, 'report')
    const args = ['loadtest', '--json', '--runner', 'cluster', '--parallel', '3', '--namespace', ctx.namespace]
    args.push('--profile', 'shared-20', '--time-scale', '0.05', '--target', api, '--threshold', 'checks>99%', '--threshold', 'add.p99<1m', '--out', out)
    const started = Date.now()
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
      // The Job, as keda-lab created it.
      const jobs = `/apis/batch/v1/namespaces/${ctx.namespace}/jobs`
      const job: Obj = await waitFor(
        async () => {
          if (cli.exitCode !== null) throw new Error(`keda-lab exited early (${cli.exitCode}): ${stderr.slice(-1500)}`)
          return (await getJson<{items: Obj[]}>(ctx.kubeconfig, jobs))?.items[0]
        },
        {timeoutMs: 60_000, intervalMs: 250, what: 'the load-test Job'},
      )
      expect(job.spec).toMatchObject({completionMode: 'Indexed', completions: 3, parallelism: 3, backoffLimit: 0, ttlSecondsAfterFinished: 600})
      const runId = job.metadata.labels[RUN_LABEL]
      const template = job.spec.template.spec
      expect(template.containers[0].image).toBe('ghcr.io/example/keda-lab:cluster-test')
      expect(template.containers[0].resources.limits).toEqual({cpu: '1', memory: '512Mi'})

      // The pods the Job controller created: admitted in a namespace enforcing `restricted`.
      const pods: Obj[] = await waitFor(
        async () => {
          const list = await getJson<{items: Obj[]}>(
            ctx.kubeconfig,
            `/api/v1/namespaces/${ctx.namespace}/pods?labelSelector=${encodeURIComponent(`${RUN_LABEL}=${runId}`)}`,
          )
          const running = (list?.items ?? []).filter((p) => p.status?.phase === 'Running')
          return running.length === 3 ? running : undefined
        },
        {timeoutMs: 90_000, intervalMs: 250, what: '3 running load-test pods (a FailedCreate event would mean Pod Security refused them)'},
      )
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

      // Each pod's process, run here as its container would run it, its output kept as its log.
      const shardOutputs = await Promise.all(
        pods.map(async (pod) => {
          const container = pod.spec.containers[0]
          const env = containerEnv(pod, container)
          expect(env.JOB_COMPLETION_INDEX).toBe(pod.metadata.labels[COMPLETION_INDEX_LABEL])
          const argv: string[] = container.args.map((a: string) => expand(a, env))
          expect(argv.slice(0, 5)).toEqual(['loadtest', '--runner', 'local', '--shard', `${env.JOB_COMPLETION_INDEX}/3`])
          const run = await runAsContainer(argv, env)
          const logFile = join(dir, `${pod.metadata.name}.log`)
          writeFileSync(logFile, run.criLog)
          await create(`/apis/kwok.x-k8s.io/v1alpha1/namespaces/${ctx.namespace}/logs`, {
            apiVersion: 'kwok.x-k8s.io/v1alpha1',
            kind: 'Logs',
            metadata: {name: pod.metadata.name},
            spec: {logs: [{containers: [container.name], logsFile: logFile}]},
          })
          // The process has exited: kwok may now complete the pod with its exit code.
          const patch = await adminRequest(
            ctx.kubeconfig,
            'PATCH',
            `/api/v1/namespaces/${ctx.namespace}/pods/${pod.metadata.name}`,
            {metadata: {annotations: {[EXIT_ANNOTATION]: String(run.exitCode)}}},
            'application/merge-patch+json',
          )
          expect(patch.status).toBe(200)
          expect(run.exitCode, run.text.slice(-1500)).toBe(0)
          return {pod: pod.metadata.name as string, summary: parseShardLog(run.text, pod.metadata.name)}
        }),
      )

      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000))])
      expect(code, `stdout:\n${stdout.slice(-3000)}\nstderr:\n${stderr.slice(-3000)}`).toBe(0)
      console.log(`loadtest-cluster: keda-lab --runner cluster took ${((Date.now() - started) / 1000).toFixed(1)} s; its stderr:\n${stderr}`)
      const merged = JSON.parse(stdout) as LoadSummary
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
      expect({...merged, thresholds: [], exitCode: 0}).toEqual(again)
      expect(merged.executor).toMatchObject({type: 'shared-iterations', vus: 20, iterations: 20})
      expect(merged.shard).toBeUndefined()
      expect(merged.thresholds.map((t) => [t.expression, t.ok])).toEqual([
        ['checks>99%', true],
        ['add.p99<1m', true],
      ])
      const written = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as LoadSummary
      expect(written.iterations.completed).toBe(20)
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
})
