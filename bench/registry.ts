/**
 * keda-lab as users get it, from a package registry: packs the built tree, publishes it to a real
 * npm registry on loopback (Verdaccio, proxying the registry npm uses here), and measures in a clean
 * HOME and npm cache:
 *
 *   - the tarball (packed bytes, unpacked bytes, files);
 *   - `npx --yes keda-lab@<version> --version` with registry and npx cache cold (the first run warms
 *     the registry's proxy cache), then BENCH_NPX_RUNS times with the registry warm and a new npx
 *     cache each time (target ≤ 5 s), then with the npx cache warm (≤ 0.5 s);
 *   - where the warm time goes, each side measured in the same rounds: keda-lab alone (`node
 *     bin/run.js --version`), npx's own floor (npx running a one-line package), Node's start-up;
 *   - what lands in the npx cache (bytes, packages; target ≤ 30 MB);
 *   - the load average (1 min) at the start and the end: on a shared machine, read the times with it.
 *
 * Run alone with `npx tsx bench/registry.ts` (after `npm run build`), or as part of `npm run bench`.
 */
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {runTracked} from '../test/helpers/processes.js'
import {
  type CleanClient,
  cleanClient,
  type LoopbackRegistry,
  npx,
  npxInstallDir,
  packProject,
  publish,
  removeClient,
  startRegistry,
  treeSize,
} from '../test/helpers/registry.js'

/** One line of the registry figures. */
export interface RegistryRow {
  measure: string
  value: string
  target: string
  verdict: '' | 'PASS' | 'MISS'
}

const NPX_RUNS = Number(process.env.BENCH_NPX_RUNS ?? 3)
const WARM_RUNS = Number(process.env.BENCH_NPX_WARM_RUNS ?? 7)

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

/** Packages installed under a node_modules tree (every folder holding a package.json directly under a node_modules). */
function countPackages(nodeModules: string): number {
  let n = 0
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, {withFileTypes: true})) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue
      const p = join(dir, entry.name)
      if (entry.name.startsWith('@')) {
        visit(p)
        continue
      }
      try {
        if (statSync(join(p, 'package.json')).isFile()) n++
      } catch {
        continue
      }
      try {
        if (statSync(join(p, 'node_modules')).isDirectory()) visit(join(p, 'node_modules'))
      } catch {
        // no nested node_modules
      }
    }
  }
  visit(nodeModules)
  return n
}

/** Measures the packed CLI from a loopback registry; returns the rows to print. */
export async function measureRegistry(log: (line: string) => void = console.error): Promise<RegistryRow[]> {
  const load0 = loadavg()[0]
  const work = mkdtempSync(join(tmpdir(), 'keda-lab-bench-registry-'))
  const registry = await startRegistry({storageDir: join(work, 'verdaccio')})
  try {
    const tarball = await packProject(work)
    const packed = statSync(tarball).size
    const publisher = cleanClient(registry, join(work, 'publisher'))
    await publish(publisher, registry, tarball)
    const spec = `keda-lab@${await latest(registry.url)}`
    const rows: RegistryRow[] = [{measure: 'tarball (npm pack)', value: mb(packed), target: '', verdict: ''}]

    const first = cleanClient(registry, join(work, 'cold-0'))
    const cold0 = await npx(first, spec, ['--version'])
    if (cold0.exitCode !== 0) throw new Error(`npx ${spec} --version failed:\n${cold0.all.slice(-2000)}`)
    log(`npx cold, registry cold: ${s(cold0.ms)}`)
    const installed = npxInstallDir(first)
    const footprint = treeSize(installed)
    const packages = countPackages(join(installed, 'node_modules'))
    const own = treeSize(join(installed, 'node_modules', 'keda-lab'))
    rows.push({measure: 'keda-lab unpacked', value: `${mb(own.bytes)} in ${own.files} files`, target: '', verdict: ''})
    rows.push({
      measure: 'npx footprint',
      value: `${mb(footprint.bytes)} in ${packages} packages`,
      target: '≤ 30 MB',
      verdict: footprint.bytes <= 30e6 ? 'PASS' : 'MISS',
    })
    rows.push({measure: 'npx --version, registry and npx cold', value: s(cold0.ms), target: '', verdict: ''})
    removeClient(first)

    const colds: number[] = []
    for (let i = 1; i <= NPX_RUNS; i++) {
      const client = cleanClient(registry, join(work, `cold-${i}`))
      const run = await npx(client, spec, ['--version'])
      if (run.exitCode !== 0) throw new Error(`npx ${spec} --version failed:\n${run.all.slice(-2000)}`)
      colds.push(run.ms)
      log(`npx cold, registry warm: ${s(run.ms)}`)
      if (i < NPX_RUNS) removeClient(client)
      else {
        const cold = median(colds)
        rows.push({
          measure: `npx --version, registry warm, npx cold (median of ${colds.length})`,
          value: s(cold),
          target: '≤ 5 s',
          verdict: cold <= 5000 ? 'PASS' : 'MISS',
        })
        rows.push(...(await measureWarm(client, registry, spec, join(work, 'floor'), log)))
        removeClient(client)
      }
    }
    rows.push({measure: 'load average (1 min), start → end', value: `${load0?.toFixed(1)} → ${loadavg()[0]?.toFixed(1)}`, target: '', verdict: ''})
    return rows
  } finally {
    await registry.stop()
    rmSync(work, {recursive: true, force: true})
  }
}

/**
 * Where a warm `npx keda-lab --version` spends its time, every side measured in the same rounds
 * (one run of each per round, WARM_RUNS rounds, medians), so that a loaded machine slows them alike:
 *
 * - `npx keda-lab@<version>` and `npx keda-lab` (by name only, what users type). Either way npx asks
 *   the registry for the package's metadata on every run, its cache warm or not: npm's libnpmexec
 *   looks the spec up with `preferOnline` before it looks at its npx cache (npm 11.19);
 * - `npx --offline keda-lab@<version>` (npm_config_offline): the same without that request;
 * - keda-lab alone: `node <the installed package>/bin/run.js --version`, no npm involved;
 * - npx's own floor: the same `npx` running a one-line package (`console.log`) published to the same
 *   registry: what npm does before it starts any package's bin (its start-up and config, the registry
 *   request, reading its trees and the npx cache, the shell it runs the bin in);
 * - Node's own start-up, `node -e 0`.
 */
async function measureWarm(
  client: CleanClient,
  registry: LoopbackRegistry,
  spec: string,
  floorDir: string,
  log: (line: string) => void,
): Promise<RegistryRow[]> {
  const floorSpec = 'keda-lab-npx-floor@1.0.0'
  mkdirSync(join(floorDir, 'bin'), {recursive: true})
  writeFileSync(
    join(floorDir, 'package.json'),
    JSON.stringify({name: 'keda-lab-npx-floor', version: '1.0.0', bin: {'keda-lab-npx-floor': 'bin/floor.js'}, files: ['bin']}),
  )
  writeFileSync(join(floorDir, 'bin', 'floor.js'), "#!/usr/bin/env node\nconsole.log('keda-lab-npx-floor/1.0.0')\n")
  await publish(client, registry, floorDir)
  const runJs = join(npxInstallDir(client), 'node_modules', 'keda-lab', 'bin', 'run.js')
  const timed = async (what: string, run: () => Promise<{exitCode: number | null; all: string}>): Promise<Sample> => {
    const c0 = childrenCpuMs()
    const t0 = performance.now()
    const r = await run()
    const wall = performance.now() - t0
    if (r.exitCode !== 0) throw new Error(`${what} failed:\n${r.all.slice(-2000)}`)
    return {wall, cpu: childrenCpuMs() - c0}
  }
  const node = (args: string[]) => runTracked(process.execPath, args, {cwd: client.cwd, env: client.env, timeoutMs: 60_000})
  const sides = {
    spec: () => timed(`npx ${spec} --version`, () => npx(client, spec, ['--version'])),
    name: () => timed('npx keda-lab --version', () => npx(client, 'keda-lab', ['--version'])),
    offline: () => timed(`npx --offline ${spec} --version`, () => npx(client, spec, ['--version'], {env: {npm_config_offline: 'true'}})),
    direct: () => timed(`node ${runJs} --version`, () => node([runJs, '--version'])),
    floor: () => timed(`npx ${floorSpec}`, () => npx(client, floorSpec, [])),
    node: () => timed('node -e 0', () => node(['-e', '0'])),
  }
  // npx keeps one install per spec list: `keda-lab` and the floor get theirs before timing.
  await sides.name()
  await sides.floor()
  const samples: Record<keyof typeof sides, Sample[]> = {spec: [], name: [], offline: [], direct: [], floor: [], node: []}
  for (let round = 0; round < WARM_RUNS; round++) {
    for (const side of Object.keys(sides) as (keyof typeof sides)[]) samples[side].push(await sides[side]())
  }
  for (const [side, xs] of Object.entries(samples)) log(`warm ${side}: ${xs.map((x) => `${s(x.wall)} (CPU ${s(x.cpu)})`).join(', ')}`)
  const wall = (side: keyof typeof sides) => median(samples[side].map((x) => x.wall))
  // CPU time of the whole process tree (npx, its shell, the bin): what a busy machine changes least.
  const both = (side: keyof typeof sides) => `${s(wall(side))} (CPU ${s(median(samples[side].map((x) => x.cpu)))})`
  const n = `median of ${WARM_RUNS}, wall (CPU)`
  const row = (measure: string, value: string): RegistryRow => ({measure, value, target: '', verdict: ''})
  return [
    {
      measure: `npx ${spec.replace(/@.*/, '@<version>')} --version, npx warm (${n})`,
      value: both('spec'),
      target: '≤ 0.5 s',
      verdict: wall('spec') <= 500 ? 'PASS' : 'MISS',
    },
    row(`npx keda-lab --version (by name), npx warm (${n})`, both('name')),
    row(`npx --offline keda-lab@<version> --version: no registry request (${n})`, both('offline')),
    row(`  keda-lab alone: node bin/run.js --version (${n})`, both('direct')),
    row(`  npx's own floor: npx running a one-line package (${n})`, both('floor')),
    row(`  node -e 0 (${n})`, both('node')),
  ]
}

/** Wall and CPU milliseconds of one run. */
interface Sample {
  wall: number
  cpu: number
}

/**
 * CPU time (user + system, ms) of this process's terminated and waited-for children, their own
 * children included: fields cutime and cstime of /proc/self/stat, in clock ticks (100 per second).
 */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces: state is field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[13]) + Number(fields[14])
  return ticks * 10
}

/** The version the registry calls latest (the one just published). */
async function latest(url: string): Promise<string> {
  const doc = (await (await fetch(`${url}keda-lab`)).json()) as {'dist-tags': {latest: string}}
  return doc['dist-tags'].latest
}

/** Prints the rows as an aligned table. */
export function printRegistryRows(rows: RegistryRow[]): void {
  const w0 = Math.max(...rows.map((r) => r.measure.length))
  const w1 = Math.max(...rows.map((r) => r.value.length))
  const w2 = Math.max(...rows.map((r) => r.target.length))
  for (const r of rows) console.log(`${r.measure.padEnd(w0)}  ${r.value.padEnd(w1)}  ${r.target.padEnd(w2)}  ${r.verdict}`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await measureRegistry()
  printRegistryRows(rows)
  process.exit(0)
}
