/**
 * `npm run bench`: builds, then measures in one run, on a real local redis-server, the real API
 * (`keda-lab serve api` in its DEFAULT configuration, LOG_LEVEL=info included, its log written to
 * a file as a container runtime would) and a real worker (`keda-lab serve worker`):
 *
 *   1. GET /api/tasks/status/:id vs a bare Fastify route doing one HGET      (≥ 0.8×, p99 ≤ 15 ms)
 *   2. POST /api/tasks/add vs a bare route doing one LPUSH                   (≥ 0.6×, p99 ≤ 15 ms)
 *      and vs a bare route doing only BullMQ's queue.add                      (≥ 0.9×)
 *   3. the same with 2 API processes (and 2 baseline processes) behind one Redis (for scale)
 *   4. empty tasks (iterations 0) through one worker: jobs/s                 (≥ 1,000/s)
 *   5. enqueue-to-start latency with an idle worker: p50                     (< 5 ms)
 *   6. tasks of a realistic size through one worker vs the same CPU loop without BullMQ (for scale)
 *   7. `keda-lab --help` vs a minimal oclif CLI with one command             (≤ 1.2×)
 *   8. the load engine of `keda-lab loadtest` (bench/loadtest-engine.ts): req/s and CPU per request
 *      against autocannon at 50 connections (≥ 0.85×, ≤ 1.35×); the open model at 5,000/s (±0.5 %
 *      over the run, ±2 % each second, scheduler lag p50 ≤ 1 ms, p99 ≤ 25 ms); p99 ≥ 250 ms
 *      from the scheduled start against a server stalling 300 ms every 2 s, at 2,000/s
 *
 * It prints a table of figures, ratios and targets with PASS/MISS, and exits 0 whatever the
 * figures are: it reports, it does not gate the build. Knobs: BENCH_DURATION (s of load per side,
 * default 8), BENCH_CONNECTIONS (50), BENCH_JOBS (3000), BENCH_LATENCY_SAMPLES (200),
 * BENCH_TASKS (5) of BENCH_TASK_ITERATIONS (20,000,000: about 1 s of one core), BENCH_STARTUP_RUNS (20).
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import autocannon from 'autocannon'
import {Queue} from 'bullmq'
import {Redis} from 'ioredis'

import {redisOptions} from '../src/adapters/redis.js'
import {freePort} from '../src/lab/dev/net.js'
import {DEFAULT_TASK_ITERATIONS, TASK_JOB_NAME, type TaskData} from '../src/services/shared/tasks.js'
import {measureLoadEngine} from './loadtest-engine.js'
import {createMinimalCli} from './minimal-cli.js'
import {type BenchRow, measureWorkerEventLoop} from './worker-event-loop.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const cli = join(repoRoot, 'bin', 'run.js')
const DURATION = Number(process.env.BENCH_DURATION ?? 8)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const JOBS = Number(process.env.BENCH_JOBS ?? 3000)
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 200)
const TASKS = Number(process.env.BENCH_TASKS ?? 5)
const TASK_ITERATIONS = Number(process.env.BENCH_TASK_ITERATIONS ?? DEFAULT_TASK_ITERATIONS / 5)
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 20)
const P99_TARGET_MS = 15

// ---------------------------------------------------------------------------------------------
// Processes

interface Child {
  name: string
  child: ChildProcess
  /** Recent output (piped children) or the log file (children writing to a file). */
  tail(): string
}
const children: Child[] = []
const workDir = mkdtempSync(join(tmpdir(), 'keda-lab-bench-'))

/** Starts a process whose output the bench keeps (the last 50 chunks) for error messages. */
function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(command, args, {cwd: repoRoot, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  const output: string[] = []
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString())
    if (output.length > 50) output.shift()
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const entry = {name, child, tail: () => output.join('')}
  children.push(entry)
  return entry
}

/**
 * Starts a process writing stdout and stderr straight to a file, as a container runtime takes a
 * pod's log: the bench process (which also runs the load generator) reads none of it.
 */
function startToFile(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const file = join(workDir, `${name}.log`)
  const fd = openSync(file, 'a')
  const child = spawn(command, args, {cwd: repoRoot, env: {...process.env, ...env}, stdio: ['ignore', fd, fd]})
  closeSync(fd)
  const entry = {name, child, tail: () => readFileSync(file, 'utf8').slice(-3000)}
  children.push(entry)
  return entry
}

function stop(entry: Child): Promise<void> {
  const {child} = entry
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

const stopAll = () => Promise.all(children.map(stop))

process.on('exit', () => {
  for (const {child} of children) child.kill('SIGKILL')
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().then(() => process.exit(130))
  })
}

async function waitFor(what: string, check: () => Promise<boolean>, entry?: Child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (entry && entry.child.exitCode !== null) break
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 100))
  }
  const tail = entry ? `\n--- last output of ${entry.name} ---\n${entry.tail().slice(-3000)}` : ''
  throw new Error(`${what} did not become ready${tail}`)
}

const httpOk = async (url: string) => (await fetch(url, {signal: AbortSignal.timeout(1000)})).ok

// ---------------------------------------------------------------------------------------------
// Measurements

interface Load {
  rps: number
  p50: number
  p99: number
  errors: number
  non2xx: number
  /** CPU time per request of the server process(es), in µs. */
  serverUs: number
  /** CPU time per request of redis-server, in µs. */
  redisUs: number
}

/** The servers behind one side of a comparison: their URLs and the pids whose CPU time it costs. */
interface Side {
  urls: string[]
  pids: number[]
}

let redisPid = 0

/** CPU time (user + system) a process has used so far, in µs, from /proc (Linux; 0 elsewhere). */
function cpuUs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return 0
  }
}

/**
 * Load on one or several URLs at once (the connections split between them), for `seconds`.
 * Besides req/s it measures the CPU time the servers and Redis spent per request: on a machine
 * shared with other work, req/s follows what the others leave free, CPU per request does not.
 */
async function load(side: Side, method: 'GET' | 'POST', seconds = DURATION): Promise<Load> {
  const per = Math.max(1, Math.round(CONNECTIONS / side.urls.length))
  const serverBefore = side.pids.reduce((sum, pid) => sum + cpuUs(pid), 0)
  const redisBefore = cpuUs(redisPid)
  const results = await Promise.all(side.urls.map((url) => autocannon({url, method, connections: per, duration: seconds})))
  const requests = Math.max(
    1,
    results.reduce((sum, r) => sum + r.requests.total, 0),
  )
  return {
    rps: results.reduce((sum, r) => sum + r.requests.average, 0),
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((sum, r) => sum + r.errors + r.timeouts, 0),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    serverUs: (side.pids.reduce((sum, pid) => sum + cpuUs(pid), 0) - serverBefore) / requests,
    redisUs: (cpuUs(redisPid) - redisBefore) / requests,
  }
}

/**
 * Measures several servers doing the same job fairly on a shared machine: each warmed up (2 s,
 * untimed), then run in order and in reverse order (half the duration each), so that a change in
 * background load hits every side alike; req/s is averaged, latencies are the worse of the two.
 */
async function compare<K extends string>(sides: Record<K, Side>, method: 'GET' | 'POST'): Promise<Record<K, Load>> {
  const names = Object.keys(sides) as K[]
  for (const name of names) await load(sides[name], method, 2)
  const half = Math.max(1, Math.round(DURATION / 2))
  const runs = new Map<K, Load[]>(names.map((n) => [n, []]))
  for (const name of [...names, ...[...names].reverse()]) runs.get(name)!.push(await load(sides[name], method, half))
  const merged = {} as Record<K, Load>
  for (const name of names) {
    const [x, y] = runs.get(name) as [Load, Load]
    merged[name] = {
      rps: (x.rps + y.rps) / 2,
      p50: Math.max(x.p50, y.p50),
      p99: Math.max(x.p99, y.p99),
      errors: x.errors + y.errors,
      non2xx: x.non2xx + y.non2xx,
      serverUs: (x.serverUs + y.serverUs) / 2,
      redisUs: (x.redisUs + y.redisUs) / 2,
    }
  }
  return merged
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

function median(values: number[]): number {
  return percentile(values, 50)
}

function timeRun(entry: string, args: string[]): number {
  const t0 = performance.now()
  const out = spawnSync(process.execPath, [entry, ...args], {stdio: 'ignore', env: {...process.env, NO_COLOR: '1'}})
  const ms = performance.now() - t0
  if (out.status !== 0) throw new Error(`${entry} ${args.join(' ')} exited ${out.status}`)
  return ms
}

// ---------------------------------------------------------------------------------------------

const rows: BenchRow[] = []
/** Records a row and prints it at once, so a run cut short still shows what it measured. */
function record(row: BenchRow) {
  rows.push(row)
  const result = row.pass === undefined ? '' : row.pass ? ' PASS' : ' MISS'
  console.log(`    ${row.measure}: ${row.value} (baseline ${row.baseline}${row.ratio ? `, ratio ${row.ratio}` : ''}; target ${row.target})${result}`)
}
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits})
const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

/** A throughput row: value vs baseline, with a minimum ratio as target (or none: for scale). */
function recordRatio(measure: string, value: Load, baseline: Load, baselineName: string, minRatio?: number) {
  const ratio = value.rps / baseline.rps
  record({
    measure,
    value: fmt(value.rps),
    baseline: `${fmt(baseline.rps)} (${baselineName})`,
    ratio: `${ratio.toFixed(2)}×`,
    target: minRatio === undefined ? '(for scale)' : `≥ ${minRatio.toFixed(2)}×`,
    pass: minRatio === undefined ? undefined : ratio >= minRatio,
  })
}

/**
 * The same comparison in CPU time per request (server process + redis-server): what a core would
 * serve, whatever else runs on the machine. Ratio = baseline CPU / API CPU, comparable with req/s.
 */
function recordCpu(measure: string, value: Load, baseline: Load, baselineName: string) {
  const total = (l: Load) => l.serverUs + l.redisUs
  record({
    measure,
    value: `${fmt(value.serverUs)} + ${fmt(value.redisUs)}`,
    baseline: `${fmt(baseline.serverUs)} + ${fmt(baseline.redisUs)} (${baselineName})`,
    ratio: `${(total(baseline) / total(value)).toFixed(2)}×`,
    target: '(for scale)',
  })
}

function recordP99(measure: string, value: Load, baseline: Load, target = true) {
  record({
    measure,
    value: fmt(value.p99, 1),
    baseline: fmt(baseline.p99, 1),
    ratio: '',
    target: target ? `≤ ${P99_TARGET_MS} ms` : '(for scale)',
    pass: target ? value.p99 <= P99_TARGET_MS : undefined,
  })
}

/** `keda-lab serve api` in its default configuration (log level included), logging to a file. */
async function startApi(name: string, redisUrl: string, queueName: string): Promise<{entry: Child; url: string; side: Side}> {
  const port = await freePort()
  const entry = startToFile(name, process.execPath, [cli, 'serve', 'api'], {
    PORT: String(port),
    METRICS_PORT: String(await freePort()),
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    QUEUE_NAME: queueName,
  })
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${name} (/readyz)`, () => httpOk(`${url}/readyz`), entry)
  return {entry, url, side: {urls: [], pids: [entry.child.pid!]}}
}

async function startBaseline(name: string, redisUrl: string): Promise<{entry: Child; url: string; side: Side}> {
  const port = await freePort()
  const entry = start(name, process.execPath, ['--import', 'tsx', join(repoRoot, 'bench', 'baseline-server.ts')], {PORT: String(port), REDIS_URL: redisUrl})
  const url = `http://127.0.0.1:${port}`
  await waitFor(name, async () => (await fetch(`${url}/status/known`)).ok, entry)
  return {entry, url, side: {urls: [], pids: [entry.child.pid!]}}
}

/** One side of a comparison: these paths on these servers. */
function on(servers: {url: string; side: Side}[], path: string): Side {
  return {urls: servers.map((s) => `${s.url}${path}`), pids: servers.flatMap((s) => s.side.pids)}
}

async function queueTask(apiUrl: string): Promise<string> {
  const response = await fetch(`${apiUrl}/api/tasks/add`, {method: 'POST'})
  const text = await response.text()
  if (response.status !== 200) throw new Error(`POST ${apiUrl}/api/tasks/add answered ${response.status}: ${text}`)
  return (JSON.parse(text) as {result: {id: string}}).result.id
}

async function main() {
  const started = Date.now()
  const redisBinary = spawnSync('sh', ['-c', 'command -v redis-server'], {encoding: 'utf8'}).stdout.trim()
  if (!redisBinary) throw new Error('redis-server is not on PATH: sudo apt-get install redis-server (macOS: brew install redis)')
  console.log(`keda-lab benchmark — node ${process.version}, ${cpus().length} CPU(s), load average ${loadAverage()} at the start`)

  // Redis
  const redisPort = await freePort()
  const redisDir = join(workDir, 'redis')
  mkdirSync(redisDir)
  const redis = start('redis', redisBinary, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir])
  const redisUrl = `redis://127.0.0.1:${redisPort}`
  const probe = new Redis(redisOptions({mode: 'standalone', url: redisUrl}, {lazyConnect: true, retryStrategy: () => 100}))
  probe.on('error', () => {})
  await waitFor('redis-server', async () => (await probe.ping()) === 'PONG', redis)
  redisPid = redis.child.pid!

  // The API (no worker yet: the load runs must not compete with task execution) and the baseline.
  const queueName = `bench-${Date.now()}`
  const api = await startApi('api', redisUrl, queueName)
  const base = await startBaseline('baseline', redisUrl)

  // 1. Status first: BullMQ's getState (the bare BullMQ status route) searches the wait list, which the add runs fill.
  const known = await queueTask(api.url)
  console.log(`1/7 GET /api/tasks/status/:id vs HGET vs BullMQ getJob+getState: ${CONNECTIONS} connections, ${DURATION} s each …`)
  const status = await compare(
    {hget: on([base], '/status/known'), bullmq: on([base], '/bullmq/status/known'), api: on([api], `/api/tasks/status/${known}`)},
    'GET',
  )
  recordRatio('GET /api/tasks/status/:id (req/s)', status.api, status.hget, 'HGET', 0.8)
  recordP99(`GET /api/tasks/status/:id p99 (ms, ${CONNECTIONS} conn.)`, status.api, status.hget)
  recordCpu('  status CPU per request (µs, server + Redis)', status.api, status.hget, 'HGET')
  recordRatio('  bare route + BullMQ getJob+getState (req/s)', status.bullmq, status.hget, 'HGET')

  // 2. Add: the bare LPUSH route and the bare queue.add route (BullMQ's own cost) against the API.
  console.log(`2/7 POST /api/tasks/add vs LPUSH vs BullMQ queue.add …`)
  const add = await compare({lpush: on([base], '/add'), bullmq: on([base], '/bullmq/add'), api: on([api], '/api/tasks/add')}, 'POST')
  recordRatio('POST /api/tasks/add (req/s)', add.api, add.lpush, 'LPUSH', 0.6)
  recordRatio('POST /api/tasks/add vs bare queue.add (req/s)', add.api, add.bullmq, 'queue.add', 0.9)
  recordP99(`POST /api/tasks/add p99 (ms, ${CONNECTIONS} conn.)`, add.api, add.lpush)
  recordCpu('  add CPU per request (µs, server + Redis)', add.api, add.lpush, 'LPUSH')
  recordCpu('  add CPU per request (µs, server + Redis)', add.api, add.bullmq, 'queue.add')
  recordRatio('  bare route + BullMQ queue.add (req/s)', add.bullmq, add.lpush, 'LPUSH')

  // 3. Two API processes and two baseline processes behind the same Redis, the load split between them.
  console.log(`3/7 the same with 2 API processes (and 2 baseline processes) behind one Redis …`)
  await probe.flushall()
  await probe.hset('bench:baseline:hash', 'known', '37.0')
  const api2 = await startApi('api-2', redisUrl, queueName)
  const base2 = await startBaseline('baseline-2', redisUrl)
  const known2 = await queueTask(api.url)
  const status2 = await compare({hget: on([base, base2], '/status/known'), api: on([api, api2], `/api/tasks/status/${known2}`)}, 'GET')
  recordRatio('2 APIs: GET /api/tasks/status/:id (req/s)', status2.api, status2.hget, '2× HGET')
  record({
    measure: '2 APIs: status vs 1 API (req/s)',
    value: fmt(status2.api.rps),
    baseline: fmt(status.api.rps),
    ratio: `${(status2.api.rps / status.api.rps).toFixed(2)}×`,
    target: '(for scale)',
  })
  recordP99('2 APIs: GET /api/tasks/status/:id p99 (ms)', status2.api, status2.hget, false)
  const add2 = await compare({lpush: on([base, base2], '/add'), api: on([api, api2], '/api/tasks/add')}, 'POST')
  recordRatio('2 APIs: POST /api/tasks/add (req/s)', add2.api, add2.lpush, '2× LPUSH')
  record({
    measure: '2 APIs: add vs 1 API (req/s)',
    value: fmt(add2.api.rps),
    baseline: fmt(add.api.rps),
    ratio: `${(add2.api.rps / add.api.rps).toFixed(2)}×`,
    target: '(for scale)',
  })
  recordP99('2 APIs: POST /api/tasks/add p99 (ms)', add2.api, add2.lpush, false)

  const loads = [status, add, status2, add2].flatMap((l) => Object.values(l) as Load[])
  const failures = loads.reduce((sum, l) => sum + l.errors + l.non2xx, 0)
  const apiLog = api.entry.tail()
  // The load runs are over: stop what they needed, so the queue runs alone.
  await Promise.all([api, api2, base, base2].map((s) => stop(s.entry)))
  await probe.flushall()

  // 4. and 5. One real worker on its own queue.
  const workQueue = `bench-work-${Date.now()}`
  const workerMetricsPort = await freePort()
  const worker = start('worker', process.execPath, [cli, 'serve', 'worker'], {
    METRICS_PORT: String(workerMetricsPort),
    REDIS_URL: redisUrl,
    QUEUE_NAME: workQueue,
    WORKER_CONCURRENCY: '1',
  })
  const queueClient = new Redis(redisOptions({mode: 'standalone', url: redisUrl}))
  queueClient.on('error', () => {})
  const queue = new Queue(workQueue, {connection: queueClient})
  await waitFor('the worker (connected to the queue)', async () => (await queue.getWorkersCount()) > 0, worker)
  const jobOptions = {removeOnComplete: {age: 3600}, removeOnFail: {age: 3600}}

  console.log(`4/7 ${JOBS} empty tasks through one worker …`)
  const t0 = Date.now()
  await queue.addBulk(Array.from({length: JOBS}, () => ({name: TASK_JOB_NAME, data: task(0), opts: jobOptions})))
  await waitFor(
    `${JOBS} jobs to finish`,
    async () => {
      const counts = await queue.getJobCounts('completed', 'failed')
      return (counts.completed ?? 0) + (counts.failed ?? 0) >= JOBS
    },
    worker,
    120_000,
  )
  const wall = Date.now() - t0
  const done = await queue.getJobs(['completed'], 0, JOBS)
  const failed = await queue.getFailedCount()
  const jobsPerSecond = (done.length / Math.max(1, span(done))) * 1000
  record({
    measure: 'Empty tasks, one worker (jobs/s)',
    value: fmt(jobsPerSecond),
    baseline: `wall ${fmt((JOBS / wall) * 1000)}/s incl. enqueue`,
    ratio: '',
    target: '≥ 1,000/s',
    pass: jobsPerSecond >= 1000 && failed === 0,
  })

  console.log(`5/7 enqueue-to-start latency, idle worker, ${LATENCY_SAMPLES} tasks one at a time …`)
  await queue.clean(0, JOBS * 2, 'completed')
  const latencies: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const job = await queue.add(TASK_JOB_NAME, task(0), jobOptions)
    const state = await finished(queue, job.id!, 10_000)
    latencies.push(state.processedOn! - state.timestamp)
    // Let the worker go back to waiting on the queue (idle), as a lone task would find it.
    await new Promise((r) => setTimeout(r, 10))
  }
  record({
    measure: 'Enqueue-to-start, idle worker p50 (ms)',
    value: fmt(median(latencies), 1),
    baseline: `p90 ${fmt(percentile(latencies, 90), 1)}, max ${fmt(Math.max(...latencies), 1)}`,
    ratio: '',
    target: '< 5 ms',
    pass: median(latencies) < 5,
  })

  // 6. Realistic tasks: the worker (BullMQ, lock renewal, 100 progress writes, logs) against the same loop alone.
  console.log(`6/7 ${TASKS} tasks of ${fmt(TASK_ITERATIONS)} iterations through one worker vs the loop without BullMQ …`)
  await queue.clean(0, LATENCY_SAMPLES * 2, 'completed')
  await finished(queue, (await queue.add(TASK_JOB_NAME, task(1_000_000), jobOptions)).id!, 60_000) // warm-up, as the raw loop does
  await queue.clean(0, 10, 'completed')
  const cpuBefore = await processCpuMs(workerMetricsPort)
  const real = await queue.addBulk(Array.from({length: TASKS}, () => ({name: TASK_JOB_NAME, data: task(TASK_ITERATIONS), opts: jobOptions})))
  const realDone = []
  for (const job of real) realDone.push(await finished(queue, job.id!, 600_000))
  const workerMs = span(realDone)
  const workerCpuMs = (await processCpuMs(workerMetricsPort)) - cpuBefore
  const raw = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench', 'raw-loop.ts')], {
    cwd: repoRoot,
    env: {...process.env, ITERATIONS: String(TASK_ITERATIONS), TASKS: String(TASKS)},
    encoding: 'utf8',
  })
  if (raw.status !== 0) throw new Error(`bench/raw-loop.ts failed: ${raw.stderr}`)
  const {ms: rawMs, cpuMs: rawCpuMs} = JSON.parse(raw.stdout.trim().split('\n').at(-1)!) as {ms: number; cpuMs: number}
  record({
    measure: `Tasks of ${fmt(TASK_ITERATIONS)} iterations, one worker (tasks/s, wall)`,
    value: fmt((TASKS / workerMs) * 1000, 3),
    baseline: `${fmt((TASKS / rawMs) * 1000, 3)} (loop alone)`,
    ratio: `${(rawMs / workerMs).toFixed(3)}×`,
    target: '(for scale)',
  })
  record({
    measure: `  the same per CPU second (tasks/CPU s)`,
    value: fmt((TASKS / workerCpuMs) * 1000, 3),
    baseline: `${fmt((TASKS / rawCpuMs) * 1000, 3)} (loop alone)`,
    ratio: `${(rawCpuMs / workerCpuMs).toFixed(3)}×`,
    target: '(for scale)',
  })
  record({
    measure: '  queue overhead per task (CPU ms)',
    value: fmt((workerCpuMs - rawCpuMs) / TASKS, 1),
    baseline: `${fmt(rawCpuMs / TASKS)} CPU ms of loop per task`,
    ratio: '',
    target: '(for scale)',
  })

  await queue.obliterate({force: true})
  await queue.close()
  queueClient.disconnect()
  probe.disconnect()
  await stopAll()

  // 7. CLI start-up, alternating the two CLIs so that machine noise hits both alike.
  console.log(`7/7 start-up: keda-lab --help vs a minimal oclif CLI, ${STARTUP_RUNS} runs each …`)
  const minimal = createMinimalCli(repoRoot)
  const kedaTimes: number[] = []
  const minimalTimes: number[] = []
  for (let i = 0; i < 3; i++) {
    timeRun(cli, ['--help'])
    timeRun(minimal.entry, ['--help'])
  }
  for (let i = 0; i < STARTUP_RUNS; i++) {
    kedaTimes.push(timeRun(cli, ['--help']))
    minimalTimes.push(timeRun(minimal.entry, ['--help']))
  }
  rmSync(minimal.dir, {recursive: true, force: true})
  const kedaMs = median(kedaTimes)
  const minimalMs = median(minimalTimes)
  record({
    measure: 'keda-lab --help start-up (ms, median)',
    value: fmt(kedaMs, 1),
    baseline: `${fmt(minimalMs, 1)} (minimal oclif)`,
    ratio: `${(kedaMs / minimalMs).toFixed(2)}×`,
    target: '≤ 1.20×',
    pass: kedaMs / minimalMs <= 1.2,
  })

  // Figures that were time limits in the worker tests: the event-loop gap during a task (bench/worker-event-loop.ts).
  for (const row of await measureWorkerEventLoop()) record(row)

  // The load engine of `keda-lab loadtest` against autocannon, and its open model (bench/loadtest-engine.ts).
  for (const row of await measureLoadEngine((line) => console.log(line))) record(row)

  printTable(rows)
  const logLines = apiLog.split('\n').filter((line) => line.includes('"task queued"')).length
  console.log('')
  console.log(
    `Load: autocannon, ${CONNECTIONS} connections, each side run forwards then backwards, ${Math.max(1, Math.round(DURATION / 2))} s per run after a 2 s warm-up;`,
  )
  console.log('CPU per request: the server process(es) + redis-server, from /proc, per request served (a busy machine changes req/s, not this).')
  console.log('req/s averaged, p99 the worse run. The API runs in its default configuration (LOG_LEVEL=info: one "task queued" line per task),')
  console.log(
    `its log written to a file (the last 3,000 characters held ${logLines} "task queued" lines). 2 processes: the ${CONNECTIONS} connections split between them.`,
  )
  if (failures > 0) console.log(`Note: ${failures} load-test requests failed or were not 2xx.`)
  console.log("Enqueue-to-start uses BullMQ's own timestamps (job.timestamp → job.processedOn), which have 1 ms resolution.")
  console.log(
    `Everything ran on this machine (${cpus().length} CPU(s)) at once: client, servers and Redis share the cores. Load average at the end: ${loadAverage()}.`,
  )
  console.log(`Done in ${Math.round((Date.now() - started) / 1000)} s. The benchmark reports; it does not fail on a MISS.`)
}

/** The API's job data for a task of `iterations` (the same contract, src/services/shared/tasks.ts). */
function task(iterations: number): TaskData {
  return {iterations, queuedAt: new Date().toISOString()}
}

/** From the first task's start to the last one's end, in ms (BullMQ's own timestamps). */
function span(jobs: {processedOn?: number; finishedOn?: number}[]): number {
  const first = Math.min(...jobs.map((j) => j.processedOn ?? Infinity))
  const last = Math.max(...jobs.map((j) => j.finishedOn ?? 0))
  return Math.max(1, last - first)
}

/** CPU time a service has used so far, from its own metrics endpoint (prom-client's process_cpu_seconds_total). */
async function processCpuMs(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const match = /^process_cpu_seconds_total (\S+)$/m.exec(text)
  if (!match) throw new Error("the worker's /metrics has no process_cpu_seconds_total")
  return Number(match[1]) * 1000
}

/** Polls a job until it has finished; throws if it failed or took longer than `timeoutMs`. */
async function finished(queue: Queue, id: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const job = await queue.getJob(id)
    if (job?.finishedOn) {
      if (job.failedReason) throw new Error(`task ${id} failed: ${job.failedReason}`)
      return job
    }
    if (Date.now() > deadline) throw new Error(`task ${id} did not finish within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

function printTable(table: BenchRow[]) {
  const headers: BenchRow = {measure: 'Measure', value: 'keda-lab', baseline: 'Baseline', ratio: 'Ratio', target: 'Target'}
  const keys = ['measure', 'value', 'baseline', 'ratio', 'target'] as const
  const widths = keys.map((k) => Math.max(headers[k].length, ...table.map((r) => r[k].length)))
  const line = (r: BenchRow, result: string) => `${keys.map((k, i) => r[k].padEnd(widths[i]!)).join('  ')}  ${result}`
  console.log('')
  console.log(line(headers, 'Result'))
  console.log(`${widths.map((w) => '-'.repeat(w)).join('  ')}  ------`)
  for (const r of table) console.log(line(r, r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS'))
}

try {
  await main()
} catch (error) {
  console.error(`bench failed: ${(error as Error).message}`)
  await stopAll()
  process.exitCode = 1
} finally {
  rmSync(workDir, {recursive: true, force: true})
}
