/**
 * Installs without access to the chart repositories, as a user runs them:
 * - `keda-lab charts pull DIR` with the REAL Helm 3 and Helm 4 against a REAL loopback chart
 *   repository (test/helpers/chart-repo.ts: stand-in charts packaged and indexed by helm);
 * - `install --charts DIR` and `--chart-repo NAME=URL` with the recording fake helm and the fake
 *   Kubernetes API (test/e2e/install-harness.ts): the commands they plan, the manifest checks, and
 *   the pre-flight probe of the repositories (a closed loopback port is an unreachable repository).
 */
import {createHash} from 'node:crypto'
import {appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {createHelm} from '../../src/adapters/helm.js'
import {CHARTS_MANIFEST, type ChartsManifest, pullCharts} from '../../src/lab/chart-sources.js'
import {CHARTS} from '../../src/lab/charts.js'
import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {runCli} from '../helpers/cli.js'
import {helmBinary} from '../helpers/helm.js'
import {freePort} from '../helpers/processes.js'
import {BASE_ARGS, type Lab, startLab} from './install-harness.js'

const PINNED = Object.values(CHARTS)
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

let repo: ChartRepo
let scratch: string
/** Charts pulled once (in-process, real Helm 3) for the install tests. */
let pulled: string

/** Environment that keeps Helm away from the user's repositories and cache. */
function helmEnv(major: 3 | 4, home: string): NodeJS.ProcessEnv {
  return {
    PATH: `${join(helmBinary(major), '..')}:${process.env.PATH}`,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    KEDA_LAB_CHART_REPO: '',
  }
}

beforeAll(async () => {
  repo = await startChartRepo()
  scratch = mkdtempSync(join(tmpdir(), 'keda-lab-charts-offline-'))
  pulled = join(scratch, 'pulled')
  const env = {...process.env, ...helmEnv(3, join(scratch, 'helm-home'))}
  await pullCharts({dir: pulled, chartRepos: repo.chartRepoEnv().split(','), helm: createHelm({bin: helmBinary(3), env})})
}, 180_000)

afterAll(async () => {
  await repo?.close()
  if (scratch) rmSync(scratch, {recursive: true, force: true})
})

describe.each([3, 4] as const)('keda-lab charts pull (real Helm %i, loopback chart repository)', (major) => {
  it('pulls every pinned chart with `helm pull --version` and writes the manifest of versions and sha256 digests', async () => {
    const dir = join(scratch, `pull-helm${major}`)
    const r = await runCli(['charts', 'pull', dir, ...repo.chartRepoArgs()], {env: helmEnv(major, join(scratch, `home${major}`)), timeoutMs: 120_000})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(readdirSync(dir).sort()).toEqual([...PINNED.map((c) => `${c.chart}-${c.version}.tgz`), CHARTS_MANIFEST].sort())
    const manifest = JSON.parse(readFileSync(join(dir, CHARTS_MANIFEST), 'utf8')) as ChartsManifest
    expect(manifest.kind).toBe('keda-lab-charts')
    expect(manifest.pulledWith).toMatch(new RegExp(`^v${major}\\.`))
    expect(manifest.charts.map((c) => `${c.chart}@${c.version}`)).toEqual(PINNED.map((c) => `${c.chart}@${c.version}`))
    for (const entry of manifest.charts) {
      expect(entry.sha256).toBe(sha256(join(dir, entry.file)))
      // What helm downloaded is the archive the repository serves, byte for byte.
      expect(entry.sha256).toBe(sha256(repo.charts.find((c) => c.chart === entry.chart)!.file))
      expect(entry.repoUrl).toBe(repo.repoUrl(CHARTS[entry.name].repoName))
      expect(r.stdout).toContain(`${entry.chart} ${entry.version}  ${entry.file}  sha256:${entry.sha256}`)
    }
    // Each chart came from its own repository on the loopback server.
    for (const c of PINNED) expect(repo.requests).toContain(`/${c.repoName}/${c.chart}-${c.version}.tgz`)
  })
})

describe('keda-lab charts pull errors', () => {
  it('a repository without the pinned version: names the chart, the version and the repository', async () => {
    const stale = await startChartRepo({charts: ['alloy'], versions: {alloy: '1.10.0'}})
    try {
      const dir = join(scratch, 'pull-stale')
      const r = await runCli(['charts', 'pull', dir, ...stale.chartRepoArgs()], {env: helmEnv(3, join(scratch, 'home-stale')), timeoutMs: 120_000})
      expect(r.code).toBe(1)
      // keda comes first: this repository serves no keda at all.
      expect(r.stderr).toContain(`Error: helm pull keda ${CHARTS.keda.version} from ${stale.repoUrl('kedacore')} failed`)
      expect(r.stderr).toContain(`Fix: check that ${stale.repoUrl('kedacore')}/index.yaml answers and lists keda ${CHARTS.keda.version}`)
      expect(existsSync(join(dir, CHARTS_MANIFEST))).toBe(false)
    } finally {
      await stale.close()
    }
  })

  it('--chart-repo with a name keda-lab does not use is refused before anything runs', async () => {
    const r = await runCli(['charts', 'pull', join(scratch, 'never'), '--chart-repo', 'bitnami=https://charts.example.com'], {
      env: helmEnv(3, join(scratch, 'home-x')),
    })
    expect(r.code).toBe(78)
    expect(r.stderr).toContain('Error: --chart-repo bitnami: keda-lab installs from no repository of that name')
    expect(r.stderr).toContain('Fix: use one of: kedacore, dandydeveloper, prometheus-community, grafana-community, grafana')
    expect(existsSync(join(scratch, 'never'))).toBe(false)
  })
})

describe('keda-lab install --charts / --chart-repo (fake helm, fake Kubernetes API)', () => {
  let lab: Lab | undefined
  afterEach(async () => {
    await lab?.close()
    lab = undefined
  })
  const cmds = (l: Lab) => l.calls().map((c) => `${c.bin} ${c.argv.join(' ')}`)
  const upgrade = (l: Lab, release: string) => l.calls().find((c) => c.argv[0] === 'upgrade' && c.argv[2] === release)?.argv

  it('--charts DIR: every release from its archive, no repository added, none probed', async () => {
    lab = await startLab({kind: 'minikube'})
    const r = await runCli(['install', ...BASE_ARGS, '--charts', pulled], {env: lab.env, timeoutMs: 60_000})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(cmds(lab).filter((c) => c.startsWith('helm repo'))).toEqual([])
    for (const [key, release] of [
      ['keda', 'keda'],
      ['redisHa', 'redis-ha'],
      ['kubePrometheusStack', 'kube-prometheus-stack'],
      ['loki', 'loki'],
      ['alloy', 'alloy'],
    ] as const) {
      const argv = upgrade(lab, release)!
      expect(argv[3]).toBe(join(pulled, `${CHARTS[key].chart}-${CHARTS[key].version}.tgz`))
      expect(argv).not.toContain('--version') // an archive is one version, checked against the pin
    }
    expect(r.stdout).toContain('every chart comes from the --charts folder')
    expect(lab.chartRepo.requests).toEqual([]) // the pre-flight probe did not run
  })

  it('--charts DIR covering every chart installs even when the repositories cannot be reached', async () => {
    lab = await startLab({kind: 'minikube'})
    const closed = `http://127.0.0.1:${await freePort()}`
    const r = await runCli(['install', ...BASE_ARGS, '--charts', pulled, '--chart-repo', `kedacore=${closed}`, '--chart-repo', `grafana=${closed}`], {
      env: lab.env,
      timeoutMs: 60_000,
    })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('none needed: every chart comes from the --charts folder')
  })

  it('--chart-repo NAME=URL: helm repo add of the mirror, charts still pinned by version, the mirror probed at pre-flight', async () => {
    lab = await startLab({kind: 'minikube'})
    const r = await runCli(['install', ...BASE_ARGS, ...repo.chartRepoArgs()], {env: lab.env, timeoutMs: 60_000})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const calls = cmds(lab)
    for (const c of PINNED) expect(calls).toContain(`helm repo add ${c.repoName} ${repo.repoUrl(c.repoName)} --force-update`)
    expect(upgrade(lab, 'keda')).toEqual(expect.arrayContaining([`kedacore/keda`, '--version', CHARTS.keda.version]))
    expect(upgrade(lab, 'loki')).toEqual(expect.arrayContaining([`grafana-community/loki`, '--version', CHARTS.loki.version]))
    for (const c of PINNED) expect(repo.requests).toContain(`/${c.repoName}/index.yaml`)
    expect(lab.chartRepo.requests).toEqual([]) // the flags win over KEDA_LAB_CHART_REPO
  })

  it('unreachable repositories fail at pre-flight with one line naming --charts and --chart-repo, before anything changes', async () => {
    lab = await startLab({kind: 'minikube'})
    const closed = `http://127.0.0.1:${await freePort()}`
    const r = await runCli(
      ['install', ...BASE_ARGS, '--no-monitoring', '--chart-repo', `kedacore=${closed}/kedacore`, '--chart-repo', `dandydeveloper=${closed}/dandydeveloper`],
      {
        env: lab.env,
        timeoutMs: 60_000,
      },
    )
    expect(r.code).toBe(1)
    const error = r.stderr.split('\n').find((l) => l.startsWith('Error: '))!
    expect(error).toContain(
      'pre-flight failed: chart repositories reachable (cannot reach kedacore (ECONNREFUSED for ' +
        closed +
        '/kedacore/index.yaml), dandydeveloper (ECONNREFUSED',
    )
    expect(error).toContain('install from pulled charts with --charts DIR or from a mirror with --chart-repo NAME=URL')
    expect(r.stderr).toContain('keda-lab charts pull DIR')
    // Nothing ran but the read-only version check; nothing was created in the cluster.
    expect(cmds(lab)).toEqual(['helm version --short'])
    expect(lab.api.get('v1', 'Namespace', 'keda')).toBeUndefined()
  })

  it('a manifest pulled for other pins: names the chart and both versions, and nothing runs', async () => {
    lab = await startLab({kind: 'minikube'})
    const dir = join(scratch, 'other-pins')
    cpSync(pulled, dir, {recursive: true})
    const manifest = JSON.parse(readFileSync(join(dir, CHARTS_MANIFEST), 'utf8')) as ChartsManifest
    manifest.charts.find((c) => c.name === 'redisHa')!.version = '4.30.0'
    writeFileSync(join(dir, CHARTS_MANIFEST), JSON.stringify(manifest))
    const r = await runCli(['install', ...BASE_ARGS, '--charts', dir], {env: lab.env, timeoutMs: 60_000})
    expect(r.code).toBe(78)
    expect(r.stderr).toContain(`Error: --charts ${dir}: chart redis-ha is 4.30.0 there, but this keda-lab installs redis-ha ${CHARTS.redisHa.version}`)
    expect(r.stderr).toContain('Fix: run `keda-lab charts pull DIR` with this keda-lab version')
    expect(lab.calls()).toEqual([])
  })

  it('an archive changed since `charts pull`: names the chart and both digests, and nothing runs', async () => {
    lab = await startLab({kind: 'minikube'})
    const dir = join(scratch, 'damaged')
    cpSync(pulled, dir, {recursive: true})
    const file = join(dir, `loki-${CHARTS.loki.version}.tgz`)
    const before = sha256(file)
    appendFileSync(file, 'x')
    const r = await runCli(['install', ...BASE_ARGS, '--charts', dir], {env: lab.env, timeoutMs: 60_000})
    expect(r.code).toBe(78)
    expect(r.stderr).toContain(
      `Error: --charts ${dir}: chart loki ${CHARTS.loki.version}: loki-${CHARTS.loki.version}.tgz has sha256 ${sha256(file)}, the manifest says ${before}`,
    )
    expect(lab.calls()).toEqual([])
  })

  it('render --charts DIR names the archives as the charts of the values files', async () => {
    const out = join(scratch, 'render-out')
    const r = await runCli(['render', '--no-webhook', '--charts', pulled, '--output', out], {
      env: {PATH: `${join(helmBinary(3), '..')}:${process.env.PATH}`, KEDA_LAB_CHART_REPO: ''},
      timeoutMs: 60_000,
    })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`values/keda.yaml  (keda: ${join(pulled, `keda-${CHARTS.keda.version}.tgz`)} (keda ${CHARTS.keda.version}), namespace keda)`)
  })
})
