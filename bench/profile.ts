/**
 * `npx tsx bench/profile.ts [add|status]`: where the API spends its CPU on one hot route.
 *
 * Starts a real redis-server and the built API (`node --cpu-prof bin/run.js serve api`, default
 * configuration: LOG_LEVEL=info, logs to a file as a pod's stdout would be read), drives the route
 * with autocannon (BENCH_CONNECTIONS, default 50, for PROFILE_SECONDS, default 10), reports req/s and
 * the API's CPU time per request (from its process_cpu_seconds_total, steady on a busy machine), stops the API
 * with SIGTERM so that V8 writes the profile, and prints the top self-time frames and the share of
 * time per package (fastify, pino, ioredis, bullmq, keda-lab, node internals).
 * The .cpuprofile file stays in the printed directory for Chrome DevTools / speedscope.
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import autocannon from 'autocannon'

import {freePort} from '../src/lab/dev/net.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const route = process.argv[2] === 'status' ? 'status' : 'add'
const seconds = Number(process.env.PROFILE_SECONDS ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)

interface Node {
  id: number
  callFrame: {functionName: string; url: string; lineNumber: number}
  hitCount?: number
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
}

/** Package (or area) a frame belongs to, from its script URL. */
function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)'
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (match) return match[1]!
  if (url.includes('/dist/') || url.includes('/src/')) return 'keda-lab'
  return url
}

/** Self time per frame and per area, in ms, from a V8 .cpuprofile. */
export function summarise(profile: Profile): {frames: [string, number][]; areas: [string, number][]; totalMs: number} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  }
  const frames = new Map<string, number>()
  const areas = new Map<string, number>()
  let totalMs = 0
  for (const [id, ms] of self) {
    const {callFrame} = byId.get(id)!
    totalMs += ms
    const file = callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src)\//, '$1/')
    const key = `${callFrame.functionName || '(anonymous)'} ${file}:${callFrame.lineNumber + 1}`
    frames.set(key, (frames.get(key) ?? 0) + ms)
    const a = area(callFrame.url, callFrame.functionName)
    areas.set(a, (areas.get(a) ?? 0) + ms)
  }
  const sorted = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1])
  return {frames: sorted(frames), areas: sorted(areas), totalMs}
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'keda-lab-profile-'))
  const redisPort = await freePort()
  const redisBinary = spawnSync('sh', ['-c', 'command -v redis-server'], {encoding: 'utf8'}).stdout.trim()
  if (!redisBinary) throw new Error('redis-server is not on PATH: sudo apt-get install redis-server')
  const redis = spawn(redisBinary, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {stdio: 'ignore'})
  const port = await freePort()
  const metricsPort = await freePort()
  const cpuMs = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    return Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1]) * 1000
  }
  const log = createWriteStream(join(dir, 'api.log'))
  let api: ChildProcess | undefined
  try {
    api = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, join(repoRoot, 'bin', 'run.js'), 'serve', 'api'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        HOST: '127.0.0.1',
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        TASK_ITERATIONS: '0',
        QUEUE_NAME: 'profile',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    api.stdout!.pipe(log)
    api.stderr!.pipe(log)
    const base = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 30_000
    for (;;) {
      const ok = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) break
      if (Date.now() > deadline) throw new Error(`the API did not become ready; see ${join(dir, 'api.log')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    let url = `${base}/api/tasks/add`
    let method: 'GET' | 'POST' = 'POST'
    if (route === 'status') {
      const id = ((await (await fetch(url, {method: 'POST'})).json()) as {result: {id: string}}).result.id
      url = `${base}/api/tasks/status/${id}`
      method = 'GET'
    }
    await autocannon({url, method, connections, duration: 2})
    const cpuBefore = await cpuMs()
    const result = await autocannon({url, method, connections, duration: seconds})
    // CPU per request holds still on a busy machine, where req/s follows the other work.
    const cpuPerRequest = ((await cpuMs()) - cpuBefore) / result.requests.total
    console.log(
      `${method} ${url.replace(base, '')}: ${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms, API CPU ${(cpuPerRequest * 1000).toFixed(0)} µs per request, ${connections} connections, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} on ${cpus().length} CPU(s)`,
    )
    await new Promise<void>((resolve) => {
      api!.once('exit', () => resolve())
      api!.kill('SIGTERM')
    })
  } finally {
    if (api && api.exitCode === null) api.kill('SIGKILL')
    redis.kill('SIGKILL')
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`)
  const {frames, areas, totalMs} = summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile)
  const pct = (ms: number) => `${((ms / totalMs) * 100).toFixed(1).padStart(5)} %`
  console.log(`\nSelf time by area (${Math.round(totalMs)} ms sampled, whole process life):`)
  for (const [name, ms] of areas.slice(0, 12)) console.log(`  ${pct(ms)}  ${name}`)
  console.log('\nTop self-time frames:')
  for (const [name, ms] of frames.slice(0, 25)) console.log(`  ${pct(ms)}  ${name}`)
  console.log(`\nProfile: ${join(dir, file)}`)
  rmSync(join(dir, 'dump.rdb'), {force: true})
}

await main()
