/**
 * keda-lab as users get it: packed, published to a real npm registry on loopback (Verdaccio 6, its
 * uplink the registry npm uses here), then run with `npx --yes keda-lab@<version>` in a clean HOME
 * and npm cache, from an empty folder. The package must hold exactly its `files` and everything it
 * needs: its templates, its Dockerfile and the bundle, with no dependency to install.
 */
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {packageJson} from '../../src/config/package.js'
import {publishedImage} from '../../src/lab/install/image.js'
import {repoRoot} from '../helpers/cli.js'
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
} from '../helpers/registry.js'
import {BASE_ARGS, FAKE_BIN, type Lab, startLab} from './install-harness.js'

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {version: string; files: string[]}
const spec = `keda-lab@${pkg.version}`

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    return statSync(path).isDirectory() ? listFiles(path) : [path]
  })
}

let registry: LoopbackRegistry
let publisher: CleanClient
let client: CleanClient
let installed: string

beforeAll(async () => {
  registry = await startRegistry()
  publisher = cleanClient(registry)
  await publish(publisher, registry, await packProject(publisher.cwd))
  client = cleanClient(registry)
}, 300_000)
afterAll(async () => {
  await registry?.stop()
  for (const c of [publisher, client]) if (c) removeClient(c)
})

describe('npx keda-lab from a loopback npm registry (Verdaccio)', () => {
  it('--version and --help work from an empty folder with a clean HOME and npm cache', async () => {
    const version = await npx(client, spec, ['--version'])
    expect(version.exitCode, version.all).toBe(0)
    expect(version.stdout).toMatch(new RegExp(`^keda-lab/${pkg.version.replaceAll('.', '\\.')} `))
    installed = join(npxInstallDir(client), 'node_modules', 'keda-lab')
    const help = await npx(client, spec, ['--help'])
    expect(help.exitCode, help.all).toBe(0)
    for (const command of ['install', 'render', 'doctor', 'status', 'uninstall', 'dev', 'serve']) expect(help.stdout).toContain(command)
    const installHelp = await npx(client, spec, ['help', 'install'])
    expect(installHelp.stdout).toContain('--image-pull-secret')
  }, 600_000)

  it('installs nothing but keda-lab itself, and holds only its `files` and everything they name', () => {
    const modules = readdirSync(join(installed, '..')).filter((name) => !name.startsWith('.'))
    expect(modules).toEqual(['keda-lab'])
    const files = listFiles(installed).map((f) => relative(installed, f))
    const allowed = (f: string) => ['package.json', 'README.md', 'LICENSE'].includes(f) || pkg.files.some((entry) => f === entry || f.startsWith(`${entry}/`))
    expect(files.filter((f) => !allowed(f))).toEqual([])
    for (const entry of pkg.files)
      expect(
        files.some((f) => f === entry || f.startsWith(`${entry}/`)),
        `${entry} is in the package`,
      ).toBe(true)
    // Everything the templates folder of the checkout holds (a missing template fails here).
    const templates = listFiles(join(repoRoot, 'templates')).map((f) => relative(repoRoot, f))
    expect(templates.filter((t) => !files.includes(t))).toEqual([])
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('src/'))).toEqual([])
  })
})

describe('npx keda-lab install --dry-run from the installed package', () => {
  let lab: Lab | undefined
  afterAll(async () => lab?.close())

  const run = (l: Lab, args: string[]) =>
    npx(client, spec, ['install', ...BASE_ARGS, '--no-monitoring', '--dry-run', ...args], {
      env: {...l.env, PATH: `${FAKE_BIN}:${client.env.PATH}`, HOME: client.home},
      timeoutMs: 120_000,
    })

  it('on kind: plans the image build from the installed package (its Dockerfile and dist/)', async () => {
    lab = await startLab({kind: 'kind', nodes: 1})
    const r = await run(lab, ['--expose', 'NodePort'])
    expect(r.exitCode, r.all).toBe(0)
    expect(r.stdout).toMatch(/docker build -t keda-lab:\d+\.\d+\.\d+-\d{8}T\d{6} \./)
    expect(r.stdout).toContain(installed)
    await lab.close()
    lab = undefined
  }, 180_000)

  it('on another cluster: plans the published image, after the pre-flight image check', async () => {
    lab = await startLab({kind: 'other', nodes: 2})
    const r = await run(lab, [])
    expect(r.exitCode, r.all).toBe(0)
    expect(r.stdout).toContain(`pulling ${publishedImage(packageJson())}, the published image of keda-lab ${pkg.version}`)
    // The harness points the check at a closed loopback port: the offline warning, with its reason.
    expect(r.stdout).toMatch(/‼ application image: could not check .*ECONNREFUSED/)
  }, 180_000)
})
