/**
 * `keda-lab render`: every manifest install would apply, for GitOps — the app chart through
 * `helm template` and the values files of the third-party charts (which reference the Secrets
 * install creates; no secret value is rendered). Needs helm, not a cluster.
 */
import {constants} from 'node:fs'
import {access, copyFile, mkdir, mkdtemp, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join, relative, resolve} from 'node:path'

import {createHelm} from '../../adapters/helm.js'
import {KedaLabError} from '../../errors.js'
import {describeSource, resolveChartSources} from '../chart-sources.js'
import {APP_CHART_PATH} from '../charts.js'
import {loadValuesTemplates, type RenderedValues, renderValues} from '../values/render.js'
import {resolveInstallOptions} from './options.js'
import {APP_RELEASE} from '../../config/release.js'
import {appImage} from './plan.js'
import {PACKAGE_ROOT, packageVersion, readValuesFile} from './run.js'

export interface RenderInput {
  flags: Record<string, unknown>
  env: NodeJS.ProcessEnv
  namespace: string
  monitoringNamespace: string
  valuesPath?: string
  output?: string
  stdout: boolean
  /** --charts DIR / --chart-repo NAME=URL: named as the charts' sources in the listing (checked like install checks them). */
  chartsDir?: string
  chartRepos?: string[]
  cwd: string
  log: (text: string) => void
}

export interface RenderResult {
  outputDir?: string
  files: {path: string; chart: string; release: string; namespace: string}[]
}

/**
 * The --output folder's problem in words: a path through a file (ENOTDIR), a file in its place
 * (EEXIST), no permission, a read-only file system. Anything else keeps the system's own message.
 */
export function outputFolderError(dir: string, error: unknown): KedaLabError {
  const code = (error as NodeJS.ErrnoException).code
  const reason =
    code === 'ENOTDIR' || code === 'EEXIST'
      ? 'it is a file, or a path through a file, not a folder'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EROFS'
          ? 'the file system is read-only'
          : (error as Error).message
  return new KedaLabError(`cannot write the rendered files to ${dir}: ${reason}`, {
    hint: 'pass --output with a folder you can write to (it is created if missing), e.g. --output gitops/keda-lab, or --stdout to print everything',
    cause: error,
  })
}

/**
 * Checks, before anything is rendered and without creating anything (a failed render leaves no
 * folder behind), that --output can be created or written: its nearest existing part must be a
 * writable folder. See outputFolderError.
 */
async function checkOutputDir(dir: string): Promise<void> {
  let existing = dir
  for (;;) {
    try {
      const info = await stat(existing)
      if (!info.isDirectory()) throw Object.assign(new Error(`${existing} is not a directory`), {code: 'ENOTDIR'})
      await access(existing, constants.W_OK)
      return
    } catch (error) {
      const parent = dirname(existing)
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === existing) throw outputFolderError(dir, error)
      existing = parent
    }
  }
}

/** Renders (and writes or prints) every values file and the app's manifests. */
export async function runRender(input: RenderInput): Promise<RenderResult> {
  const valuesFile = await readValuesFile(input.valuesPath, input.cwd)
  const sources = await resolveChartSources({chartsDir: input.chartsDir, chartRepos: input.chartRepos, cwd: input.cwd})
  const {answers} = await resolveInstallOptions({flags: input.flags, env: input.env, valuesFile, withoutSecrets: true})
  const image = appImage(answers.image, await packageVersion())
  const rendered = renderValues(
    {answers, appNamespace: input.namespace, monitoringNamespace: input.monitoringNamespace, image},
    await loadValuesTemplates(PACKAGE_ROOT),
  )

  // Rendered in a temporary folder first: nothing reaches --output unless every file rendered
  // (helm missing or failing must not leave half a GitOps folder behind).
  const stage = await mkdtemp(join(tmpdir(), 'keda-lab-render-'))
  const outputDir = input.stdout ? undefined : resolve(input.cwd, input.output ?? '.keda-lab/render')
  try {
    if (outputDir !== undefined) await checkOutputDir(outputDir)
    await mkdir(join(stage, 'values'), {recursive: true})
    await mkdir(join(stage, 'manifests'), {recursive: true})
    for (const file of rendered) await writeFile(join(stage, 'values', file.fileName), file.content)

    const helm = createHelm()
    const manifests = await helm.run(
      helm.template({
        release: APP_RELEASE,
        chart: resolve(PACKAGE_ROOT, APP_CHART_PATH),
        namespace: input.namespace,
        valuesFiles: [join(stage, 'values', `${APP_RELEASE}.yaml`)],
      }),
    )
    await writeFile(join(stage, 'manifests', `${APP_RELEASE}.yaml`), manifests)

    const chartOf: Record<RenderedValues['name'], {chart: string; namespace: string}> = {
      keda: {chart: describeSource(sources.keda), namespace: input.namespace},
      'redis-ha': {chart: describeSource(sources.redisHa), namespace: input.namespace},
      'kube-prometheus-stack': {chart: describeSource(sources.kubePrometheusStack), namespace: input.monitoringNamespace},
      loki: {chart: describeSource(sources.loki), namespace: input.monitoringNamespace},
      alloy: {chart: describeSource(sources.alloy), namespace: input.monitoringNamespace},
      'keda-lab': {chart: APP_CHART_PATH, namespace: input.namespace},
    }
    const files = [
      ...rendered.map((r) => ({path: join('values', r.fileName), release: r.name, ...chartOf[r.name]})),
      {path: join('manifests', `${APP_RELEASE}.yaml`), release: APP_RELEASE, chart: APP_CHART_PATH, namespace: input.namespace},
    ]

    if (outputDir === undefined) {
      for (const file of rendered)
        input.log(`# --- values/${file.fileName} (release ${file.name}, chart ${chartOf[file.name].chart})\n${file.content.trimEnd()}`)
      input.log(`# --- manifests/${APP_RELEASE}.yaml (helm template ${APP_RELEASE} ${APP_CHART_PATH})\n${manifests.trimEnd()}`)
      return {files}
    }
    try {
      for (const file of files) {
        await mkdir(dirname(join(outputDir, file.path)), {recursive: true})
        await copyFile(join(stage, file.path), join(outputDir, file.path))
      }
    } catch (error) {
      throw outputFolderError(outputDir, error)
    }
    input.log(`Rendered to ${relative(input.cwd, outputDir) || '.'}:`)
    for (const file of files) input.log(`  ${file.path}  (${file.release}: ${file.chart}, namespace ${file.namespace})`)
    input.log(
      'Secrets are not rendered: create keda-lab-secrets (and keda-lab-webhook-token, keda-lab-grafana with monitoring) yourself, or run `keda-lab install`.',
    )
    return {outputDir, files}
  } finally {
    await rm(stage, {recursive: true, force: true})
  }
}
