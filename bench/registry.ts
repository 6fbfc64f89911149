/**
 * keda-lab as users get it, from a package registry: packs the built tree, publishes it to a real
 * npm registry on loopback (Verdaccio, proxying the registry npm uses here), and measures in a clean
 * HOME and npm cache:
 *
 *   - the tarball (packed bytes, unpacked bytes, files);
 *   - `npx --yes keda-lab@<version> --version` with registry and npx cache cold (the first run warms
 *     the registry's proxy cache), then BENCH_NPX_RUNS times with the registry warm and a new npx
 *     cache each time (target ≤ 5 s), then with the npx cache warm (≤ 0.5 s);
 *   - what lands in the npx cache (bytes, packages; target ≤ 30 MB).
 *
 * Run alone with `npx tsx bench/registry.ts` (after `npm run build`), or as part of `npm run bench`.
 */
import {mkdtempSync, readdirSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {cleanClient, npx, npxInstallDir, packProject, publish, removeClient, startRegistry, treeSize} from '../test/helpers/registry.js'

/** One line of the registry figures. */
export interface RegistryRow {
  measure: string
  value: string
  target: string
  verdict: '' | 'PASS' | 'MISS'
}

const NPX_RUNS = Number(process.env.BENCH_NPX_RUNS ?? 3)
const WARM_RUNS = Number(process.env.BENCH_NPX_WARM_RUNS ?? 5)

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
        const warms: number[] = []
        for (let j = 0; j < WARM_RUNS; j++) {
          const warm = await npx(client, spec, ['--version'])
          if (warm.exitCode !== 0) throw new Error(`npx ${spec} --version (warm) failed:\n${warm.all.slice(-2000)}`)
          warms.push(warm.ms)
        }
        log(`npx warm: ${warms.map(s).join(', ')}`)
        const cold = median(colds)
        const w = median(warms)
        rows.push({
          measure: `npx --version, registry warm, npx cold (median of ${colds.length})`,
          value: s(cold),
          target: '≤ 5 s',
          verdict: cold <= 5000 ? 'PASS' : 'MISS',
        })
        rows.push({measure: `npx --version, npx warm (median of ${warms.length})`, value: s(w), target: '≤ 0.5 s', verdict: w <= 500 ? 'PASS' : 'MISS'})
        removeClient(client)
      }
    }
    return rows
  } finally {
    await registry.stop()
    rmSync(work, {recursive: true, force: true})
  }
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
