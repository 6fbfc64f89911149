/**
 * The load engine's figures (issue 14), for `npm run bench` (bench/run.ts), reported, not gated:
 *
 *   1. req/s and CPU per request of the engine's HTTP core against autocannon on a bare Fastify
 *      route at 50 connections, rounds interleaved (engine, autocannon, undici, undici, autocannon,
 *      engine, …) so that a change in the machine's load hits every side alike (≥ 0.85×, CPU ≤ 1.35×);
 *      undici's Pool.dispatch, the engine's client before its own, beside them for scale
 *   2. the open model at 5,000 iterations/s: achieved rate over the run (±0.5 %) and every full
 *      second (±2 %), scheduler lag p50 (≤ 1 ms) and p99 (≤ 25 ms); beside it, for scale, the same
 *      with no network (in-process answers): the engine without the target's share of the machine
 *   3. against a server that stalls 300 ms every 2 s, at 2,000/s: p99 of the add measured from the
 *      scheduled start (≥ 250 ms); autocannon's closed loop on the same server beside it
 *
 * Every side runs in its own process (bench/loadtest-generator.ts) against a target of its own
 * (bench/loadtest-target.ts), so each CPU figure is that process's. Knobs: BENCH_ENGINE_ROUNDS (4),
 * BENCH_ENGINE_SECONDS (4 per round), BENCH_OPEN_SECONDS (10), BENCH_OPEN_RATE (5000 iterations/s). Run alone: `npx tsx bench/loadtest-engine.ts`.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {loadavg} from 'node:os'
import {fileURLToPath} from 'node:url'

import {freePort} from '../src/lab/dev/net.js'
import type {LoadSummary} from '../src/lab/loadtest/records.js'
import type {BenchRow} from './worker-event-loop.js'

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))
const ROUNDS = Number(process.env.BENCH_ENGINE_ROUNDS ?? 4)
const SECONDS = Number(process.env.BENCH_ENGINE_SECONDS ?? 4)
const OPEN_SECONDS = Number(process.env.BENCH_OPEN_SECONDS ?? 10)
/** Iterations per second of the open model; each is two requests (the add and one poll). */
const OPEN_RATE = Number(process.env.BENCH_OPEN_RATE ?? 5000)
const CONNECTIONS = 50

/** Starts the target; resolves with its URL once it listens. */
async function startTarget(env: NodeJS.ProcessEnv = {}): Promise<{url: string; child: ChildProcess}> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', here('./loadtest-target.ts')], {
    env: {...process.env, PORT: String(port), ...env},
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve())
    child.on('exit', (code) => reject(new Error(`the bench target exited with ${code}`)))
  })
  return {url: `http://127.0.0.1:${port}`, child}
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.on('exit', () => resolve())
    child.kill('SIGTERM')
  })

/** Runs one generator process and returns its JSON line. */
function generate<T>(env: NodeJS.ProcessEnv): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', here('./loadtest-generator.ts')], {
      env: {...process.env, ...env},
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? ''
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as T)
      else reject(new Error(`generator ${env.MODE} exited with ${code}: ${out.slice(-500)}`))
    })
  })
}

interface Closed {
  requests: number
  errors: number
  cpuUs: number
  wallS: number
  p99?: number
}
interface Open {
  summary: Omit<LoadSummary, 'histograms'>
  perSecond: number[]
  cpuUs: number
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits})
const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
const pct = (x: number) => `${x >= 0 ? '+' : ''}${fmt(x * 100, 2)} %`

/** Measures the engine; returns the bench table's rows. */
export async function measureLoadEngine(log: (line: string) => void = () => {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  // The figures carry the machine's load: on a shared 2-core machine every side gets what others leave.
  const loadAtStart = loadAverage()
  log(`  loadtest engine: load average at the start ${loadAtStart} (1, 5, 15 min)`)
  const bare = await startTarget()
  try {
    // 1. closed loop, interleaved rounds (ABBA), after a warm-up of each side.
    const base = {URL: bare.url, CONNECTIONS: String(CONNECTIONS)}
    await generate<Closed>({...base, MODE: 'engine', SECONDS: '2'})
    await generate<Closed>({...base, MODE: 'autocannon', SECONDS: '2'})
    const sides = {engine: [] as Closed[], autocannon: [] as Closed[], undici: [] as Closed[]}
    const names = Object.keys(sides) as (keyof typeof sides)[]
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 === 0 ? names : [...names].reverse()) {
        const r = await generate<Closed>({...base, MODE: mode, SECONDS: String(SECONDS)})
        sides[mode].push(r)
        log(
          `  loadtest engine round ${round + 1} ${mode}: ${fmt(r.requests / r.wallS)} req/s, ${fmt(r.cpuUs / r.requests, 1)} µs CPU/request, ${r.errors} errors`,
        )
      }
    }
    const {engine, autocannon: cannon, undici} = sides
    const rps = (rs: Closed[]) => median(rs.map((r) => r.requests / r.wallS))
    const cpuPer = (rs: Closed[]) => median(rs.map((r) => r.cpuUs / r.requests))
    const rpsRatio = rps(engine) / rps(cannon)
    const cpuRatio = cpuPer(engine) / cpuPer(cannon)
    rows.push({
      measure: `loadtest engine: req/s, GET / on bare Fastify, ${CONNECTIONS} connections (median of ${ROUNDS})`,
      value: fmt(rps(engine)),
      baseline: `${fmt(rps(cannon))} (autocannon)`,
      ratio: `${rpsRatio.toFixed(2)}×`,
      target: '≥ 0.85×',
      pass: rpsRatio >= 0.85,
    })
    rows.push({
      measure: 'loadtest engine: generator CPU per request (µs)',
      value: fmt(cpuPer(engine), 1),
      baseline: `${fmt(cpuPer(cannon), 1)} (autocannon)`,
      ratio: `${cpuRatio.toFixed(2)}×`,
      target: '≤ 1.35×',
      pass: cpuRatio <= 1.35,
    })
    rows.push({
      measure: 'loadtest engine: the same loops on undici Pool.dispatch (req/s, CPU µs per request)',
      value: `${fmt(rps(undici))}, ${fmt(cpuPer(undici), 1)}`,
      baseline: `${fmt(rps(cannon))}, ${fmt(cpuPer(cannon), 1)} (autocannon)`,
      ratio: `${(rps(undici) / rps(cannon)).toFixed(2)}×, ${(cpuPer(undici) / cpuPer(cannon)).toFixed(2)}×`,
      target: '(for scale)',
    })

    // 2. the open model at 5,000/s: the whole engine on the lab's scenario.
    const rate = OPEN_RATE
    // The engine alone first (no network: the target's share of the machine taken out), then for real.
    const local = await generate<Open>({URL: bare.url, MODE: 'open-local', RATE: String(rate), SECONDS: String(OPEN_SECONDS)})
    const open = await generate<Open>({URL: bare.url, MODE: 'open', RATE: String(rate), SECONDS: String(OPEN_SECONDS)})
    const achieved = open.summary.rate?.achieved ?? 0
    const full = open.perSecond.slice(0, OPEN_SECONDS)
    const worst = full.reduce((w, n) => (Math.abs(n / rate - 1) > Math.abs(w / rate - 1) ? n : w), rate)
    const lag = open.summary.schedulerLag
    log(`  open model ${rate}/s: per second ${full.join(', ')}; dropped ${open.summary.iterations.dropped}; errors ${open.summary.errors}`)
    rows.push({
      measure: `loadtest open model: achieved rate at ${fmt(rate)}/s over ${OPEN_SECONDS} s`,
      value: `${fmt(achieved, 1)}/s`,
      baseline: `${fmt(rate)}/s asked`,
      ratio: pct(achieved / rate - 1),
      target: '±0.5 %',
      pass: Math.abs(achieved / rate - 1) <= 0.005,
    })
    rows.push({
      measure: 'loadtest open model: worst full second',
      value: `${fmt(worst)}/s`,
      baseline: `${fmt(rate)}/s asked`,
      ratio: pct(worst / rate - 1),
      target: '±2 %',
      pass: full.length === OPEN_SECONDS && full.every((n) => Math.abs(n / rate - 1) <= 0.02),
    })
    rows.push({
      measure: `loadtest open model: scheduler lag p50 / p99 (ms) at ${fmt(rate)}/s`,
      value: `${fmt(lag?.p50 ?? Number.NaN, 3)} / ${fmt(lag?.p99 ?? Number.NaN, 3)}`,
      baseline: '',
      ratio: '',
      target: '≤ 1 / ≤ 25',
      pass: lag !== undefined && lag.p50 <= 1 && lag.p99 <= 25,
    })
    const localLag = local.summary.schedulerLag
    const localFull = local.perSecond.slice(0, OPEN_SECONDS)
    const localWorst = localFull.reduce((w, n) => (Math.abs(n / rate - 1) > Math.abs(w / rate - 1) ? n : w), rate)
    log(
      `  open model ${rate}/s, no network: per second ${localFull.join(', ')}; ${fmt(local.cpuUs / Math.max(1, local.summary.iterations.started), 1)} µs CPU per iteration`,
    )
    rows.push({
      measure: `loadtest open model, no network (in-process answers): achieved / worst second / lag p50, p99 (ms) at ${fmt(rate)}/s`,
      value: `${fmt(local.summary.rate?.achieved ?? 0, 1)}/s / ${fmt(localWorst)}/s / ${fmt(localLag?.p50 ?? Number.NaN, 3)}, ${fmt(localLag?.p99 ?? Number.NaN, 3)}`,
      baseline: `${fmt(rate)}/s asked`,
      ratio: pct((local.summary.rate?.achieved ?? 0) / rate - 1),
      target: '(for scale: the engine without the target)',
    })
  } finally {
    await stop(bare.child)
  }

  // 3. a server that stalls 300 ms every 2 s.
  const stalling = await startTarget({STALL_MS: '300', STALL_EVERY_MS: '2000'})
  try {
    const rate = 2000
    const open = await generate<Open>({URL: stalling.url, MODE: 'open', RATE: String(rate), SECONDS: String(OPEN_SECONDS)})
    const closed = await generate<Closed>({URL: stalling.url, MODE: 'autocannon', CONNECTIONS: String(CONNECTIONS), SECONDS: String(OPEN_SECONDS)})
    const closedEngine = await generate<Closed>({URL: stalling.url, MODE: 'engine', CONNECTIONS: String(CONNECTIONS), SECONDS: String(OPEN_SECONDS)})
    const p99 = open.summary.latency.add?.p99 ?? 0
    log(
      `  stalling server: open ${rate}/s add p99 ${fmt(p99, 1)} ms from the scheduled start, ${fmt(open.summary.latencyFromSend.add?.p99 ?? 0, 1)} ms from the send; closed loops: engine core p99 ${fmt(closedEngine.p99 ?? 0, 1)} ms`,
    )
    rows.push({
      measure: `loadtest open model: add p99 (ms) at ${fmt(rate)}/s, server stalling 300 ms every 2 s`,
      value: fmt(p99, 1),
      baseline: `closed loops: engine core ${fmt(closedEngine.p99 ?? 0, 1)}, autocannon ${fmt(closed.p99 ?? 0, 1)}`,
      ratio: '',
      target: '≥ 250',
      pass: p99 >= 250,
    })
  } finally {
    await stop(stalling.child)
  }
  const loadAtEnd = loadAverage()
  log(`  loadtest engine: load average at the end ${loadAtEnd}`)
  rows.push({
    measure: 'loadtest engine: load average (1, 5, 15 min) at the start → the end',
    value: `${loadAtStart} → ${loadAtEnd}`,
    baseline: '',
    ratio: '',
    target: '',
  })
  return rows
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await measureLoadEngine((line) => console.log(line))
  for (const r of rows)
    console.log(`${r.measure}: ${r.value} | ${r.baseline} | ${r.ratio} | ${r.target} | ${r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS'}`)
}
