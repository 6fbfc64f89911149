/**
 * The exact helm commands `keda-lab install` plans — `helm repo add`/`repo update`, then
 * `helm upgrade --install` (Helm 3 and Helm 4 flags differ: `--atomic`/`--wait` vs
 * `--rollback-on-failure`/`--wait=watcher`) — run by the REAL Helm 3 and Helm 4, unchanged, the
 * upgrades as a client-side dry run against the REAL API server (test/cluster/control-plane.ts),
 * with Helm's validation on for both majors: Helm asks the server for the release history and
 * validates every rendered object against the server's OpenAPI document, the kinds of KEDA's and
 * prometheus-operator's real CRDs included. The pinned repositories point (`--chart-repo`) at the
 * loopback chart repository of test/helpers/chart-repo.ts, which serves stand-in charts at the pinned
 * versions (the real repositories are not reachable from here). Everything — flags, repositories,
 * chart references, versions, values files, namespaces, the kube context — is exactly what install runs.
 *
 * A control plane of this file's own: it applies the charts' CRDs, which are cluster-wide.
 */
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {repositorySources} from '../../src/lab/chart-sources.js'
import {type InstallOptions, planInstall} from '../../src/lab/install/plan.js'
import {resolveSecrets} from '../../src/lab/install/secrets.js'
import {loadValuesTemplates} from '../../src/lab/values/render.js'
import {applyCrds, kedaCrds, prometheusOperatorCrds} from '../cluster/crds.js'
import {useCluster} from '../cluster/harness.js'
import {type ChartRepo, startChartRepo} from '../helpers/chart-repo.js'
import {repoRoot} from '../helpers/cli.js'
import {helmBinary, type HelmMajor} from '../helpers/helm.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {runTracked} from '../helpers/processes.js'

const cluster = useCluster(import.meta.url, {dedicated: true, namespace: false})
let repo: ChartRepo
let dir: string

beforeAll(async () => {
  // The CRDs the charts ship in their crds/ folders: a client dry run installs none, and validation
  // needs their kinds served, as after a first install.
  await applyCrds(cluster.kubeconfig, [...(await kedaCrds()), ...(await prometheusOperatorCrds())])
  repo = await startChartRepo()
  dir = mkdtempSync(join(tmpdir(), 'keda-lab-helm-commands-'))
}, 240_000)

afterAll(async () => {
  await repo?.close()
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
    // The context of the control plane's kubeconfig: install passes --context on as --kube-context.
    kubeContext: 'keda-lab-test',
    enableMetricsServerAddon: false,
    chartSources: repositorySources(
      Object.fromEntries(
        repo
          .chartRepoEnv()
          .split(',')
          .map((kv) => kv.split('=') as [string, string]),
      ),
    ),
  }
  const plan = planInstall(options, {
    facts: {nodes: [{name: 'n1', cpuMillis: 8000, memoryBytes: 16 << 30, labels: {}}], crds: [], metricsApi: true, cluster: {kind: 'other'}, helmMajor: major},
    templates: await loadValuesTemplates(repoRoot),
    packageRoot: repoRoot,
    version: '0.1.0',
    publishedImage: 'ghcr.io/keda-lab/keda-lab:0.1.0',
    secrets: resolveSecrets({
      appNamespace: 'keda',
      monitoringNamespace: 'keda-monitoring',
      monitoring: true,
      telegramToken: sampleAnswers.telegramToken,
      existing: {},
    }),
    dockerfileExists: true,
  })
  for (const file of plan.files) {
    mkdirSync(dirname(file.path), {recursive: true})
    writeFileSync(file.path, file.content)
  }
  return plan.steps.flatMap((step) => step.actions).flatMap((action) => (action.type === 'run' && action.command.bin === 'helm' ? [action.command] : []))
}

describe.each([3, 4] as const)('the planned helm upgrade --install commands, run by the real Helm %i (client dry run, validation on)', (major) => {
  it('every repository and release command is accepted: repositories, charts, flags, values files, versions, namespaces and context', async () => {
    const commands = await plannedUpgrades(major)
    const upgrades = commands.filter((c) => c.args[0] === 'upgrade')
    expect(upgrades.map((c) => c.args[2])).toEqual(['keda', 'redis-ha', 'kube-prometheus-stack', 'loki', 'alloy', 'keda-lab'])
    expect(commands.filter((c) => c.args[0] === 'repo').map((c) => c.args[1])).toEqual(['add', 'add', 'add', 'add', 'add', 'update'])
    const flags = major === 3 ? ['--atomic'] : ['--rollback-on-failure']
    // Each major gets its own Helm home: `repo add` writes the repositories there, the upgrades read them.
    const env = {
      ...process.env,
      KUBECONFIG: cluster.kubeconfig,
      HELM_CACHE_HOME: join(dir, `cache-${major}`),
      HELM_CONFIG_HOME: join(dir, `config-${major}`),
      HELM_DATA_HOME: join(dir, `data-${major}`),
    }
    for (const command of commands) {
      const upgrade = command.args[0] === 'upgrade'
      // The app release has no helm --wait (keda-lab waits for its pods): no rollback either.
      if (upgrade && command.args[2] !== 'keda-lab') expect(command.args).toEqual(expect.arrayContaining(flags))
      // No --disable-openapi-validation: Helm validates against the real server's OpenAPI document.
      const dryRun = upgrade ? ['--dry-run=client'] : []
      const result = await runTracked(helmBinary(major), [...command.args, ...dryRun], {cwd: command.cwd ?? repoRoot, timeoutMs: 60_000, env})
      expect(result.exitCode, `${command.args.slice(0, 4).join(' ')}: ${String(result.stderr)}`).toBe(0)
      if (upgrade) expect(String(result.stdout)).toContain('STATUS: pending-install')
    }
    // The charts came from the loopback repositories through `helm repo update` and the upgrades.
    for (const c of repo.charts)
      expect(repo.requests).toEqual(expect.arrayContaining([`/${c.repoName}/index.yaml`, `/${c.repoName}/${c.chart}-${c.version}.tgz`]))
  }, 180_000)
})
