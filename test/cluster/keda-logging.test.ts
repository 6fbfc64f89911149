/**
 * KEDA logs in JSON in all three of its programs (issue 15, defect 7), so that Alloy parses its
 * lines alike: the KEDA chart installed by real Helm 3 and 4 on the real control plane with the
 * values `keda-lab install` writes, the flags its Deployments got read back from the API server,
 * and then the REAL KEDA operator and metrics adapter (built from KEDA's Go module) started with
 * exactly those logging flags, in the chart's order — every line they print must be JSON.
 *
 * The chart is the stand-in (test/helpers/chart-repo.ts) with the real chart's logging flags: the
 * operator's and the admission webhooks' --zap-* from `logging.<program>`, the adapter's
 * `--logtostderr=true --v=<level>` (no format value), each followed by `extraArgs.<program>`. The
 * admission webhooks binary is not built here; it takes the same controller-runtime zap flags as
 * the operator, whose output proves what `--zap-encoder=json` does.
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {PACKAGE_ROOT} from '../../src/lab/install/run.js'
import {loadValuesTemplates, renderValues} from '../../src/lab/values/render.js'
import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {type HelmMajor, runHelm} from '../helpers/helm.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {freePort, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {adminRequest, kubeTools} from './control-plane.js'
import {createNamespace, useCluster} from './harness.js'
import {getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {namespace: false})
const PROGRAMS = ['keda-operator', 'keda-operator-metrics-apiserver', 'keda-admission-webhooks'] as const

let repo: ChartRepo
let dir: string
const namespaces: string[] = []
/** The logging flags each Deployment got, per Helm major. */
const flagsBy: Partial<Record<HelmMajor, Record<string, string[]>>> = {}

beforeAll(async () => {
  // No APIService (cluster-wide, unavailable here) and no CRDs: only the Deployments matter.
  repo = await startChartRepo({charts: ['keda'], crds: false, kedaMetricsApiService: false})
  dir = mkdtempSync(join(tmpdir(), 'keda-lab-keda-logging-'))
}, 180_000)
afterAll(async () => {
  await repo?.close()
  for (const ns of namespaces) await adminRequest(cluster.kubeconfig, 'DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined)
  if (dir) rmSync(dir, {recursive: true, force: true})
})

const isLoggingFlag = (arg: string) => /^--(zap-|v=|logtostderr|stderrthreshold)/.test(arg)
/** The value a flag ends up with: its last occurrence wins (pflag and Go's flag package alike). */
const lastValue = (args: readonly string[], flag: string) =>
  args
    .filter((a) => a.startsWith(`--${flag}=`))
    .at(-1)
    ?.slice(flag.length + 3)

describe.each([3, 4] as HelmMajor[])('KEDA installed with the values keda-lab writes, by Helm %i', (major) => {
  it('gives the operator, the metrics server and the admission webhooks JSON logging flags', async () => {
    const ns = `keda-logging-h${major}-${randomBytes(3).toString('hex')}`
    await createNamespace(cluster.kubeconfig, ns)
    namespaces.push(ns)
    const values = renderValues(
      {answers: sampleAnswers, appNamespace: ns, monitoringNamespace: `${ns}-mon`, image: {repository: 'keda-lab', tag: 'test', pullPolicy: 'IfNotPresent'}},
      await loadValuesTemplates(PACKAGE_ROOT),
    ).find((v) => v.name === 'keda')
    const valuesFile = join(dir, `keda-h${major}.yaml`)
    writeFileSync(valuesFile, values?.content ?? '')
    const chart = repo.charts.find((c) => c.name === 'keda')?.file ?? ''
    const install = await runHelm(major, ['upgrade', '--install', 'keda', chart, '-n', ns, '-f', valuesFile, '--kubeconfig', cluster.kubeconfig], 180_000)
    expect(install.exitCode, install.stderr).toBe(0)

    const list = await getJson<{items: {metadata: {name: string}; spec: {template: {spec: {containers: {args?: string[]}[]}}}}[]}>(
      cluster.kubeconfig,
      `/apis/apps/v1/namespaces/${ns}/deployments`,
    )
    const args = Object.fromEntries((list?.items ?? []).map((d) => [d.metadata.name, d.spec.template.spec.containers[0]?.args ?? []]))
    expect(Object.keys(args).sort()).toEqual([...PROGRAMS].sort())
    // Kept before the checks: the real programs below run with whatever the chart gave them.
    flagsBy[major] = Object.fromEntries(PROGRAMS.map((p) => [p, (args[p] ?? []).filter(isLoggingFlag)]))
    for (const program of PROGRAMS) expect(lastValue(args[program] ?? [], 'zap-encoder'), program).toBe('json')
    // The adapter's --logtostderr=true would choose the console encoder over --zap-encoder.
    expect(lastValue(args['keda-operator-metrics-apiserver'] ?? [], 'logtostderr')).toBe('false')
  }, 300_000)
})

/**
 * Starts a KEDA program with `args`, collects its output until `lines` lines or its exit, stops it.
 * It need not get far: its start-up lines (and an error line if it gives up) are the ones checked.
 */
async function firstLines(binary: string, args: string[], env: NodeJS.ProcessEnv, lines = 3): Promise<string[]> {
  const child = spawnTracked(binary, args, {env})
  let text = ''
  child.stdout?.on('data', (d: Buffer) => (text += d.toString('utf8')))
  child.stderr?.on('data', (d: Buffer) => (text += d.toString('utf8')))
  const done = () => text.split('\n').filter((l) => l.trim()).length >= lines || child.exitCode !== null || child.signalCode !== null
  try {
    await waitFor(done, {timeoutMs: 120_000, intervalMs: 200, what: `${lines} log lines from ${binary}`})
  } finally {
    await stopProcess(child, 'SIGTERM', 10_000)
  }
  return text.split('\n').filter((l) => l.trim())
}

describe('the real KEDA programs with those flags', () => {
  it('the operator and the metrics adapter print only JSON lines', async () => {
    const flags = flagsBy[4] ?? flagsBy[3]
    expect(flags, 'the install tests above ran').toBeDefined()
    const tools = kubeTools(['keda'])
    const env = {PATH: process.env.PATH, HOME: process.env.HOME, KUBECONFIG: cluster.kubeconfig, WATCH_NAMESPACE: namespaces[0], POD_NAMESPACE: namespaces[0]}
    const operator = await firstLines(
      tools.kedaOperator,
      [
        '--leader-elect=false',
        `--metrics-bind-address=127.0.0.1:${await freePort()}`,
        `--health-probe-bind-address=127.0.0.1:${await freePort()}`,
        `--metrics-service-bind-address=127.0.0.1:${await freePort()}`,
        '--enable-cert-rotation=false',
        `--cert-dir=${dir}`,
        ...(flags?.['keda-operator'] ?? []),
      ],
      env,
    )
    const adapter = await firstLines(
      tools.kedaAdapter,
      [
        `--port=${await freePort()}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${await freePort()}`,
        `--cert-dir=${dir}`,
        ...(flags?.['keda-operator-metrics-apiserver'] ?? []),
      ],
      env,
    )
    for (const [program, lines] of [
      ['operator', operator],
      ['adapter', adapter],
    ] as const) {
      expect(lines.length, `${program} printed nothing`).toBeGreaterThan(0)
      for (const line of lines) expect(() => JSON.parse(line), `${program}: ${line}`).not.toThrow()
    }
  }, 300_000)
})
