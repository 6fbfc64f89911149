/**
 * keda-lab as users get it: packed, published to a real npm registry on loopback (Verdaccio 6, its
 * uplink the registry npm uses here), then run with `npx --yes keda-lab@<version>` in a clean HOME
 * and npm cache, from an empty folder. The package must hold exactly its `files` and everything it
 * needs: its templates, its Dockerfile and the bundle, with no dependency to install. Then `install
 * --dry-run` from that installed package against the real control plane (API server, kwok node):
 * the image build planned from the package itself on minikube and kind, and on any other cluster the
 * published image, asked of a real OCI registry (CNCF Distribution on loopback) before anything.
 */
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, relative} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseImageReference} from '../../src/adapters/registry.js'
import {packageJson, publishedImageName} from '../../src/config/package.js'
import {adminRequest, NODE_NAME} from '../cluster/control-plane.js'
import {useCluster} from '../cluster/harness.js'
import {getJson} from '../cluster/kube-test-helpers.js'
import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {repoRoot} from '../helpers/cli.js'
import {helmBinary} from '../helpers/helm.js'
import {type OciRegistry, startOciRegistry} from '../helpers/oci-registry.js'
import {freePort, runTracked} from '../helpers/processes.js'
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

  it('its entry point turns on Node’s compile cache, and runs the same where the cache cannot be written', async () => {
    // The installed bin/run.js run by Node alone (npm may use the cache itself), the cache's place
    // being the temporary folder: filled on the first run.
    const run = (tmp: string) =>
      runTracked(process.execPath, [join(installed, 'bin', 'run.js'), '--version'], {
        cwd: client.cwd,
        env: {...client.env, TMPDIR: tmp, NODE_COMPILE_CACHE: undefined},
        timeoutMs: 60_000,
      })
    const tmp = join(client.home, 'tmp')
    mkdirSync(tmp)
    const cached = await run(tmp)
    expect(cached.exitCode, cached.all).toBe(0)
    expect(cached.stdout).toMatch(new RegExp(`^keda-lab/${pkg.version.replaceAll('.', '\\.')} `))
    expect(readdirSync(join(tmp, 'node-compile-cache')).length, 'a cache folder per Node version').toBeGreaterThan(0)
    // A temporary "folder" that is a file: no cache, the same answer and nothing on stderr.
    const file = join(client.home, 'not-a-folder')
    writeFileSync(file, '')
    const uncached = await run(file)
    expect(uncached.exitCode, uncached.all).toBe(0)
    expect(uncached.stdout).toBe(cached.stdout)
    expect(uncached.stderr).toBe('')
  }, 120_000)

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

describe('npx keda-lab install --dry-run from the installed package, against the real control plane', () => {
  // A control plane of this file's own: the minikube case labels its (kwok) node, which would turn
  // every other file's cluster into "minikube" for as long as the label is there.
  const cluster = useCluster(import.meta.url, {dedicated: true, namespace: false})
  let chartRepo: ChartRepo
  let oci: OciRegistry
  let work: string
  beforeAll(async () => {
    // An empty chart repository listing the pinned versions: pre-flight's probe of the repositories
    // answers without the internet; a dry run installs nothing from it.
    ;[chartRepo, oci] = await Promise.all([startChartRepo({charts: [], listPinned: true}), startOciRegistry()])
    work = mkdtempSync(join(tmpdir(), 'keda-lab-registry-install-'))
    // Run alone (-t), the first test has not installed the package yet.
    if (!installed) {
      const first = await npx(client, spec, ['--version'])
      expect(first.exitCode, first.all).toBe(0)
      installed = join(npxInstallDir(client), 'node_modules', 'keda-lab')
    }
  }, 600_000)
  afterAll(async () => {
    await Promise.allSettled([chartRepo?.close(), oci?.stop()])
    if (work) rmSync(work, {recursive: true, force: true})
  })

  const published = `${publishedImageName(packageJson())}:${pkg.version}`
  /** `npx keda-lab@<version> install --dry-run …` as a user runs it, with the real helm on PATH. */
  const dryRun = (options: {kubeconfig?: string; mirror: string}) =>
    npx(
      client,
      spec,
      ['install', '--yes', '--dry-run', '-n', 'lab', '--no-monitoring', '--no-webhook', '--no-redis-persistence', '--output', join(work, 'out')],
      {
        env: {
          KUBECONFIG: options.kubeconfig ?? cluster.kubeconfig,
          PATH: `${dirname(helmBinary(4))}:${client.env.PATH}`,
          HELM_CONFIG_HOME: join(work, 'helm', 'config'),
          HELM_CACHE_HOME: join(work, 'helm', 'cache'),
          HELM_DATA_HOME: join(work, 'helm', 'data'),
          KEDA_LAB_CHART_REPO: chartRepo.chartRepoEnv(),
          // Where pre-flight asks for the published image instead of ghcr.io (never the internet).
          KEDA_LAB_REGISTRY_MIRROR: options.mirror,
        },
        timeoutMs: 180_000,
      },
    )
  const setNodeLabel = async (value: string | null) => {
    const res = await adminRequest(
      cluster.kubeconfig,
      'PATCH',
      `/api/v1/nodes/${NODE_NAME}`,
      {metadata: {labels: {'minikube.k8s.io/name': value}}},
      'application/merge-patch+json',
    )
    expect(res.status, res.body).toBe(200)
  }
  /** What the package's Dockerfile copies into the image, every source present in `dir`. */
  const expectBuildContext = (dir: string) => {
    const sources = readFileSync(join(dir, 'Dockerfile'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('COPY '))
      .flatMap((line) => line.split(/\s+/).slice(1, -1))
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'bin/run.js', 'dist', 'templates']))
    for (const source of sources) expect(existsSync(join(dir, source)), `${source} in the build context ${dir}`).toBe(true)
  }

  it('on minikube (its node label): plans `minikube image build` from the installed package', async () => {
    await setNodeLabel('lab')
    try {
      const r = await dryRun({mirror: `http://127.0.0.1:${await freePort()}`})
      expect(r.exitCode, r.all).toBe(0)
      expect(r.stdout).toMatch(/√ cluster kind: minikube \(lab\), 1 node: the image is built into it/)
      expect(r.stdout).toMatch(/- application image: built into the cluster from this package/)
      const build = new RegExp(`\\$ \\(cd ${literal(installed)} && minikube image build -t keda-lab:\\d+\\.\\d+\\.\\d+-\\d{8}T\\d{6} -p lab \\.\\)`)
      expect(r.stdout).toMatch(build)
      expectBuildContext(installed)
      // The plan's helm commands are for this cluster's real API server.
      expect(r.stdout).toContain('helm upgrade --install keda-lab ')
    } finally {
      await setNodeLabel(null)
    }
  }, 240_000)

  it('on kind (its context name): plans `docker build` from the installed package, then `kind load`', async () => {
    const kubeconfig = join(work, 'kind.kubeconfig')
    writeFileSync(kubeconfig, readFileSync(cluster.kubeconfig, 'utf8').replaceAll('keda-lab-test', 'kind-lab'), {mode: 0o600})
    const r = await dryRun({kubeconfig, mirror: `http://127.0.0.1:${await freePort()}`})
    expect(r.exitCode, r.all).toBe(0)
    expect(r.stdout).toMatch(/√ cluster kind: kind \(lab\), 1 node: the image is built into it/)
    expect(r.stdout).toMatch(new RegExp(`\\$ \\(cd ${literal(installed)} && docker build -t keda-lab:\\d+\\.\\d+\\.\\d+-\\d{8}T\\d{6} \\.\\)`))
    expect(r.stdout).toMatch(/\$ kind load docker-image keda-lab:\d+\.\d+\.\d+-\d{8}T\d{6} --name lab/)
    expectBuildContext(installed)
  }, 240_000)

  it('on any other cluster: plans the published image once its registry says it exists; stops before anything when it does not', async () => {
    const mirror = `http://${oci.host}`
    // Not published (today's state of the real name): pre-flight stops, says so, and gives the fix.
    const missing = await dryRun({mirror})
    expect(missing.exitCode, missing.all).toBe(1)
    expect(missing.stdout).toContain(`√ cluster kind: other, 1 node: pulls ${published}`)
    expect(missing.stdout).toContain(`× application image: ${published} does not exist: `)
    expect(missing.stdout).toContain('no image of this keda-lab version is published under that name')
    expect(missing.stderr).toContain(
      `Fix: build and push the image yourself and pass it: docker build -t <registry>/<you>/keda-lab:<tag> ${installed} && docker push`,
    )
    expect(missing.stderr).toContain('nothing was changed')
    expect(missing.stdout).not.toContain('helm upgrade --install')
    expect(await getJson(cluster.kubeconfig, '/api/v1/namespaces/lab')).toBeUndefined()

    // Published (pushed to the real registry the check asks): the plan pulls it.
    const digest = await oci.push(parseImageReference(published).repository, pkg.version)
    const found = await dryRun({mirror})
    expect(found.exitCode, found.all).toBe(0)
    expect(found.stdout).toContain(`√ application image: ${published} exists (${digest.slice(0, 19)}…) (asked ${mirror})`)
    expect(found.stdout).toContain(`pulling ${published}, the published image of keda-lab ${pkg.version}`)
    expect(found.stdout).not.toContain('docker build')

    // Offline (the registry does not answer): a warning that says why, and the plan goes on.
    const offline = await dryRun({mirror: `http://127.0.0.1:${await freePort()}`})
    expect(offline.exitCode, offline.all).toBe(0)
    expect(offline.stdout).toMatch(new RegExp(`‼ application image: could not check ${literal(published)}: .*ECONNREFUSED`))
    expect(offline.stdout).toContain(`pulling ${published}, the published image of keda-lab ${pkg.version}`)
  }, 400_000)
})

/** `text` as a literal inside a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
