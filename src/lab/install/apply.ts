/**
 * Applies a plan's steps: tool commands through the runner, namespaces and Secrets through Kube,
 * the rollout wait by polling Deployments. A failure becomes a StepError naming the step, with the
 * tail of the command's stderr and the step's hint; Ctrl-C (the abort signal) stops the running
 * child and says which step was interrupted and what state the cluster is in.
 */
import type {Kube} from '../../adapters/kube/index.js'
import {type RunToolOptions, type ToolCommand, ToolError} from '../../adapters/cluster-tools.js'
import {KedaLabError} from '../../errors.js'
import {crdNamesIn, recordReleaseCrds} from '../crd-records.js'
import {watchClaims} from './claims.js'
import type {Action, CrdRecordSpec, PlanStep} from './plan.js'

export interface ApplyDeps {
  kube: Kube
  run: (command: ToolCommand, options: RunToolOptions) => Promise<string>
  signal: AbortSignal
  /** Poll interval of the rollout wait (tests shorten it). */
  pollMs?: number
}

const RETRY =
  'run `keda-lab install` again to retry (it upgrades in place and keeps the generated secrets), or `keda-lab uninstall` to remove what was installed'

/** A step failed or was interrupted. */
export class StepError extends KedaLabError {
  readonly step: string
  constructor(step: PlanStep, cause: unknown, interrupted: boolean) {
    const what = cause instanceof Error ? cause.message : String(cause)
    const tail =
      cause instanceof ToolError && cause.stderrTail
        ? `\n${cause.stderrTail
            .split('\n')
            .map((l) => `  | ${l}`)
            .join('\n')}`
        : ''
    // A failure that knows its own fix (e.g. a claim no provisioner binds) says it instead of the step's general hint.
    const ownHint = cause instanceof KedaLabError && !(cause instanceof ToolError) ? cause.hint : undefined
    super(
      interrupted
        ? `interrupted during step "${step.title}" (${what}); the steps before it are applied, this one may be partly applied`
        : `step "${step.title}" failed: ${what}${tail}`,
      {hint: interrupted ? RETRY : `${ownHint ?? step.hint}. Then ${RETRY}`, exitCode: interrupted ? 130 : 1, cause},
    )
    this.name = 'StepError'
    this.step = step.id
  }
}

function interruptedError(): Error {
  const error = new Error('stopped by Ctrl-C')
  error.name = 'AbortError'
  return error
}

async function applyAction(action: Action, deps: ApplyDeps, output: (line: string) => void): Promise<void> {
  if (deps.signal.aborted) throw interruptedError()
  switch (action.type) {
    case 'run': {
      output(`$ ${action.command.bin} ${action.command.args.join(' ')}`)
      const record = action.recordCrds
      if (!record) {
        await runWatched(action, deps, output)
        return
      }
      const before = new Set(await deps.kube.listCrdNames())
      let failed = false
      try {
        await runWatched(action, deps, output)
      } catch (error) {
        failed = true
        throw error
      } finally {
        // Also after a failed (rolled back) first install: the CRDs of its crds/ folders stay, and must be known.
        await recordCrds(record, before, deps, output).catch((error: unknown) => {
          if (!failed) throw error
          output(`could not record the CRDs of release ${record.release}: ${error instanceof Error ? error.message : String(error)}`)
        })
      }
      return
    }
    case 'namespace':
      output(`namespace ${action.name}`)
      await deps.kube.ensureNamespace(action.name, action.labels)
      return
    case 'secret':
      output(
        `secret ${action.secret.namespace}/${action.secret.name} (${Object.entries(action.secret.origin)
          .map(([k, o]) => `${k}: ${o}`)
          .join(', ')})`,
      )
      await deps.kube.applySecret(action.secret.namespace, action.secret.name, action.secret.data, {'app.kubernetes.io/part-of': 'keda-lab'})
      return
    case 'rollout':
      await waitForRollout(action, deps, output)
  }
}

/**
 * Runs the action's command; with `watchClaims`, watches the claims meanwhile and stops the command
 * (helm rolls back on SIGTERM) as soon as one will not be bound, failing with that reason.
 */
async function runWatched(action: Extract<Action, {type: 'run'}>, deps: ApplyDeps, output: (line: string) => void): Promise<void> {
  if (!action.watchClaims) {
    await deps.run(action.command, {signal: deps.signal, onLine: output})
    return
  }
  const stopCommand = new AbortController()
  const stopWatch = new AbortController()
  const onAbort = () => stopCommand.abort()
  deps.signal.addEventListener('abort', onAbort, {once: true})
  let claimProblem: unknown
  const watcher = watchClaims(deps.kube, action.watchClaims.namespace, stopWatch.signal, {pollMs: deps.pollMs ?? 3000}).catch((error: unknown) => {
    claimProblem = error
    output(`stopping: ${error instanceof Error ? error.message : String(error)}`)
    stopCommand.abort()
  })
  try {
    await deps.run(action.command, {signal: stopCommand.signal, onLine: output})
  } catch (error) {
    throw claimProblem ?? error
  } finally {
    stopWatch.abort()
    await watcher
    deps.signal.removeEventListener('abort', onAbort)
  }
}

/** Records on the release's CRDs that it brought them (src/lab/crd-records.ts). */
async function recordCrds(spec: CrdRecordSpec, before: ReadonlySet<string>, deps: ApplyDeps, output: (line: string) => void): Promise<void> {
  const quiet = {signal: deps.signal}
  const names = new Set(crdNamesIn(await deps.run(spec.showCrds, quiet)))
  // No manifest when a failed first install was rolled back (the release is gone).
  const manifest = await deps.run(spec.manifest, quiet).catch((error: unknown) => {
    if (error instanceof ToolError) return ''
    throw error
  })
  for (const name of crdNamesIn(manifest)) names.add(name)
  if (names.size === 0) return
  const result = await recordReleaseCrds(deps.kube, {release: spec.release, namespace: spec.namespace, names: [...names], before})
  if (result.recorded.length > 0) output(`CRDs of release ${spec.release}: ${result.recorded.join(', ')}`)
  if (result.foreign.length > 0) output(`CRDs that were there before release ${spec.release} (not its own, left alone): ${result.foreign.join(', ')}`)
}

async function waitForRollout(action: Extract<Action, {type: 'rollout'}>, deps: ApplyDeps, output: (line: string) => void): Promise<void> {
  const deadline = Date.now() + action.timeoutSeconds * 1000
  let pending = 'no Deployment found yet'
  while (Date.now() < deadline) {
    if (deps.signal.aborted) throw interruptedError()
    const deployments = await deps.kube.listDeployments(action.namespace, action.labelSelector)
    const notReady = deployments.filter((d) => d.readyReplicas < d.replicas || d.updatedReplicas < d.replicas)
    if (deployments.length > 0 && notReady.length === 0) {
      output(deployments.map((d) => `${d.name} ${d.readyReplicas}/${d.replicas}`).join(', '))
      // Said, never waited for: many clusters give LoadBalancer services no address at all.
      for (const lb of await deps.kube.listLoadBalancers(action.namespace)) {
        output(
          lb.addresses.length > 0
            ? `${lb.name}: load balancer at ${lb.addresses.join(', ')}`
            : `${lb.name}: no load balancer address yet (<pending>): the summary below says how to reach the API`,
        )
      }
      return
    }
    pending =
      deployments.length === 0
        ? `no Deployment with ${action.labelSelector} in ${action.namespace}`
        : notReady.map((d) => `${d.name} ${d.readyReplicas}/${d.replicas} ready`).join(', ')
    output(`waiting: ${pending}`)
    await new Promise((r) => setTimeout(r, deps.pollMs ?? 2000))
  }
  throw new KedaLabError(`not rolled out after ${action.timeoutSeconds} s: ${pending}`)
}

/** Applies one step; throws StepError. */
export async function applyStep(step: PlanStep, deps: ApplyDeps, output: (line: string) => void = () => {}): Promise<void> {
  try {
    for (const action of step.actions) await applyAction(action, deps, output)
  } catch (error) {
    const interrupted = deps.signal.aborted || (error instanceof ToolError && error.interrupted)
    throw new StepError(step, error, interrupted)
  }
}
