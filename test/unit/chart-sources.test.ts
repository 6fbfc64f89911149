/**
 * Where the third-party charts come from (src/lab/chart-sources.ts): the --chart-repo values, the
 * plan's chart arguments, and the pre-flight probe of the repositories with its check — a refused
 * connection is a failure that names both ways out; behind a proxy this probe does not use, it is
 * only a warning (Helm goes through the proxy).
 */
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {describe, expect, it} from 'vitest'

import {
  chartArgument,
  chartRepoValues,
  compareVersions,
  indexVersions,
  neededRepositories,
  parseChartRepoOverrides,
  probeRepository,
  repositorySources,
} from '../../src/lab/chart-sources.js'
import {CHARTS} from '../../src/lab/charts.js'
import {runChecks} from '../../src/lab/checks.js'
import {type InstallFacts, PREFLIGHT_CHECKS} from '../../src/lab/install/preflight.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {freePort} from '../helpers/processes.js'

const check = PREFLIGHT_CHECKS.find((c) => c.id === 'chart-repositories')!
const run = async (chartRepositories: InstallFacts['chartRepositories']) =>
  (await runChecks([check], {facts: {chartRepositories} as InstallFacts, answers: sampleAnswers}))[0]!

describe('--chart-repo values', () => {
  it('NAME=URL per pinned repository; flags win over KEDA_LAB_CHART_REPO (comma-separated)', () => {
    expect(parseChartRepoOverrides(['kedacore=https://m.example/keda/', ' grafana = http://10.0.0.1:8080/g '])).toEqual({
      kedacore: 'https://m.example/keda',
      grafana: 'http://10.0.0.1:8080/g',
    })
    expect(chartRepoValues(undefined, {KEDA_LAB_CHART_REPO: 'kedacore=https://a,grafana=https://b'})).toEqual(['kedacore=https://a', 'grafana=https://b'])
    expect(chartRepoValues(['kedacore=https://c'], {KEDA_LAB_CHART_REPO: 'kedacore=https://a'})).toEqual(['kedacore=https://c'])
  })

  it('a wrong value says what was wrong and how to write it', () => {
    expect(() => parseChartRepoOverrides(['kedacore'])).toThrow('--chart-repo "kedacore": expected NAME=URL')
    expect(() => parseChartRepoOverrides(['bitnami=https://x'])).toThrow('--chart-repo bitnami: keda-lab installs from no repository of that name')
    expect(() => parseChartRepoOverrides(['kedacore=ftp://x'])).toThrow('is not an http(s) URL')
    expect(() => parseChartRepoOverrides(['kedacore=not a url'])).toThrow('is not a URL')
  })

  it('a mirror changes the repository URL only: the chart reference and its pinned version stay', () => {
    const sources = repositorySources({kedacore: 'https://m.example/keda'})
    expect(chartArgument(sources.keda)).toEqual({chart: 'kedacore/keda', version: CHARTS.keda.version})
    expect([...neededRepositories(sources, ['keda', 'redisHa'])]).toEqual([
      ['kedacore', 'https://m.example/keda'],
      ['dandydeveloper', CHARTS.redisHa.repoUrl],
    ])
  })
})

describe('pre-flight: chart repositories reachable', () => {
  it('passes when every index.yaml answers 200, fails naming --charts and --chart-repo when one is refused', async () => {
    const server = createServer((req, res) => res.writeHead(req.url === '/ok/index.yaml' ? 200 : 404).end('apiVersion: v1\nentries: {}\n'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const closed = `http://127.0.0.1:${await freePort()}`
    try {
      const ok = await probeRepository('kedacore', `${base}/ok`, 2000, {})
      expect(ok).toEqual({name: 'kedacore', url: `${base}/ok`, ok: true})
      expect((await run([ok])).status).toBe('pass')

      const missing = await probeRepository('grafana', `${base}/nothing`, 2000, {})
      expect(missing.error).toBe(`HTTP 404 for ${base}/nothing/index.yaml`)
      const refused = await probeRepository('dandydeveloper', closed, 2000, {})
      expect(refused.error).toBe(`ECONNREFUSED for ${closed}/index.yaml`)
      const result = await run([ok, missing, refused])
      expect(result.status).toBe('fail')
      expect(result.fatal).toBe(true)
      expect(result.detail).toBe(
        `cannot reach grafana (HTTP 404 for ${base}/nothing/index.yaml), dandydeveloper (ECONNREFUSED for ${closed}/index.yaml): install from pulled charts with --charts DIR or from a mirror with --chart-repo NAME=URL`,
      )
      expect(result.hint).toContain('keda-lab charts pull DIR')
    } finally {
      server.close()
    }
  })

  it('behind a proxy the probe does not use (HTTP_PROXY without NODE_USE_ENV_PROXY): a warning, not a stop', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`
    const probe = await probeRepository('kedacore', closed, 2000, {HTTP_PROXY: 'http://proxy.example:3128'})
    expect(probe.bypassedProxy).toBe('HTTP_PROXY')
    const result = await run([probe])
    expect(result.status).toBe('warn')
    expect(result.detail).toBe('not reachable without the proxy in HTTP_PROXY, which helm uses: kedacore not checked')
    // With NODE_USE_ENV_PROXY=1 the probe goes through the proxy itself: its failure counts.
    expect((await probeRepository('kedacore', closed, 2000, {HTTP_PROXY: 'http://proxy.example:3128', NODE_USE_ENV_PROXY: '1'})).bypassedProxy).toBeUndefined()
  })

  it('no repository needed (every chart from --charts): passes without probing; not probed at all: skip', async () => {
    expect(await run([])).toMatchObject({status: 'pass', detail: 'none needed: every chart comes from the --charts folder'})
    expect((await run(undefined)).status).toBe('skip')
  })
})

describe('pre-flight: the pinned versions are in the repositories', () => {
  // The layout `helm repo index` writes (go-yaml: list items at the key's indent), with a
  // dependency whose own `version:` must not count as the chart's.
  const INDEX = `apiVersion: v1
entries:
  alloy:
  - apiVersion: v2
    dependencies:
    - condition: crds.create
      name: crds
      version: 0.0.0
    name: alloy
    version: 1.10.0
  - apiVersion: v2
    name: alloy
    version: 1.9.2
  k8s-monitoring:
  - apiVersion: v2
    name: k8s-monitoring
    version: 1.11.1
generated: "2026-12-07T00:00:00Z"
`

  it('reads the versions of each chart from an index (helm repo index layout, or any YAML/JSON a mirror writes)', () => {
    expect(indexVersions(INDEX, ['alloy', 'k8s-monitoring', 'loki'])).toEqual(
      new Map([
        ['alloy', ['1.10.0', '1.9.2']],
        ['k8s-monitoring', ['1.11.1']],
        ['loki', []],
      ]),
    )
    const json = JSON.stringify({apiVersion: 'v1', entries: {alloy: [{name: 'alloy', version: '1.11.1'}]}})
    expect(indexVersions(json, ['alloy'])).toEqual(new Map([['alloy', ['1.11.1']]]))
    expect(['1.10.0', '1.9.2', '1.11.0-rc.1', '1.11.0', '1.2.10'].sort(compareVersions)).toEqual(['1.2.10', '1.9.2', '1.10.0', '1.11.0-rc.1', '1.11.0'])
  })

  it('a repository without the pinned version fails pre-flight naming the chart, the version asked and the newest there', async () => {
    const server = createServer((_req, res) => res.writeHead(200).end(INDEX))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/grafana`
    try {
      const probe = await probeRepository('grafana', url, 2000, {}, [CHARTS.alloy, CHARTS.keda])
      expect(probe).toEqual({name: 'grafana', url, ok: true, missing: [{chart: 'alloy', version: CHARTS.alloy.version, newest: '1.10.0'}]})
      const result = await run([probe])
      expect(result).toMatchObject({status: 'fail', fatal: true, detail: `grafana (${url}) has no alloy ${CHARTS.alloy.version} (newest there: alloy 1.10.0)`})
      expect(result.hint).toContain('--chart-repo grafana=URL')
      expect(result.hint).toContain('keda-lab charts pull DIR')
    } finally {
      server.close()
    }
  })
})
