/**
 * `keda-lab install` from parsed flags to a running lab: answers → pre-flight facts and checks →
 * plan → (--dry-run: print it) → write the values files → apply the steps as a task list → summary.
 * Every I/O edge is an adapter; this module only wires them.
 */
import {existsSync} from 'node:fs'
import {mkdir, writeFile} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'

import {runTool} from '../../adapters/cluster-tools.js'
import {createHelm} from '../../adapters/helm.js'
import type {Kube, KubeOptions} from '../../adapters/kube/index.js'
import {checkImage} from '../../adapters/registry.js'
import {createTelegram} from '../../adapters/telegram.js'
import {PACKAGE_ROOT, packageJson} from '../../config/package.js'
import {KedaLabError} from '../../errors.js'
import {neededRepositories, probeRepositories, resolveChartSources} from '../chart-sources.js'
import {CHARTS} from '../charts.js'
import {type CheckResult, hasFatalFailure, runChecks} from '../checks.js'
import {loadValuesTemplates} from '../values/render.js'
import {readValuesFile} from '../values/values-file.js'
import {applyStep} from './apply.js'
import {checkAppImage, imageSource, publishedImage} from './image.js'
import {checkBeforeQuestions, preflightError} from './early-checks.js'
import {type Prompter, resolveInstallOptions} from './options.js'
import {chartsToInstall, planInstall, type Plan} from './plan.js'
import {gatherFacts, PREFLIGHT_CHECKS, reusesForeignKeda} from './preflight.js'
import {formatPlan, formatSummary} from './print.js'
import {type ExistingSecrets, maskSecrets, readExistingSecrets, resolveSecrets, secretValues} from './secrets.js'

/** The package root (holds templates/ and the Dockerfile): src/config/package.ts finds it. */
export {PACKAGE_ROOT}

export interface InstallRunInput {
  /** Parsed flags of the command (answer flags by their names). */
  flags: Record<string, unknown>
  env: NodeJS.ProcessEnv
  namespace: string
  monitoringNamespace: string
  context?: string
  yes: boolean
  json: boolean
  dryRun: boolean
  valuesPath?: string
  output?: string
  /** --charts DIR: third-party charts pulled by `keda-lab charts pull`. */
  chartsDir?: string
  /** --chart-repo NAME=URL values (mirrors). */
  chartRepos?: string[]
  cwd: string
  /** Prompter when interactive (TTY and not --yes/--json), undefined otherwise. */
  prompter?: Prompter
  /** Terminal output: task list in a TTY, plain lines otherwise. */
  mode: 'tty' | 'plain' | 'silent'
  log: (text: string) => void
  /** Test seam: the Kube to use instead of createKube. */
  kube?: Kube
}

export interface InstallResult {
  dryRun: boolean
  checks: CheckResult[]
  outputDir: string
  image: string
  steps: {id: string; title: string; skipped?: string; commands: string[]}[]
  files: string[]
  summary: Plan['summary']
}

/** Reads and checks a --values file (flag names as keys): src/lab/values/values-file.ts. */
export {readValuesFile}

/** Creates the Kube adapter through src/adapters/kube/ (loaded lazily: client-node is heavy). */
export async function loadKube(options: KubeOptions): Promise<Kube> {
  const {createKube} = await import('../../adapters/kube/index.js')
  try {
    return await createKube(options)
  } catch (error) {
    if (error instanceof KedaLabError) throw error
    throw new KedaLabError(`cannot load the kubeconfig: ${(error as Error).message}`, {
      hint: 'set KUBECONFIG or create ~/.kube/config (minikube start / kind create cluster write it), or pass --context',
    })
  }
}

/** keda-lab's version, from its package.json (the tag of an image built into the cluster). */
export async function packageVersion(): Promise<string> {
  return packageJson().version
}

/** Runs install (or its dry run). */
export async function runInstall(input: InstallRunInput): Promise<InstallResult> {
  const valuesFile = await readValuesFile(input.valuesPath, input.cwd)
  // A wrong --charts folder or --chart-repo stops here, before any question or cluster call.
  const chartSources = await resolveChartSources({chartsDir: input.chartsDir, chartRepos: input.chartRepos, cwd: input.cwd})
  const kube = input.kube ?? (await loadKube({context: input.context}))
  const telegram = createTelegram({apiUrl: input.env.TELEGRAM_API_URL})
  const helm = createHelm({kubeContext: input.context})
  // Asked once, here and again by pre-flight.
  let helmAnswer: ReturnType<typeof helm.version> | undefined
  const helmVersion = () => (helmAnswer ??= helm.version())

  // Before any question: helm and the cluster (a dry run without a cluster is pointed to `render`).
  const {formatCheckResult} = await import('../../ui/checks.js')
  await checkBeforeQuestions({kube, helmVersion, dryRun: input.dryRun}, (r) => input.log(formatCheckResult(r)))

  // A second run keeps what the first one stored (token, passwords); a cluster that cannot be
  // reached is reported by the pre-flight check below, not here.
  let secretsReadError: string | undefined
  const existing: ExistingSecrets = await readExistingSecrets(kube, input.namespace, input.monitoringNamespace).catch((error: Error) => {
    secretsReadError = error.message
    return {}
  })
  const existingToken = existing.app?.['telegram-bot-token'] || undefined

  const {answers, sources} = await resolveInstallOptions({
    flags: input.flags,
    env: input.env,
    valuesFile,
    prompter: input.prompter,
    existingTelegramToken: existingToken,
    async checkTelegramToken(token) {
      const check = await telegram.checkToken(token)
      return check.status === 'invalid' ? `${check.reason}: check the token with @BotFather` : undefined
    },
  })

  const dockerfileExists = existsSync(resolve(PACKAGE_ROOT, 'Dockerfile'))
  const published = publishedImage(packageJson())

  const {telegramToken} = answers
  // Pre-flight is the first entry of the task list; its checks only read.
  const {runTaskList} = await import('../../ui/tasks.js')
  let facts: Awaited<ReturnType<typeof gatherFacts>> | undefined
  let checks: CheckResult[] = []
  await runTaskList(
    [
      {
        title: `Pre-flight checks (context ${kube.contextName})`,
        keepOutput: true,
        async run(output) {
          facts = await gatherFacts({
            kube,
            appNamespace: input.namespace,
            helmVersion,
            checkTelegram: answers.webhook && telegramToken ? () => telegram.checkToken(telegramToken) : undefined,
            checkImage: async (known) => {
              const source = imageSource({image: answers.image, clusterKind: known.cluster.kind, dockerfileExists, publishedImage: published})
              if (source.kind === 'build' || !known.reachable) return undefined
              return checkAppImage({
                ref: source.ref,
                source: source.kind,
                pullSecret: answers.imagePullSecret,
                namespace: input.namespace,
                readSecret: (namespace, name) => kube.getSecretData(namespace, name),
                check: checkImage,
                mirror: input.env.KEDA_LAB_REGISTRY_MIRROR || undefined,
              })
            },
            probeChartRepositories: (known) => {
              const names = chartsToInstall({monitoring: answers.monitoring, reuseKeda: reusesForeignKeda(known, input.namespace)})
              // Each repository is read for the pinned versions of the charts it must serve.
              const charts = names.filter((name) => chartSources[name].type === 'repository').map((name) => CHARTS[name])
              return probeRepositories(neededRepositories(chartSources, names), undefined, undefined, charts)
            },
          })
          checks = await runChecks(PREFLIGHT_CHECKS, {facts, answers}, (r) => output(formatCheckResult(r)))
          if (hasFatalFailure(checks)) throw preflightError(checks, {dryRun: input.dryRun})
        },
      },
    ],
    {mode: input.mode},
  )
  if (!facts) throw new KedaLabError('pre-flight did not run')
  // The helm check is fatal: past it, helm answered with its version.
  if (!facts.helm)
    throw new KedaLabError(`helm did not answer: ${facts.helmError ?? 'no version'}`, {hint: 'install Helm 3 or 4 from https://helm.sh/docs/intro/install/'})
  if (secretsReadError) {
    // Generating new secrets over ones that could not be read would lock the app out of its Redis.
    throw new KedaLabError(`cannot read the Secrets of an earlier install: ${secretsReadError}`, {
      hint: `check that the context may read Secrets (kubectl auth can-i get secrets -n ${input.namespace}); nothing was changed`,
    })
  }

  let enableAddon = true
  if (facts.cluster.kind === 'minikube' && !facts.metricsApi && input.prompter) {
    enableAddon = await input.prompter.confirm({message: 'metrics-server is missing (the API autoscaler needs it). Enable the minikube addon?', default: true})
  }

  const secrets = resolveSecrets({
    appNamespace: input.namespace,
    monitoringNamespace: input.monitoringNamespace,
    monitoring: answers.monitoring,
    telegramToken: answers.telegramToken,
    redisPassword: input.env.KEDA_LAB_REDIS_PASSWORD || undefined,
    webhookToken: input.env.KEDA_LAB_WEBHOOK_TOKEN || undefined,
    grafanaAdminPassword: input.env.KEDA_LAB_GRAFANA_ADMIN_PASSWORD || undefined,
    existing,
  })
  const masks = secretValues(secrets, [answers.telegramToken])
  const mask = (text: string) => maskSecrets(text, masks)

  const outputDir = resolve(input.cwd, input.output ?? `.keda-lab/${kube.contextName.replace(/[^\w.-]+/g, '_')}`)
  const plan = planInstall(
    {
      answers,
      sources,
      appNamespace: input.namespace,
      monitoringNamespace: input.monitoringNamespace,
      outputDir,
      kubeContext: input.context,
      enableMetricsServerAddon: enableAddon,
      chartSources,
    },
    {
      facts: {...facts, helmMajor: facts.helm.major},
      templates: await loadValuesTemplates(PACKAGE_ROOT),
      packageRoot: PACKAGE_ROOT,
      version: await packageVersion(),
      // UTC time of this run, e.g. 20261128T091107: a new tag per build rolls the pods.
      buildId: new Date().toISOString().replace(/[-:]/g, '').slice(0, 15),
      secrets,
      dockerfileExists,
      publishedImage: published,
    },
  )
  const result: InstallResult = {
    dryRun: input.dryRun,
    checks,
    outputDir,
    image: plan.image,
    steps: plan.steps.map((s) => ({
      id: s.id,
      title: s.title,
      skipped: s.skipped,
      commands: s.actions.flatMap((a) => (a.type === 'run' ? [[a.command.bin, ...a.command.args].join(' ')] : [])),
    })),
    files: plan.files.map((f) => f.path),
    summary: plan.summary,
  }

  if (input.dryRun) {
    input.log(`\n${mask(formatPlan(plan))}`)
    return result
  }

  for (const file of plan.files) {
    await mkdir(dirname(file.path), {recursive: true})
    await writeFile(file.path, mask(file.content))
  }
  input.log(`Values files written to ${outputDir}`)

  const controller = new AbortController()
  const onSignal = () => controller.abort()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    await runTaskList(
      plan.steps.map((step) => ({
        title: step.title,
        skipped: step.skipped,
        notes: step.notes,
        run: (output) => applyStep(step, {kube, run: (command, options) => runTool(command, {...options, env: input.env}), signal: controller.signal}, output),
      })),
      {mode: input.mode, mask},
    )
  } catch (error) {
    // Defence in depth: whatever a tool or the API server said, no secret value reaches the terminal.
    if (error instanceof Error) error.message = mask(error.message)
    throw error
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  input.log(mask(formatSummary(plan)))
  return result
}
