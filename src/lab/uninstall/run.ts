/**
 * `keda-lab uninstall`: discover what is installed, confirm, remove the releases in reverse install
 * order, then the namespaces (keeping PersistentVolumeClaims unless --purge), wait until they are
 * gone, diagnose (and with --force release) a namespace stuck in Terminating, and report the
 * cluster-scoped leftovers (removed with --purge). Every I/O edge comes in through `deps`.
 */
import {type Kube, resources} from '../../adapters/kube/index.js'
import {KedaLabError, NoClusterError} from '../../errors.js'
import {describeBlockers, findBlockers, forceFinalize, type ForceResult, stuckHint} from './blockers.js'
import {crdsStillThere, findLeftovers, type Leftover, removeLeftovers, requeueFailedCrdDeletions, type TerminatingCrd} from './leftovers.js'
import {type HelmRelease, labReleases, type ReleaseManager} from './releases.js'
import {recordUnrecordedCrds, unrecordedReleaseCrds} from './release-records.js'

/**
 * Without a kubeconfig (or a current context) there is nothing to uninstall from: the adapter's
 * advice to create a cluster would be wrong here, so the error says where the lab was installed.
 */
export function uninstallWithoutCluster(error: unknown): never {
  if (error instanceof NoClusterError && error.reason !== 'unreachable') {
    throw new NoClusterError(`${error.message}; uninstall needs the cluster keda-lab was installed in`, {
      reason: error.reason,
      hint: "set KUBECONFIG to that cluster's kubeconfig (or pass --context NAME); if the cluster itself is gone, so is the lab, and there is nothing to uninstall",
      cause: error,
    })
  }
  throw error
}

/** What the user asked for (flags of `keda-lab uninstall`). */
export interface UninstallOptions {
  namespace: string
  monitoringNamespace: string
  /** Delete PersistentVolumeClaims (Redis data) and cluster-scoped leftovers too. */
  purge: boolean
  /** Clear the finalizers that keep a namespace in Terminating. */
  force: boolean
  /** How long to wait for the namespaces to disappear (and, with --force, again after clearing). */
  timeoutMs: number
  /** Poll interval while waiting. */
  pollMs?: number
}

/** What is there to remove, shown before confirming. */
export interface UninstallPlan {
  releases: HelmRelease[]
  /** The namespaces that exist now (with their phase). */
  namespaces: {name: string; phase: string}[]
  /** PVCs present now, as namespace/name. */
  pvcs: string[]
}

/** What happened to one namespace. */
export type NamespaceOutcome =
  | {name: string; status: 'removed'}
  | {name: string; status: 'absent'}
  | {name: string; status: 'kept'; reason: string}
  | {name: string; status: 'forced'; cleared: ForceResult}
  | {name: string; status: 'stuck'; blockers: string[]; hint: string}

/** What uninstall removed, kept and found (printed, or as JSON with --json). */
export interface UninstallReport {
  releases: {name: string; namespace: string}[]
  namespaces: NamespaceOutcome[]
  pvcs: {kept: string[]; deleted: string[]}
  /** `terminating`: CRDs deleted with --purge that the API server had not finished deleting within --timeout. */
  leftovers: {found: Leftover[]; removed: Leftover[]; terminating: TerminatingCrd[]}
  /** False when a namespace is stuck (the command exits 1). */
  ok: boolean
}

/** The edges uninstall works through. */
export interface UninstallDeps {
  kube: Kube
  releases: ReleaseManager
  /** Progress lines. */
  log: (line: string) => void
  /** Asked once with the plan; false cancels. The command decides whether to prompt (TTY, --yes). */
  confirm: (plan: UninstallPlan) => Promise<boolean>
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

// Kubernetes refuses to delete these; never try, whatever --namespace says.
const SYSTEM_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease'])

/** Lines describing the plan, for the confirmation prompt and the log. */
export function describePlan(plan: UninstallPlan, options: Pick<UninstallOptions, 'purge'>): string[] {
  const lines: string[] = []
  lines.push(
    plan.releases.length > 0
      ? `Helm releases to remove, in this order: ${plan.releases.map((r) => `${r.name} (${r.namespace})`).join(', ')}`
      : 'No keda-lab Helm release is installed.',
  )
  lines.push(plan.namespaces.length > 0 ? `Namespaces to delete: ${plan.namespaces.map((n) => n.name).join(', ')}` : 'No keda-lab namespace exists.')
  if (plan.pvcs.length > 0) {
    lines.push(
      options.purge
        ? `PersistentVolumeClaims to delete (--purge, their data is lost): ${plan.pvcs.join(', ')}`
        : `PersistentVolumeClaims kept (use --purge to delete them): ${plan.pvcs.join(', ')}`,
    )
  }
  return lines
}

/** What the steps of an uninstall share: the edges, the options and one way to wait. */
interface UninstallRun {
  kube: Kube
  log: (line: string) => void
  options: UninstallOptions
  /** Polls `done` for up to `timeoutMs` (default: --timeout); see waitUntil. */
  wait: (done: () => Promise<boolean>, opts?: {timeoutMs?: number; onWait?: (seconds: number) => void | Promise<void>}) => Promise<boolean>
}

/** Runs the uninstall. Throws KedaLabError when cancelled or when a helm uninstall fails. */
export async function uninstall(options: UninstallOptions, deps: UninstallDeps): Promise<UninstallReport> {
  const {kube, log} = deps
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const now = deps.now ?? Date.now
  const pollMs = options.pollMs ?? 500
  const run: UninstallRun = {
    kube,
    log,
    options,
    wait: (done, opts = {}) => waitUntil(done, {timeoutMs: opts.timeoutMs ?? options.timeoutMs, pollMs, sleep, now, onWait: opts.onWait}),
  }
  const namespaceNames = [...new Set([options.namespace, options.monitoringNamespace])]

  // 1. Discover.
  const plan = await discover(namespaceNames, options, deps)
  const {releases} = plan
  const existingNames = plan.namespaces.map((e) => e.name)

  // 2. Confirm.
  if (!(await deps.confirm(plan))) throw new KedaLabError('Uninstall cancelled: nothing was removed.', {exitCode: 1})

  // CRDs installed before keda-lab recorded them carry no record: Helm's own records of the releases
  // name them, and go with the releases. Recorded now, they stay known to --purge and doctor after.
  const unrecorded = await unrecordedReleaseCrds(kube, {namespace: options.namespace, monitoringNamespace: options.monitoringNamespace})
  if (unrecorded.length > 0) {
    log(`Recording which release brought ${unrecorded.map((c) => `${c.name} (${c.release})`).join(', ')} (installed before keda-lab recorded CRDs)`)
    await recordUnrecordedCrds(kube, unrecorded)
  }

  // 3. Releases, in reverse install order.
  const removed = await removeReleases(releases, deps.releases, run)

  // Releases left after this run (another KEDA, a failed uninstall): their objects are not leftovers.
  const stillInstalled = labReleases(await deps.releases.list(), options.namespace, options.monitoringNamespace).map((r) => r.name)
  const leftoverOptions = {namespace: options.namespace, monitoringNamespace: options.monitoringNamespace, installed: stillInstalled}
  const removedEarly = options.purge ? await removeDanglingApiServices(run, leftoverOptions) : []

  // 4. PersistentVolumeClaims: deleted with --purge, else they keep their namespace alive.
  const {pvcs, keep} = await handlePvcs(await listPvcs(kube, existingNames), run)

  // 5. Namespaces: those kept say why; the others are deleted, waited for, and diagnosed if stuck.
  const namespaces = await removeNamespaces(namespaceNames, existingNames, keep, run)

  // 6. Cluster-scoped leftovers of the releases that are gone.
  const rest = await findLeftovers(kube, leftoverOptions)
  let removedLeftovers: Leftover[] = removedEarly
  let terminating: TerminatingCrd[] = []
  if (rest.length > 0 && options.purge) {
    log(`--purge: deleting ${rest.length} cluster-scoped leftover object(s)`)
    removedLeftovers = [...removedEarly, ...(await removeLeftovers(kube, rest))]
    terminating = await awaitCrdsDeleted(
      removedLeftovers.filter((l) => l.kind === 'CustomResourceDefinition').map((l) => l.name),
      run,
      now,
    )
  }

  return {
    releases: removed,
    namespaces,
    pvcs,
    leftovers: {found: [...removedEarly, ...rest], removed: removedLeftovers, terminating},
    ok: !namespaces.some((n) => n.status === 'stuck'),
  }
}

/** The plan: the lab's releases, its namespaces that exist, and their claims. The cluster is asked first: its error says how to fix the connection better than helm's does. */
async function discover(namespaceNames: string[], options: UninstallOptions, deps: UninstallDeps): Promise<UninstallPlan> {
  const {kube} = deps
  await kube.serverVersion()
  const releases = labReleases(await deps.releases.list(), options.namespace, options.monitoringNamespace)
  const existing: {name: string; phase: string}[] = []
  for (const name of namespaceNames) {
    const ns = await kube.getNamespace(name)
    if (ns) existing.push({name, phase: ns.phase})
  }
  return {
    releases,
    namespaces: existing,
    pvcs: await listPvcs(
      kube,
      existing.map((e) => e.name),
    ),
  }
}

/** Step 5: the namespaces kept say why; the others are deleted, waited for, and diagnosed if stuck. */
async function removeNamespaces(
  namespaceNames: string[],
  existingNames: string[],
  keep: ReadonlyMap<string, string>,
  run: UninstallRun,
): Promise<NamespaceOutcome[]> {
  const {kube, log} = run
  const decided = namespaceNames.map((name) => ({name, kept: keptNamespace(name, existingNames, keep)}))
  const toDelete = decided.filter((d) => d.kept === undefined).map((d) => d.name)
  for (const name of toDelete) {
    log(`Deleting namespace ${name}`)
    await kube.deleteNamespace(name)
  }
  await run.wait(() => allGone(kube, toDelete), {
    onWait: async (s) => log(`Waiting for namespaces to disappear: ${(await stillThere(kube, toDelete)).join(', ')} still Terminating (${s}s)`),
  })
  const namespaces: NamespaceOutcome[] = []
  for (const d of decided) namespaces.push(d.kept ?? (await settleNamespace(d.name, run)))
  return namespaces
}

/**
 * Waits (up to --timeout) until the CRDs just deleted are gone: until then their objects are being
 * deleted, and installing the lab again would fail on them. A CRD whose deletion the API server
 * dropped after a failure is queued again (requeueFailedCrdDeletions). Returns those still there.
 */
async function awaitCrdsDeleted(names: readonly string[], run: UninstallRun, now: () => number): Promise<TerminatingCrd[]> {
  if (names.length === 0) return []
  let left: TerminatingCrd[] = []
  await run.wait(
    async () => {
      left = await crdsStillThere(run.kube, names)
      return left.length === 0
    },
    {
      onWait: async (s) => {
        const requeued = await requeueFailedCrdDeletions(run.kube, left, new Date(now()))
        run.log(
          `Waiting for the API server to delete ${left.map((c) => c.name).join(', ')} (${s}s)` +
            (requeued.length > 0 ? `; queued again after a failed attempt: ${requeued.join(', ')}` : ''),
        )
      },
    },
  )
  return left
}

const pvcRef = (namespace: string) => ({...resources.persistentVolumeClaims, namespace})

/** The PersistentVolumeClaims in these namespaces, as namespace/name. */
async function listPvcs(kube: Kube, namespaces: readonly string[]): Promise<string[]> {
  const out: string[] = []
  for (const name of namespaces) for (const pvc of await kube.listObjects(pvcRef(name))) out.push(`${name}/${pvc.name}`)
  return out
}

/**
 * `helm uninstall` of each release, in the order given. After the app release, and when KEDA is
 * still to go, waits until KEDA's operator has removed its finalizer from the ScaledObjects the app
 * release deleted: with KEDA gone first, they would hold the namespace in Terminating forever.
 */
export async function removeReleases(
  releases: readonly HelmRelease[],
  manager: Pick<ReleaseManager, 'uninstall'>,
  run: Pick<UninstallRun, 'log' | 'wait'> & {kube: Pick<Kube, 'listObjects'>},
): Promise<{name: string; namespace: string}[]> {
  const removed: {name: string; namespace: string}[] = []
  for (const release of releases) {
    run.log(`Removing Helm release ${release.name} (namespace ${release.namespace})`)
    try {
      await manager.uninstall(release)
    } catch (error) {
      throw releaseFailed(release, removed, error)
    }
    removed.push({name: release.name, namespace: release.namespace})
    if (release.name === 'keda-lab' && releases.some((r) => r.name === 'keda')) {
      let left: string[] = []
      const released = await run.wait(
        async () => {
          left = []
          for (const plural of ['scaledobjects', 'scaledjobs']) {
            for (const o of await run.kube.listObjects({group: 'keda.sh', plural, namespace: release.namespace})) left.push(`${plural}/${o.name}`)
          }
          return left.length === 0
        },
        {onWait: (s) => run.log(`Waiting for KEDA to release the ScaledObjects in ${release.namespace} (${s}s)`)},
      )
      // Going on is still right (the releases must go), but not silently: without KEDA's operator
      // nothing removes their finalizer, and the namespace report below names them and the fix.
      if (!released) run.log(`‼ KEDA did not release ${left.join(', ')} within --timeout; removing KEDA anyway (their finalizer then stays until --force)`)
    }
  }
  return removed
}

/** The error of a failed `helm uninstall`: helm's own last line, and what was already removed. */
function releaseFailed(release: HelmRelease, removed: readonly {name: string}[], error: unknown): KedaLabError {
  const tail = error instanceof KedaLabError && 'stderrTail' in error ? String((error as {stderrTail: unknown}).stderrTail) : ''
  const detail = (tail || (error instanceof Error ? error.message : String(error))).replace(/^Error: /, '')
  return new KedaLabError(`helm uninstall ${release.name} (namespace ${release.namespace}) failed: ${detail}`, {
    hint: `Run \`keda-lab uninstall\` again${removed.length > 0 ? ` (already removed: ${removed.map((r) => r.name).join(', ')})` : ''}; \`helm status ${release.name} -n ${release.namespace}\` shows the release's state.`,
    cause: error,
  })
}

/**
 * --purge: a dangling APIService (its Service gone with its release) makes API discovery fail, and
 * the namespace controller then never finishes: it goes before the namespaces do.
 */
async function removeDanglingApiServices(run: Pick<UninstallRun, 'kube' | 'log'>, leftoverOptions: Parameters<typeof findLeftovers>[1]): Promise<Leftover[]> {
  const dangling = (await findLeftovers(run.kube, leftoverOptions)).filter((l) => l.kind === 'APIService')
  if (dangling.length === 0) return []
  run.log(`--purge: deleting APIService ${dangling.map((l) => l.name).join(', ')} first (an unavailable APIService keeps namespaces in Terminating)`)
  return removeLeftovers(run.kube, dangling)
}

/** Deletes the claims with --purge; otherwise keeps them, and says per namespace which ones keep it. */
async function handlePvcs(
  claims: readonly string[],
  run: Pick<UninstallRun, 'kube' | 'log' | 'options'>,
): Promise<{pvcs: UninstallReport['pvcs']; keep: Map<string, string>}> {
  const pvcs = {kept: [] as string[], deleted: [] as string[]}
  const keep = new Map<string, string>()
  for (const full of claims) {
    const [ns, name] = full.split('/') as [string, string]
    if (run.options.purge) {
      run.log(`Deleting PersistentVolumeClaim ${full}`)
      if (await run.kube.deleteObject(pvcRef(ns), name)) pvcs.deleted.push(full)
    } else {
      pvcs.kept.push(full)
      keep.set(ns, [keep.get(ns), name].filter(Boolean).join(', '))
    }
  }
  return {pvcs, keep}
}

/**
 * Why a namespace is not deleted (absent, a system namespace, or kept for its claims), or
 * undefined when it is to be deleted. `keep` maps a namespace to the claims it keeps.
 */
export function keptNamespace(name: string, existing: readonly string[], keep: ReadonlyMap<string, string>): NamespaceOutcome | undefined {
  if (!existing.includes(name)) return {name, status: 'absent'}
  if (SYSTEM_NAMESPACES.has(name)) return {name, status: 'kept', reason: `${name} is a system namespace`}
  const claims = keep.get(name)
  if (claims !== undefined) {
    return {name, status: 'kept', reason: `it holds PersistentVolumeClaims (${claims}); \`keda-lab uninstall --purge\` deletes them and the namespace`}
  }
  return undefined
}

async function allGone(kube: Kube, names: readonly string[]): Promise<boolean> {
  for (const name of names) if (await kube.getNamespace(name)) return false
  return true
}

async function stillThere(kube: Kube, names: readonly string[]): Promise<string[]> {
  const out: string[] = []
  for (const name of names) if (await kube.getNamespace(name)) out.push(name)
  return out
}

/**
 * A deleted namespace after the wait: removed, or stuck with what blocks it — and with --force,
 * its finalizers cleared and waited for once more (forced, or still stuck).
 */
async function settleNamespace(name: string, run: UninstallRun): Promise<NamespaceOutcome> {
  const {kube, log, options} = run
  const ns = await kube.getNamespace(name)
  if (!ns) return {name, status: 'removed'}
  const blockers = await findBlockers(kube, ns)
  const lines = describeBlockers(blockers)
  log(`Namespace ${name} is stuck in Terminating:`)
  for (const line of lines) log(`  ${line}`)
  if (!options.force) return {name, status: 'stuck', blockers: lines, hint: stuckHint(blockers.conditions, blockers.unavailableApiServices)}
  log(`--force: clearing the finalizers that hold namespace ${name}`)
  const settleMs = Math.min(options.timeoutMs, 10_000)
  const cleared = await forceFinalize(kube, blockers, () => run.wait(() => allGone(kube, [name]), {timeoutMs: settleMs}))
  const done = await run.wait(() => allGone(kube, [name]), {timeoutMs: Math.min(options.timeoutMs, 30_000)})
  if (done) return {name, status: 'forced', cleared}
  const again = await findBlockers(kube, (await kube.getNamespace(name)) ?? ns)
  return {name, status: 'stuck', blockers: describeBlockers(again), hint: stuckHint(again.conditions, again.unavailableApiServices)}
}

/** Polls `done` until true or the deadline; calls `onWait` about every 5 s with the seconds waited. */
async function waitUntil(
  done: () => Promise<boolean>,
  opts: {timeoutMs: number; pollMs: number; sleep: (ms: number) => Promise<void>; now: () => number; onWait?: (seconds: number) => void | Promise<void>},
): Promise<boolean> {
  const start = opts.now()
  let lastReport = start
  for (;;) {
    if (await done()) return true
    const t = opts.now()
    if (t - start >= opts.timeoutMs) return false
    if (opts.onWait && t - lastReport >= 5000) {
      lastReport = t
      await opts.onWait(Math.round((t - start) / 1000))
    }
    await opts.sleep(opts.pollMs)
  }
}
