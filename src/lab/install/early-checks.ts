/**
 * What `install` checks before it asks anything: helm and the cluster. Without them every answer
 * would be asked for nothing (a dozen questions, then "cluster not reachable"). These are
 * pre-flight's own checks (`helm`, `cluster-reachable`), judged on the only facts they need; the
 * rest of pre-flight needs the answers and runs after them.
 */
import type {HelmVersion} from '../../adapters/helm.js'
import type {Kube} from '../../adapters/kube/index.js'
import {EXIT_NO_CLUSTER, KedaLabError} from '../../errors.js'
import {type CheckResult, hasFatalFailure, runChecks} from '../checks.js'
import type {InstallAnswers} from './options.js'
import {type InstallFacts, PREFLIGHT_CHECKS, unknownFacts} from './preflight.js'

/** The pre-flight checks that need no answer. */
export const BEFORE_QUESTIONS: readonly string[] = ['helm', 'cluster-reachable']

/** Said under --dry-run when the cluster cannot be reached: `render` needs none. */
export const RENDER_WITHOUT_CLUSTER =
  'a dry run plans against the cluster (what is installed, nodes, storage); without a cluster, `keda-lab render --output DIR` writes the same manifests and values files'

/** The error pre-flight stops with: every fatal failure with its fix, and that nothing changed. */
export function preflightError(results: readonly CheckResult[], options: {dryRun: boolean}): KedaLabError {
  const failed = results.filter((c) => c.fatal && c.status === 'fail')
  const hints = failed.map((c) => c.hint).filter(Boolean)
  const noCluster = failed.some((c) => c.id === 'cluster-reachable')
  if (options.dryRun && noCluster) hints.push(RENDER_WITHOUT_CLUSTER)
  return new KedaLabError(`pre-flight failed: ${failed.map((c) => `${c.title}${c.detail ? ` (${c.detail})` : ''}`).join('; ')}`, {
    hint: `${hints.join('; ')}; nothing was changed`,
    // No cluster outweighs the other failures: the same exit code as every command without one.
    exitCode: noCluster ? EXIT_NO_CLUSTER : 1,
  })
}

/**
 * Runs the checks of BEFORE_QUESTIONS; reports each failure through `report` and throws the
 * pre-flight error when one is fatal. `helmVersion` should be memoised by the caller: pre-flight
 * asks for it again later.
 */
export async function checkBeforeQuestions(
  deps: {kube: Kube; helmVersion: () => Promise<HelmVersion>; dryRun: boolean},
  report: (result: CheckResult) => void,
): Promise<void> {
  const {kube} = deps
  const facts: InstallFacts = unknownFacts(kube)
  const [helm, server] = await Promise.allSettled([deps.helmVersion(), kube.serverVersion()])
  if (helm.status === 'fulfilled') facts.helm = helm.value
  else facts.helmError = (helm.reason as Error).message
  if (server.status === 'fulfilled') {
    facts.serverVersion = server.value
    facts.reachable = true
  } else {
    facts.reachError = (server.reason as Error).message
  }
  const checks = PREFLIGHT_CHECKS.filter((c) => BEFORE_QUESTIONS.includes(c.id))
  // These two checks read only the facts; there are no answers yet.
  const results = await runChecks(checks, {facts, answers: {} as InstallAnswers})
  for (const result of results) if (result.status === 'fail') report(result)
  if (hasFatalFailure(results)) throw preflightError(results, deps)
}
