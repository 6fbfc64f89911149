/**
 * `keda-lab render`: every manifest install would apply, for GitOps — the app chart through
 * `helm template` and the values files of the third-party charts (which reference the Secrets
 * install creates; no secret value is rendered). Needs helm, not a cluster.
 */
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, relative, resolve} from 'node:path'

import {createHelm} from '../../adapters/helm.js'
import {APP_CHART_PATH, CHARTS} from '../charts.js'
import {loadValuesTemplates, renderValues} from '../values/render.js'
import {resolveInstallOptions} from './options.js'
import {APP_RELEASE, appImage} from './plan.js'
import {PACKAGE_ROOT, packageVersion, readValuesFile} from './run.js'

export interface RenderInput {
  flags: Record<string, unknown>
  env: NodeJS.ProcessEnv
  namespace: string
  monitoringNamespace: string
  valuesPath?: string
  output?: string
  stdout: boolean
  cwd: string
  log: (text: string) => void
}

export interface RenderResult {
  outputDir?: string
  files: {path: string; chart: string; release: string; namespace: string}[]
}

/** Renders (and writes or prints) every values file and the app's manifests. */
export async function runRender(input: RenderInput): Promise<RenderResult> {
  const valuesFile = await readValuesFile(input.valuesPath, input.cwd)
  const {answers} = await resolveInstallOptions({flags: input.flags, env: input.env, valuesFile, withoutSecrets: true})
  const image = appImage(answers.image, await packageVersion())
  const rendered = renderValues(
    {answers, appNamespace: input.namespace, monitoringNamespace: input.monitoringNamespace, image},
    await loadValuesTemplates(PACKAGE_ROOT),
  )

  const outputDir = input.stdout ? await mkdtemp(join(tmpdir(), 'keda-lab-render-')) : resolve(input.cwd, input.output ?? '.keda-lab/render')
  try {
    await mkdir(join(outputDir, 'values'), {recursive: true})
    await mkdir(join(outputDir, 'manifests'), {recursive: true})
    for (const file of rendered) await writeFile(join(outputDir, 'values', file.fileName), file.content)

    const helm = createHelm()
    const manifests = await helm.run(
      helm.template({release: APP_RELEASE, chart: resolve(PACKAGE_ROOT, APP_CHART_PATH), namespace: input.namespace, valuesFiles: [join(outputDir, 'values', `${APP_RELEASE}.yaml`)]}),
    )
    const manifestPath = join(outputDir, 'manifests', `${APP_RELEASE}.yaml`)
    await writeFile(manifestPath, manifests)

    const chartOf: Record<string, {chart: string; namespace: string}> = {
      keda: {chart: `${CHARTS.keda.repoName}/${CHARTS.keda.chart}@${CHARTS.keda.version}`, namespace: input.namespace},
      'redis-ha': {chart: `${CHARTS.redisHa.repoName}/${CHARTS.redisHa.chart}@${CHARTS.redisHa.version}`, namespace: input.namespace},
      'kube-prometheus-stack': {chart: `${CHARTS.kubePrometheusStack.repoName}/${CHARTS.kubePrometheusStack.chart}@${CHARTS.kubePrometheusStack.version}`, namespace: input.monitoringNamespace},
      loki: {chart: `${CHARTS.loki.repoName}/${CHARTS.loki.chart}@${CHARTS.loki.version}`, namespace: input.monitoringNamespace},
      alloy: {chart: `${CHARTS.alloy.repoName}/${CHARTS.alloy.chart}@${CHARTS.alloy.version}`, namespace: input.monitoringNamespace},
      'keda-lab': {chart: APP_CHART_PATH, namespace: input.namespace},
    }
    const files = [
      ...rendered.map((r) => ({path: join('values', r.fileName), release: r.name, ...chartOf[r.name]!})),
      {path: join('manifests', `${APP_RELEASE}.yaml`), release: APP_RELEASE, chart: APP_CHART_PATH, namespace: input.namespace},
    ]

    if (input.stdout) {
      for (const file of rendered) input.log(`# --- values/${file.fileName} (release ${file.name}, chart ${chartOf[file.name]!.chart})\n${file.content.trimEnd()}`)
      input.log(`# --- manifests/${APP_RELEASE}.yaml (helm template ${APP_RELEASE} ${APP_CHART_PATH})\n${manifests.trimEnd()}`)
      return {files}
    }
    input.log(`Rendered to ${relative(input.cwd, outputDir) || '.'}:`)
    for (const file of files) input.log(`  ${file.path}  (${file.release}: ${file.chart}, namespace ${file.namespace})`)
    input.log('Secrets are not rendered: create keda-lab-secrets (and keda-lab-webhook-token, keda-lab-grafana with monitoring) yourself, or run `keda-lab install`.')
    return {outputDir, files}
  } finally {
    if (input.stdout) await rm(outputDir, {recursive: true, force: true})
  }
}
