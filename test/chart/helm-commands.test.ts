/**
 * The exact `helm upgrade --install` commands `keda-lab install` plans — Helm 3 and Helm 4 flags
 * differ (`--atomic`/`--wait` vs `--rollback-on-failure`/`--wait=watcher`) — run by the REAL Helm 3
 * and Helm 4 as a client-side dry run against the loopback fake Kubernetes API (Helm asks it for
 * the release history). Chart references are swapped for the local sources fetched by
 * scripts/fetch-charts.sh (the repositories are not reachable from here); Alloy has no local
 * source, so its command is the one not run. Everything else — flags, values files, versions,
 * namespaces, the kube context — is exactly what install runs.
 */
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'

import {CHARTS} from '../../src/lab/charts.js'
import {type InstallOptions, planInstall} from '../../src/lab/install/plan.js'
import {resolveSecrets} from '../../src/lab/install/secrets.js'
import {loadValuesTemplates} from '../../src/lab/values/render.js'
import {type FakeKubeApi, type KubeObject, startFakeKubeApi} from '../fakes/kube-api.js'
import {repoRoot} from '../helpers/cli.js'
import {helmBinary, type HelmMajor} from '../helpers/helm.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {runTracked} from '../helpers/processes.js'

const LOCAL_CHARTS: Record<string, string> = {
  [`${CHARTS.keda.repoName}/${CHARTS.keda.chart}`]: join(repoRoot, '.tools/charts/keda'),
  [`${CHARTS.redisHa.repoName}/${CHARTS.redisHa.chart}`]: join(repoRoot, '.tools/charts/redis-ha'),
  [`${CHARTS.kubePrometheusStack.repoName}/${CHARTS.kubePrometheusStack.chart}`]: join(repoRoot, '.tools/charts/kube-prometheus-stack'),
  [`${CHARTS.loki.repoName}/${CHARTS.loki.chart}`]: join(repoRoot, '.tools/charts/loki'),
}
const NO_SOURCE = `${CHARTS.alloy.repoName}/${CHARTS.alloy.chart}`

let api: FakeKubeApi
let dir: string
let kubeconfig: string

/** The CRDs the charts ship (crds/ folders), so that the fake API serves their kinds as a cluster would. */
function chartCrds(): KubeObject[] {
  // KEDA's chart renders its CRDs as templates; kube-prometheus-stack ships them in a subchart.
  const dirs = [join(repoRoot, '.tools/charts/kube-prometheus-stack/charts/crds/crds')]
  const crds: KubeObject[] = []
  for (const d of dirs) {
    if (!existsSync(d)) throw new Error(`${d} is missing: run scripts/fetch-charts.sh`)
    for (const file of readdirSync(d).filter((f) => f.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(readFileSync(join(d, file), 'utf8'))) {
        const obj = doc.toJS() as KubeObject | null
        if (obj?.kind === 'CustomResourceDefinition') crds.push(obj)
      }
    }
  }
  return crds
}

beforeAll(async () => {
  api = await startFakeKubeApi()
  for (const crd of chartCrds()) api.put(crd)
  dir = mkdtempSync(join(tmpdir(), 'keda-lab-helm-commands-'))
  kubeconfig = api.writeKubeconfig(join(dir, 'kube'))
})

afterAll(async () => {
  await api?.close()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

async function plannedUpgrades(major: HelmMajor) {
  const outputDir = join(dir, `out-${major}`)
  const options: InstallOptions = {
    answers: {...sampleAnswers, image: 'ghcr.io/acme/keda-lab:0.1.0'},
    sources: {},
    appNamespace: 'keda',
    monitoringNamespace: 'keda-monitoring',
    outputDir,
    kubeContext: 'fake',
    enableMetricsServerAddon: false,
  }
  const plan = planInstall(options, {
    facts: {nodes: [{name: 'n1', cpuMillis: 8000, memoryBytes: 16 << 30, labels: {}}], crds: [], metricsApi: true, cluster: {kind: 'other'}, helmMajor: major},
    templates: await loadValuesTemplates(repoRoot),
    packageRoot: repoRoot,
    version: '0.1.0',
    secrets: resolveSecrets({appNamespace: 'keda', monitoringNamespace: 'keda-monitoring', monitoring: true, telegramToken: sampleAnswers.telegramToken, existing: {}}),
    dockerfileExists: true,
  })
  for (const file of plan.files) {
    mkdirSync(dirname(file.path), {recursive: true})
    writeFileSync(file.path, file.content)
  }
  return plan.steps
    .flatMap((step) => step.actions)
    .flatMap((action) => (action.type === 'run' && action.command.args[0] === 'upgrade' ? [action.command] : []))
}

describe.each([3, 4] as const)('the planned helm upgrade --install commands, run by the real Helm %i (client dry run)', (major) => {
  it('every release command is accepted: flags, values files, versions, namespaces and context', async () => {
    const commands = await plannedUpgrades(major)
    const releases = commands.map((c) => c.args[2])
    expect(releases).toEqual(['keda', 'redis-ha', 'kube-prometheus-stack', 'loki', 'alloy', 'keda-lab'])
    const flags = major === 3 ? ['--atomic'] : ['--rollback-on-failure']
    for (const command of commands) {
      expect(command.args).toEqual(expect.arrayContaining(flags))
      const chart = command.args[3]!
      if (chart === NO_SOURCE) continue
      const args = command.args.map((arg, i) => (i === 3 ? (LOCAL_CHARTS[arg] ?? arg) : arg))
      // Helm 3 fetches the server's OpenAPI document to validate; the fake serves none.
      const dryRun = major === 3 ? ['--dry-run=client', '--disable-openapi-validation'] : ['--dry-run=client']
      const result = await runTracked(helmBinary(major), [...args, ...dryRun], {
        cwd: command.cwd ?? repoRoot,
        timeoutMs: 60_000,
        env: {...process.env, KUBECONFIG: kubeconfig, HELM_CACHE_HOME: join(dir, 'cache'), HELM_CONFIG_HOME: join(dir, 'config')},
      })
      expect(result.exitCode, `${command.args.slice(0, 4).join(' ')}: ${String(result.stderr)}`).toBe(0)
      expect(String(result.stdout)).toContain('STATUS: pending-install')
    }
  }, 180_000)
})
