/**
 * `keda-lab install` from parsed flags to a running lab: answers → pre-flight facts and checks →
 * plan → (--dry-run: print it) → write the values files → apply the steps as a task list → summary.
 * Every I/O edge is an adapter; this module only wires them.
 */
import {existsSync} from 'node:fs'
import {mkdir, writeFile} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'

import {runTool} from '../../adapters/cluster-tools.js'
import {createHelm, type HelmVersion} from '../../adapters/helm.js'
import type {Kube, KubeOptions} from '../../adapters/kube/index.js'
import {checkImage} from '../../adapters/registry.js'
import {createTelegram, type Telegram} from '../../adapters/telegram.js'
import {PACKAGE_ROOT, packageJson} from '../../config/package.js'
import {KedaLabError} from '../../errors.js'
import {type ChartSources, neededRepositories, probeRepositories, resolveChartSources} from '../chart-sources.js'
import {CHARTS} from '../charts.js'
import {type CheckResult, hasFatalFailure, runChecks} from '../checks.js'
import {loadValuesTemplates} from '../values/render.js'
import {readValuesFile} from '../values/values-file.js'
import {applyStep} from './apply.js'
import {checkAppImage, imageSource, publishedImage} from './image.js'
import {checkBeforeQuestions, preflightError} from './early-checks.js'
import {type InstallAnswers, type Prompter, resolveInstallOptions} from './options.js'
import {chartsToInstall, planInstall, type Plan} from './plan.js'
import {gatherFacts, type InstallFacts, PREFLIGHT_CHECKS, reusesForeignKeda} from './preflight.js'
import {formatPlan, formatSummary} from './print.js'
import {type ExistingSecrets, maskSecrets, readExistingSecrets, resolveSecrets, type SecretSpec, secretValues} from './secrets.js'

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
  const earlier = await readEarlierSecrets(kube, input.namespace, input.monitoringNamespace)
  const {answers, sources} = await resolveInstallOptions({
    flags: input.flags,
    env: input.env,
    valuesFile,
    prompter: input.prompter,
    existingTelegramToken: earlier.existing.app?.['telegram-bot-token'] || undefined,
    async checkTelegramToken(token) {
      const check = await telegram.checkToken(token)
      return check.status === 'invalid' ? `${check.reason}: check the token with @BotFather` : undefined
    },
  })

  const image = {dockerfileExists: existsSync(resolve(PACKAGE_ROOT, 'Dockerfile')), publishedImage: publishedImage(packageJson())}
  const {facts, checks} = await preflight({input, kube, telegram, helmVersion, answers, chartSources, image, formatCheckResult})
  if (earlier.readError) {
    // Generating new secrets over ones that could not be read would lock the app out of its Redis.
    throw new KedaLabError(`cannot read the Secrets of an earlier install: ${earlier.readError}`, {
      hint: `check that the context may read Secrets (kubectl auth can-i get secrets -n ${input.namespace}); nothing was changed`,
    })
  }

  const enableMetricsServerAddon = await askMetricsServerAddon(facts, input.prompter)
  const secrets = installSecrets(input, answers, earlier.existing)
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
      enableMetricsServerAddon,
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
      ...image,
    },
  )
  const result = installResult(plan, checks, input.dryRun)

  if (input.dryRun) {
    input.log(`\n${mask(formatPlan(plan))}`)
    return result
  }
  await writeValuesFiles(plan.files, mask)
  input.log(`Values files written to ${outputDir}`)
  await applyPlan(plan, {kube, env: input.env, mode: input.mode, mask})
  input.log(mask(formatSummary(plan)))
  return result
}

/**
 * The Secrets an earlier install stored (token, passwords), to keep them. A read that failed is
 * returned, not thrown: pre-flight says first whether the cluster answers at all.
 */
export async function readEarlierSecrets(
  kube: Pick<Kube, 'getSecretData'>,
  namespace: string,
  monitoringNamespace: string,
): Promise<{existing: ExistingSecrets; readError?: string}> {
  try {
    return {existing: await readExistingSecrets(kube, namespace, monitoringNamespace)}
  } catch (error) {
    return {existing: {}, readError: error instanceof Error ? error.message : String(error)}
  }
}

/** The Secrets to create: kept from an earlier install, given by KEDA_LAB_* variables, or generated. */
function installSecrets(
  input: Pick<InstallRunInput, 'namespace' | 'monitoringNamespace' | 'env'>,
  answers: Pick<InstallAnswers, 'monitoring' | 'telegramToken'>,
  existing: ExistingSecrets,
): SecretSpec[] {
  return resolveSecrets({
    appNamespace: input.namespace,
    monitoringNamespace: input.monitoringNamespace,
    monitoring: answers.monitoring,
    telegramToken: answers.telegramToken,
    redisPassword: input.env.KEDA_LAB_REDIS_PASSWORD || undefined,
    webhookToken: input.env.KEDA_LAB_WEBHOOK_TOKEN || undefined,
    grafanaAdminPassword: input.env.KEDA_LAB_GRAFANA_ADMIN_PASSWORD || undefined,
    existing,
  })
}

/** What pre-flight found: the facts (helm known, its check being fatal) and every check's result. */
interface PreflightOutcome {
  facts: InstallFacts & {helm: HelmVersion}
  checks: CheckResult[]
}

/**
 * Pre-flight as the first entry of the task list: gathers the facts (the image's registry and the
 * chart repositories asked for what this install will pull) and runs the checks, which only read.
 * Throws the pre-flight error when a fatal check fails.
 */
async function preflight(ctx: {
  input: Pick<InstallRunInput, 'namespace' | 'env' | 'mode' | 'dryRun'>
  kube: Kube
  telegram: Telegram
  helmVersion: () => Promise<HelmVersion>
  answers: InstallAnswers
  chartSources: ChartSources
  image: {dockerfileExists: boolean; publishedImage: string}
  formatCheckResult: (result: CheckResult) => string
}): Promise<PreflightOutcome> {
  const {input, kube, telegram, answers, chartSources, image} = ctx
  const {telegramToken} = answers
  const {runTaskList} = await import('../../ui/tasks.js')
  let outcome: {facts: InstallFacts; checks: CheckResult[]} | undefined
  await runTaskList(
    [
      {
        title: `Pre-flight checks (context ${kube.contextName})`,
        keepOutput: true,
        async run(output) {
          const facts = await gatherFacts({
            kube,
            appNamespace: input.namespace,
            helmVersion: ctx.helmVersion,
            checkTelegram: answers.webhook && telegramToken ? () => telegram.checkToken(telegramToken) : undefined,
            checkImage: async (known) => {
              const source = imageSource({image: answers.image, clusterKind: known.cluster.kind, ...image})
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
          const checks = await runChecks(PREFLIGHT_CHECKS, {facts, answers}, (r) => output(ctx.formatCheckResult(r)))
          outcome = {facts, checks}
          if (hasFatalFailure(checks)) throw preflightError(checks, {dryRun: input.dryRun})
        },
      },
    ],
    {mode: input.mode},
  )
  if (!outcome) throw new KedaLabError('pre-flight did not run')
  const {facts, checks} = outcome
  // The helm check is fatal: past it, helm answered with its version.
  const {helm} = facts
  if (!helm)
    throw new KedaLabError(`helm did not answer: ${facts.helmError ?? 'no version'}`, {hint: 'install Helm 3 or 4 from https://helm.sh/docs/intro/install/'})
  return {facts: {...facts, helm}, checks}
}

/** On minikube without the metrics API: enable the addon? Asked when interactive; yes otherwise (and the plan skips it where not needed). */
export async function askMetricsServerAddon(facts: Pick<InstallFacts, 'cluster' | 'metricsApi'>, prompter: Prompter | undefined): Promise<boolean> {
  if (facts.cluster.kind !== 'minikube' || facts.metricsApi || !prompter) return true
  return prompter.confirm({message: 'metrics-server is missing (the API autoscaler needs it). Enable the minikube addon?', default: true})
}

/** The command's result (and its --json): the plan as command lines, files and access info. */
export function installResult(plan: Plan, checks: CheckResult[], dryRun: boolean): InstallResult {
  return {
    dryRun,
    checks,
    outputDir: plan.outputDir,
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
}

/** Writes the values files, every secret value masked (the releases read their secrets from the Secrets). */
export async function writeValuesFiles(files: Plan['files'], mask: (text: string) => string): Promise<void> {
  for (const file of files) {
    await mkdir(dirname(file.path), {recursive: true})
    await writeFile(file.path, mask(file.content))
  }
}

/** Applies the steps as a task list; Ctrl-C or SIGTERM aborts the running step (apply.ts). */
async function applyPlan(plan: Plan, ctx: {kube: Kube; env: NodeJS.ProcessEnv; mode: InstallRunInput['mode']; mask: (text: string) => string}): Promise<void> {
  const {runTaskList} = await import('../../ui/tasks.js')
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
        run: (output) =>
          applyStep(step, {kube: ctx.kube, run: (command, options) => runTool(command, {...options, env: ctx.env}), signal: controller.signal}, output),
      })),
      {mode: ctx.mode, mask: ctx.mask},
    )
  } catch (error) {
    // Defence in depth: whatever a tool or the API server said, no secret value reaches the terminal.
    if (error instanceof Error) error.message = ctx.mask(error.message)
    throw error
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
