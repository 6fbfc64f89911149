/**
 * Where the charts come from is checked before anything changes, on the real control plane with
 * the real Helm 3 and 4 (issue 15, defects 4 and 5):
 * - a `--charts` folder whose manifest was edited to the pins while an archive holds another chart
 *   version: the archive's own Chart.yaml is read and compared (install and render refuse);
 * - a repository or mirror that answers but lacks a pinned version: pre-flight reads its
 *   index.yaml and names the chart, the version asked and the newest there — instead of failing
 *   after KEDA and Redis are installed.
 * The install must leave the cluster as it found it: no namespace, no release.
 */
import {createHash} from 'node:crypto'
import {copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CHARTS_MANIFEST, type ChartsManifest} from '../../src/lab/chart-sources.js'
import {CHARTS} from '../../src/lab/charts.js'
import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {runCli} from '../helpers/cli.js'
import {type HelmMajor, helmBinary, runHelm} from '../helpers/helm.js'
import {useCluster} from './harness.js'
import {getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {namespace: false})
const STALE = {alloy: '1.10.0', kubePrometheusStack: '88.5.3'}

let repo: ChartRepo
/** Serves only older versions of Alloy and kube-prometheus-stack (a mirror that lags behind). */
let stale: ChartRepo
let home: string
beforeAll(async () => {
  ;[repo, stale] = await Promise.all([startChartRepo(), startChartRepo({charts: ['alloy', 'kubePrometheusStack'], versions: STALE})])
  home = mkdtempSync(join(tmpdir(), 'keda-lab-chart-preflight-'))
}, 300_000)
afterAll(async () => {
  await Promise.all([repo?.close(), stale?.close()])
  if (home) rmSync(home, {recursive: true, force: true})
})

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

describe.each([3, 4] as HelmMajor[])('chart sources are checked before anything changes, with Helm %i', (major) => {
  const ns = `chartpf-h${major}`
  const mon = `chartpf-mon-h${major}`
  const env = (): NodeJS.ProcessEnv => ({
    KUBECONFIG: cluster.kubeconfig,
    PATH: `${join(helmBinary(major), '..')}:${process.env.PATH}`,
    HELM_CONFIG_HOME: join(home, `h${major}`, 'config'),
    HELM_CACHE_HOME: join(home, `h${major}`, 'cache'),
    HELM_DATA_HOME: join(home, `h${major}`, 'data'),
    KEDA_LAB_CHART_REPO: '',
  })
  const installArgs = () => [
    'install',
    '--yes',
    '-n',
    ns,
    '--monitoring-namespace',
    mon,
    '--image',
    'ghcr.io/keda-lab/keda-lab:test',
    '--no-redis-persistence',
    '--no-webhook',
    '--output',
    join(home, `h${major}`, 'out'),
  ]
  /** Nothing was created: neither namespace, no Helm release anywhere in them. */
  const untouched = async () => {
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns}`)).toBeUndefined()
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${mon}`)).toBeUndefined()
    const list = await runHelm(major, ['list', '--all-namespaces', '--output', 'json', '--kubeconfig', cluster.kubeconfig])
    expect(list.exitCode, list.stderr).toBe(0)
    expect((JSON.parse(list.stdout) as {namespace: string}[]).filter((r) => r.namespace === ns || r.namespace === mon)).toEqual([])
  }

  it('a mirror without a pinned version fails pre-flight naming the chart, the version asked and the newest there', async () => {
    const mirror = `grafana=${stale.repoUrl('grafana')}`
    const others = repo
      .chartRepoEnv()
      .split(',')
      .filter((r) => !r.startsWith('grafana='))
    const args = [...installArgs(), ...[...others, mirror].flatMap((r) => ['--chart-repo', r])]
    const r = await runCli(args, {env: env(), timeoutMs: 600_000})
    expect(r.code, `${r.stdout}\n${r.stderr}`).not.toBe(0)
    const out = `${r.stdout}\n${r.stderr}`
    expect(out).toContain(`grafana (${stale.repoUrl('grafana')}) has no alloy ${CHARTS.alloy.version} (newest there: alloy ${STALE.alloy})`)
    expect(out).toContain('--chart-repo grafana=URL')
    // Stopped at pre-flight: no release was tried.
    expect(out).not.toContain('upgrade --install')
    await untouched()
  }, 600_000)

  it('a --charts folder whose manifest was edited to the pins is refused by what the archive says: install and render', async () => {
    const dir = join(home, `h${major}`, 'pulled')
    const pull = await runCli(['charts', 'pull', dir, ...repo.chartRepoArgs()], {env: env(), timeoutMs: 300_000})
    expect(pull.code, `${pull.stdout}\n${pull.stderr}`).toBe(0)
    // Another kube-prometheus-stack version dropped in, and the manifest edited to vouch for it.
    const olderFile = `kube-prometheus-stack-${STALE.kubePrometheusStack}.tgz`
    copyFileSync(stale.charts.find((c) => c.name === 'kubePrometheusStack')!.file, join(dir, olderFile))
    const manifest = JSON.parse(readFileSync(join(dir, CHARTS_MANIFEST), 'utf8')) as ChartsManifest
    const entry = manifest.charts.find((c) => c.name === 'kubePrometheusStack')!
    expect(entry.version).toBe(CHARTS.kubePrometheusStack.version)
    entry.file = olderFile
    entry.sha256 = sha256(join(dir, olderFile))
    writeFileSync(join(dir, CHARTS_MANIFEST), JSON.stringify(manifest, null, 2))
    const expected = `--charts ${dir}: ${olderFile} holds chart kube-prometheus-stack ${STALE.kubePrometheusStack} (its Chart.yaml), but this keda-lab installs kube-prometheus-stack ${CHARTS.kubePrometheusStack.version} (${CHARTS_MANIFEST} says kube-prometheus-stack ${CHARTS.kubePrometheusStack.version}: it does not match its archive)`

    const install = await runCli([...installArgs(), '--charts', dir], {env: env(), timeoutMs: 300_000})
    expect(install.code, `${install.stdout}\n${install.stderr}`).toBe(78)
    expect(install.stderr).toContain(`Error: ${expected}`)
    expect(install.stderr).toContain('Fix: run `keda-lab charts pull DIR`')
    await untouched()

    const render = await runCli(['render', '--no-webhook', '--charts', dir, '--output', join(home, `h${major}`, 'render')], {env: env(), timeoutMs: 300_000})
    expect(render.code, `${render.stdout}\n${render.stderr}`).toBe(78)
    expect(render.stderr).toContain(`Error: ${expected}`)
    expect(render.stdout).not.toContain(`${olderFile} (kube-prometheus-stack ${CHARTS.kubePrometheusStack.version})`)
  }, 600_000)
})
