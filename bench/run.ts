/**
 * `npm run bench`: builds, then measures in one run, on a real local redis-server, the real API
 * (`keda-lab serve api`) and a real worker (`keda-lab serve worker`):
 *
 *   1. POST /api/tasks/add  vs a bare Fastify route doing one LPUSH   (≥ 0.5×, p99 < 50 ms at 50 connections)
 *   2. GET /api/tasks/status/:id vs a bare route doing one HGET        (≥ 0.7×)
 *   3. empty tasks (iterations 0) through one worker: jobs/s           (≥ 1,000/s)
 *   4. enqueue-to-start latency with an idle worker: p50               (< 5 ms)
 *   5. `keda-lab --help` vs a minimal oclif CLI with one command      (≤ 1.2×)
 *
 * It prints a table of figures, ratios and targets with PASS/MISS, and exits 0 whatever the
 * figures are: it reports, it does not gate the build. Knobs: BENCH_DURATION (s of load per side,
 * default 8), BENCH_CONNECTIONS (50), BENCH_JOBS (3000), BENCH_LATENCY_SAMPLES (200),
 * BENCH_STARTUP_RUNS (20).
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import autocannon from 'autocannon'
import {Queue} from 'bullmq'
import {Redis} from 'ioredis'

import {redisOptions} from '../src/adapters/redis.js'
import {freePort} from '../src/lab/dev/net.js'
import {TASK_JOB_NAME, type TaskData} from '../src/services/shared/tasks.js'
import {createMinimalCli} from './minimal-cli.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const cli = join(repoRoot, 'bin', 'run.js')
const DURATION = Number(process.env.BENCH_DURATION ?? 8)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const JOBS = Number(process.env.BENCH_JOBS ?? 3000)
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 200)
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 20)

// ---------------------------------------------------------------------------------------------
// Processes

const children: {name: string; child: ChildProcess; output: string[]}[] = []

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(command, args, {cwd: repoRoot, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  const entry = {name, child, output: [] as string[]}
  const keep = (chunk: Buffer) => {
    entry.output.push(chunk.toString())
    if (entry.output.length > 50) entry.output.shift()
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  children.push(entry)
  return entry
}

async function stopAll() {
  await Promise.all(
    children.map(
      ({child}) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          child.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          child.kill('SIGTERM')
        }),
    ),
  )
}

process.on('exit', () => {
  for (const {child} of children) child.kill('SIGKILL')
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().then(() => process.exit(130))
  })
}

async function waitFor(what: string, check: () => Promise<boolean>, entry?: (typeof children)[number], timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (entry && entry.child.exitCode !== null) break
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 100))
  }
  const tail = entry ? `\n--- last output of ${entry.name} ---\n${entry.output.join('').slice(-3000)}` : ''
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
}

async function load(url: string, method: 'GET' | 'POST', seconds = DURATION): Promise<Load> {
  const result = await autocannon({url, method, connections: CONNECTIONS, duration: seconds})
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  }
}

/**
 * Measures the API against its baseline fairly on a shared machine: both warmed up (2 s, untimed),
 * then base, api, api, base (half the duration each), so that a change in background load hits
 * both sides alike; req/s is averaged, latencies are the worse of the two runs.
 */
async function compare(baseUrl: string, apiUrl: string, method: 'GET' | 'POST'): Promise<{base: Load; api: Load}> {
  await load(baseUrl, method, 2)
  await load(apiUrl, method, 2)
  const half = Math.max(1, Math.round(DURATION / 2))
  const b1 = await load(baseUrl, method, half)
  const a1 = await load(apiUrl, method, half)
  const a2 = await load(apiUrl, method, half)
  const b2 = await load(baseUrl, method, half)
  const merge = (x: Load, y: Load): Load => ({
    rps: (x.rps + y.rps) / 2,
    p50: Math.max(x.p50, y.p50),
    p99: Math.max(x.p99, y.p99),
    errors: x.errors + y.errors,
    non2xx: x.non2xx + y.non2xx,
  })
  return {base: merge(b1, b2), api: merge(a1, a2)}
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

interface Row {
  measure: string
  value: string
  baseline: string
  ratio: string
  target: string
  pass?: boolean
}

const rows: Row[] = []
/** Records a row and prints it at once, so a run cut short still shows what it measured. */
function record(row: Row) {
  rows.push(row)
  const result = row.pass === undefined ? '' : row.pass ? ' PASS' : ' MISS'
  console.log(`    ${row.measure}: ${row.value} (baseline ${row.baseline}${row.ratio ? `, ratio ${row.ratio}` : ''}; target ${row.target})${result}`)
}
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits})

async function main() {
  const started = Date.now()
  const redisBinary = spawnSync('sh', ['-c', 'command -v redis-server'], {encoding: 'utf8'}).stdout.trim()
  if (!redisBinary) throw new Error('redis-server is not on PATH: sudo apt-get install redis-server (macOS: brew install redis)')
  console.log(`keda-lab benchmark — node ${process.version}, ${cpus().length} CPU(s), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)

  // Redis
  const redisPort = await freePort()
  const redisDir = mkdtempSync(join(tmpdir(), 'keda-lab-bench-redis-'))
  const redis = start('redis', redisBinary, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir])
  const redisUrl = `redis://127.0.0.1:${redisPort}`
  const probe = new Redis(redisOptions({mode: 'standalone', url: redisUrl}, {lazyConnect: true, retryStrategy: () => 100}))
  probe.on('error', () => {})
  await waitFor('redis-server', async () => (await probe.ping()) === 'PONG', redis)

  // The API (no worker yet: the add benchmark must not compete with task execution) and the baseline.
  const queueName = `bench-${Date.now()}`
  const apiPort = await freePort()
  const api = start('api', process.execPath, [cli, 'serve', 'api'], {
    PORT: String(apiPort),
    METRICS_PORT: String(await freePort()),
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    QUEUE_NAME: queueName,
    TASK_ITERATIONS: '0',
    // Per-request info logs would measure the log pipe, not the API; the baseline logs nothing.
    LOG_LEVEL: 'warn',
  })
  const baselinePort = await freePort()
  const baseline = start('baseline', process.execPath, ['--import', 'tsx', join(repoRoot, 'bench', 'baseline-server.ts')], {
    PORT: String(baselinePort),
    REDIS_URL: redisUrl,
  })
  const apiUrl = `http://127.0.0.1:${apiPort}`
  const baseUrl = `http://127.0.0.1:${baselinePort}`
  await waitFor('the API (/healthz)', () => httpOk(`${apiUrl}/healthz`), api)
  await waitFor('the baseline server', async () => (await fetch(`${baseUrl}/status/known`)).ok, baseline)

  // 1. POST /api/tasks/add vs LPUSH
  console.log(`1/5 POST /api/tasks/add vs LPUSH: ${CONNECTIONS} connections, ${DURATION} s each …`)
  const {base: addBase, api: addApi} = await compare(`${baseUrl}/add`, `${apiUrl}/api/tasks/add`, 'POST')
  record({
    measure: 'POST /api/tasks/add (req/s)',
    value: fmt(addApi.rps),
    baseline: `${fmt(addBase.rps)} (LPUSH)`,
    ratio: `${(addApi.rps / addBase.rps).toFixed(2)}×`,
    target: '≥ 0.50×',
    pass: addApi.rps / addBase.rps >= 0.5,
  })
  record({
    measure: `POST /api/tasks/add p99 (ms, ${CONNECTIONS} conn.)`,
    value: fmt(addApi.p99, 1),
    baseline: fmt(addBase.p99, 1),
    ratio: '',
    target: '< 50 ms',
    pass: addApi.p99 < 50,
  })

  // 2. GET /api/tasks/status/:id vs HGET, on a task that exists (queued).
  const created = (await (await fetch(`${apiUrl}/api/tasks/add`, {method: 'POST'})).json()) as {result: {id: string}}
  console.log(`2/5 GET /api/tasks/status/:id vs HGET …`)
  const {base: statusBase, api: statusApi} = await compare(`${baseUrl}/status/known`, `${apiUrl}/api/tasks/status/${created.result.id}`, 'GET')
  record({
    measure: 'GET /api/tasks/status/:id (req/s)',
    value: fmt(statusApi.rps),
    baseline: `${fmt(statusBase.rps)} (HGET)`,
    ratio: `${(statusApi.rps / statusBase.rps).toFixed(2)}×`,
    target: '≥ 0.70×',
    pass: statusApi.rps / statusBase.rps >= 0.7,
  })
  record({measure: 'GET /api/tasks/status/:id p99 (ms)', value: fmt(statusApi.p99, 1), baseline: fmt(statusBase.p99, 1), ratio: '', target: '(info)'})
  // Where the API's cost goes: the same routes doing BullMQ's add / getJob+getState and nothing else.
  console.log('    (info) bare routes with BullMQ only, to tell the API\'s own cost from BullMQ\'s …')
  // Status first: BullMQ's getState searches the wait list, which the add run then fills.
  await load(`${baseUrl}/bullmq/status/known`, 'GET', 2)
  const bullStatus = await load(`${baseUrl}/bullmq/status/known`, 'GET', Math.max(1, Math.round(DURATION / 2)))
  await load(`${baseUrl}/bullmq/add`, 'POST', 2)
  const bullAdd = await load(`${baseUrl}/bullmq/add`, 'POST', Math.max(1, Math.round(DURATION / 2)))
  record({
    measure: 'bare route + BullMQ queue.add (req/s)',
    value: fmt(bullAdd.rps),
    baseline: `${fmt(addBase.rps)} (LPUSH)`,
    ratio: `${(bullAdd.rps / addBase.rps).toFixed(2)}×`,
    target: '(info)',
  })
  record({
    measure: 'bare route + BullMQ getJob+getState, short queue (req/s)',
    value: fmt(bullStatus.rps),
    baseline: `${fmt(statusBase.rps)} (HGET)`,
    ratio: `${(bullStatus.rps / statusBase.rps).toFixed(2)}×`,
    target: '(info)',
  })
  const failures = [addApi, addBase, statusApi, statusBase, bullAdd, bullStatus].reduce((sum, l) => sum + l.errors + l.non2xx, 0)

  // The load runs are over: stop what they needed, so the queue runs alone.
  for (const entry of [api, baseline]) entry.child.kill('SIGTERM')

  // 3. and 4. One real worker on its own queue.
  const workQueue = `bench-work-${Date.now()}`
  const worker = start('worker', process.execPath, [cli, 'serve', 'worker'], {
    METRICS_PORT: String(await freePort()),
    REDIS_URL: redisUrl,
    QUEUE_NAME: workQueue,
    WORKER_CONCURRENCY: '1',
    LOG_LEVEL: 'warn',
  })
  const queueClient = new Redis(redisOptions({mode: 'standalone', url: redisUrl}))
  queueClient.on('error', () => {})
  const queue = new Queue(workQueue, {connection: queueClient})
  await waitFor('the worker (connected to the queue)', async () => (await queue.getWorkersCount()) > 0, worker)
  const jobOptions = {removeOnComplete: {age: 3600}, removeOnFail: {age: 3600}}

  console.log(`3/5 ${JOBS} empty tasks through one worker …`)
  const t0 = Date.now()
  await queue.addBulk(
    Array.from({length: JOBS}, () => ({name: TASK_JOB_NAME, data: emptyTask(), opts: jobOptions})),
  )
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
  const firstStart = Math.min(...done.map((j) => j.processedOn ?? Infinity))
  const lastFinish = Math.max(...done.map((j) => j.finishedOn ?? 0))
  const jobsPerSecond = (done.length / Math.max(1, lastFinish - firstStart)) * 1000
  record({
    measure: 'Empty tasks, one worker (jobs/s)',
    value: fmt(jobsPerSecond),
    baseline: `wall ${fmt((JOBS / wall) * 1000)}/s incl. enqueue`,
    ratio: '',
    target: '≥ 1,000/s',
    pass: jobsPerSecond >= 1000 && failed === 0,
  })

  console.log(`4/5 enqueue-to-start latency, idle worker, ${LATENCY_SAMPLES} tasks one at a time …`)
  await queue.clean(0, JOBS * 2, 'completed')
  const latencies: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const job = await queue.add(TASK_JOB_NAME, emptyTask(), jobOptions)
    let state = await queue.getJob(job.id!)
    const deadline = Date.now() + 10_000
    while (!state?.finishedOn && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2))
      state = await queue.getJob(job.id!)
    }
    if (!state?.processedOn) throw new Error(`task ${job.id} was not started within 10 s`)
    latencies.push(state.processedOn - state.timestamp)
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
  await queue.obliterate({force: true})
  await queue.close()
  queueClient.disconnect()
  probe.disconnect()
  await stopAll()
  rmSync(redisDir, {recursive: true, force: true})

  // 5. CLI start-up, alternating the two CLIs so that machine noise hits both alike.
  console.log(`5/5 start-up: keda-lab --help vs a minimal oclif CLI, ${STARTUP_RUNS} runs each …`)
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

  printTable(rows)
  console.log('')
  console.log(`Load: autocannon, ${CONNECTIONS} connections, base/api/api/base runs of ${Math.max(1, Math.round(DURATION / 2))} s after a 2 s warm-up each;`)
  console.log('req/s averaged, p99 the worse run; API with LOG_LEVEL=warn (no per-request log lines) and TASK_ITERATIONS=0.')
  if (failures > 0) console.log(`Note: ${failures} load-test requests failed or were not 2xx.`)
  console.log('Enqueue-to-start uses BullMQ\'s own timestamps (job.timestamp → job.processedOn), which have 1 ms resolution.')
  console.log(`Everything ran on this machine (${cpus().length} CPU(s)) at once: client, servers and Redis share the cores, so figures are noisy.`)
  console.log(`Done in ${Math.round((Date.now() - started) / 1000)} s. The benchmark reports; it does not fail on a MISS.`)
}

/** The API's job data for a task of size 0 (the same contract, src/services/shared/tasks.ts). */
function emptyTask(): TaskData {
  return {iterations: 0, queuedAt: new Date().toISOString()}
}

function printTable(table: Row[]) {
  const headers: Row = {measure: 'Measure', value: 'keda-lab', baseline: 'Baseline', ratio: 'Ratio', target: 'Target'}
  const keys = ['measure', 'value', 'baseline', 'ratio', 'target'] as const
  const widths = keys.map((k) => Math.max(headers[k].length, ...table.map((r) => r[k].length)))
  const line = (r: Row, result: string) => keys.map((k, i) => r[k].padEnd(widths[i]!)).join('  ') + '  ' + result
  console.log('')
  console.log(line(headers, 'Result'))
  console.log(widths.map((w) => '-'.repeat(w)).join('  ') + '  ------')
  for (const r of table) console.log(line(r, r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS'))
}

try {
  await main()
} catch (error) {
  console.error(`bench failed: ${(error as Error).message}`)
  await stopAll()
  process.exit(1)
}
