/**
 * `npx tsx bench/loadtest-profile.ts engine|open`: where the load engine spends its CPU.
 *
 * Starts the bench target (bench/loadtest-target.ts), runs one side of bench/loadtest-generator.ts
 * under `node --cpu-prof` (MODE engine: the HTTP core in 50 closed loops; MODE open: the whole
 * engine at RATE/s, default 5,000), prints its figures and the top self-time frames and areas.
 * CPU time is robust to the machine's load, where req/s is not. Knobs: SECONDS (default 8), RATE.
 * The .cpuprofile stays in the printed directory for Chrome DevTools / speedscope.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {freePort} from '../src/lab/dev/net.js'

interface ProfileNode {
  id: number
  callFrame: {functionName: string; url: string; lineNumber: number}
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))
const mode = process.argv[2] === 'open' ? 'open' : 'engine'
const seconds = process.env.SECONDS ?? '8'

/** Area of a frame: a package, a node: module, keda-lab's own code, or a V8 pseudo-frame. */
function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)'
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (match?.[1]) return match[1]
  if (url.includes('/src/') || url.includes('/bench/')) return 'keda-lab'
  return url
}

function summarise(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const frames = new Map<string, number>()
  const areas = new Map<string, number>()
  let totalMs = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    if (!node) return
    const ms = (profile.timeDeltas[i] ?? 0) / 1000
    const {callFrame} = node
    totalMs += ms
    const file = callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')
    const key = `${callFrame.functionName || '(anonymous)'} ${file}:${callFrame.lineNumber + 1}`
    frames.set(key, (frames.get(key) ?? 0) + ms)
    const a = area(callFrame.url, callFrame.functionName)
    areas.set(a, (areas.get(a) ?? 0) + ms)
  })
  const sorted = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1])
  return {frames: sorted(frames), areas: sorted(areas), totalMs}
}

const port = await freePort()
const target: ChildProcess = spawn(process.execPath, ['--import', 'tsx', here('./loadtest-target.ts')], {
  env: {...process.env, PORT: String(port)},
  stdio: ['ignore', 'pipe', 'inherit'],
})
try {
  await new Promise<void>((resolve, reject) => {
    target.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve())
    target.on('exit', (code) => reject(new Error(`the bench target exited with ${code}`)))
  })
  const dir = mkdtempSync(join(tmpdir(), 'keda-lab-loadtest-profile-'))
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '--import', 'tsx', here('./loadtest-generator.ts')], {
      env: {...process.env, URL: `http://127.0.0.1:${port}`, MODE: mode, SECONDS: seconds, CONNECTIONS: '50', RATE: process.env.RATE ?? '5000'},
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let text = ''
    child.stdout?.on('data', (d: Buffer) => (text += d.toString()))
    child.on('exit', (code) => (code === 0 ? resolve(text.trim().split('\n').at(-1) ?? '') : reject(new Error(`generator exited ${code}`))))
  })
  const result = JSON.parse(out) as {
    requests?: number
    cpuUs: number
    wallS?: number
    summary?: {requests: {add: number; status: number}; rate?: unknown; schedulerLag?: {p50: number; p99: number}}
  }
  const requests = result.requests ?? (result.summary ? result.summary.requests.add + result.summary.requests.status : 0)
  console.log(
    `${mode}: ${requests} requests, ${(result.cpuUs / requests).toFixed(1)} µs CPU per request${result.summary ? `, rate ${JSON.stringify(result.summary.rate)}, lag p50/p99 ${result.summary.schedulerLag?.p50}/${result.summary.schedulerLag?.p99} ms` : ''}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error(`no .cpuprofile in ${dir}`)
  const {frames, areas, totalMs} = summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile)
  const pct = (ms: number) => `${((ms / totalMs) * 100).toFixed(1).padStart(5)} %`
  console.log(`\nSelf time by area (${Math.round(totalMs)} ms sampled, whole process life):`)
  for (const [name, ms] of areas.slice(0, 12)) console.log(`  ${pct(ms)}  ${name}`)
  console.log('\nTop self-time frames:')
  for (const [name, ms] of frames.slice(0, 30)) console.log(`  ${pct(ms)}  ${name}`)
  console.log(`\nProfile: ${join(dir, file)}`)
} finally {
  target.kill('SIGTERM')
}
