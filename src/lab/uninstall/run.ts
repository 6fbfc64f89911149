/**
 * `keda-lab uninstall`: discover what is installed, confirm, remove the releases in reverse install
 * order, then the namespaces (keeping PersistentVolumeClaims unless --purge), wait until they are
 * gone, diagnose (and with --force release) a namespace stuck in Terminating, and report the
 * cluster-scoped leftovers (removed with --purge). Every I/O edge comes in through `deps`.
 */
import {type Kube, resources} from '../../adapters/kube/index.js'
import {KedaLabError, NoClusterError} from '../../errors.js'
import {describeBlockers, findBlockers, forceFinalize, type ForceResult, stuckHint} from './blockers.js'
import {findLeftovers, type Leftover, removeLeftovers} from './leftovers.js'
import {type HelmRelease, labReleases, type ReleaseManager} from './releases.js'

/** What the user asked for (flags of `keda-lab uninstall`). */
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
  leftovers: {found: Leftover[]; removed: Leftover[]}
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

/** Runs the uninstall. Throws KedaLabError when cancelled or when a helm uninstall fails. */
export async function uninstall(options: UninstallOptions, deps: UninstallDeps): Promise<UninstallReport> {
  const {kube, log} = deps
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const now = deps.now ?? Date.now
  const pollMs = options.pollMs ?? 500
  const namespaceNames = [...new Set([options.namespace, options.monitoringNamespace])]
  const pvcRef = (namespace: string) => ({...resources.persistentVolumeClaims, namespace})

  // 1. Discover. The cluster first: its error says how to fix the connection better than helm's does.
  await kube.serverVersion()
  const releases = labReleases(await deps.releases.list(), options.namespace, options.monitoringNamespace)
  const existing: {name: string; phase: string}[] = []
  for (const name of namespaceNames) {
    const ns = await kube.getNamespace(name)
    if (ns) existing.push({name, phase: ns.phase})
  }
  const listPvcs = async () => {
    const out: string[] = []
    for (const {name} of existing) for (const pvc of await kube.listObjects(pvcRef(name))) out.push(`${name}/${pvc.name}`)
    return out
  }
  const plan: UninstallPlan = {releases, namespaces: existing, pvcs: await listPvcs()}

  // 2. Confirm.
  if (!(await deps.confirm(plan))) throw new KedaLabError('Uninstall cancelled: nothing was removed.', {exitCode: 1})

  // 3. Releases, in reverse install order.
  const removed: {name: string; namespace: string}[] = []
  for (const release of releases) {
    log(`Removing Helm release ${release.name} (namespace ${release.namespace})`)
    try {
      await deps.releases.uninstall(release)
    } catch (error) {
      const tail = error instanceof KedaLabError && 'stderrTail' in error ? String((error as {stderrTail: unknown}).stderrTail) : ''
      const detail = (tail || (error instanceof Error ? error.message : String(error))).replace(/^Error: /, '')
      throw new KedaLabError(`helm uninstall ${release.name} (namespace ${release.namespace}) failed: ${detail}`, {
        hint: `Run \`keda-lab uninstall\` again${removed.length > 0 ? ` (already removed: ${removed.map((r) => r.name).join(', ')})` : ''}; \`helm status ${release.name} -n ${release.namespace}\` shows the release's state.`,
        cause: error,
      })
    }
    removed.push({name: release.name, namespace: release.namespace})
    // KEDA's operator removes its finalizer from the ScaledObjects the app release deleted; if
    // KEDA went first, they would hold the namespace in Terminating forever.
    if (release.name === 'keda-lab' && releases.some((r) => r.name === 'keda')) {
      await waitUntil(
        async () => {
          for (const plural of ['scaledobjects', 'scaledjobs']) {
            if ((await kube.listObjects({group: 'keda.sh', plural, namespace: release.namespace})).length > 0) return false
          }
          return true
        },
        {timeoutMs: options.timeoutMs, pollMs, sleep, now, onWait: (s) => log(`Waiting for KEDA to release the ScaledObjects in ${release.namespace} (${s}s)`)},
      )
    }
  }

  // Releases left after this run (another KEDA, a failed uninstall): their objects are not leftovers.
  const stillInstalled = labReleases(await deps.releases.list(), options.namespace, options.monitoringNamespace).map((r) => r.name)
  const leftoverOptions = {namespace: options.namespace, monitoringNamespace: options.monitoringNamespace, installed: stillInstalled}
  // A dangling APIService (its Service gone with its release) makes API discovery fail, and the
  // namespace controller then never finishes: with --purge it goes before the namespaces do.
  let removedEarly: Leftover[] = []
  if (options.purge) {
    const dangling = (await findLeftovers(kube, leftoverOptions)).filter((l) => l.kind === 'APIService')
    if (dangling.length > 0) {
      log(`--purge: deleting APIService ${dangling.map((l) => l.name).join(', ')} first (an unavailable APIService keeps namespaces in Terminating)`)
      removedEarly = await removeLeftovers(kube, dangling)
    }
  }

  // 4. PersistentVolumeClaims: deleted with --purge, else they keep their namespace alive.
  const pvcs = {kept: [] as string[], deleted: [] as string[]}
  const keep = new Map<string, string>()
  for (const full of await listPvcs()) {
    const [ns, name] = full.split('/') as [string, string]
    if (options.purge) {
      log(`Deleting PersistentVolumeClaim ${full}`)
      if (await kube.deleteObject(pvcRef(ns), name)) pvcs.deleted.push(full)
    } else {
      pvcs.kept.push(full)
      keep.set(ns, [keep.get(ns), name].filter(Boolean).join(', '))
    }
  }

  // 5. Namespaces.
  const outcomes = new Map<string, NamespaceOutcome>()
  const toDelete: string[] = []
  for (const name of namespaceNames) {
    if (!existing.some((e) => e.name === name)) outcomes.set(name, {name, status: 'absent'})
    else if (SYSTEM_NAMESPACES.has(name)) outcomes.set(name, {name, status: 'kept', reason: `${name} is a system namespace`})
    else if (keep.has(name)) {
      outcomes.set(name, {
        name,
        status: 'kept',
        reason: `it holds PersistentVolumeClaims (${keep.get(name)}); \`keda-lab uninstall --purge\` deletes them and the namespace`,
      })
    } else toDelete.push(name)
  }
  for (const name of toDelete) {
    log(`Deleting namespace ${name}`)
    await kube.deleteNamespace(name)
  }
  const gone = async (names: string[]) => {
    for (const name of names) if (await kube.getNamespace(name)) return false
    return true
  }
  const remaining = async (names: string[]) => {
    const out: string[] = []
    for (const name of names) if (await kube.getNamespace(name)) out.push(name)
    return out
  }
  await waitUntil(() => gone(toDelete), {
    timeoutMs: options.timeoutMs,
    pollMs,
    sleep,
    now,
    onWait: async (s) => log(`Waiting for namespaces to disappear: ${(await remaining(toDelete)).join(', ')} still Terminating (${s}s)`),
  })
  for (const name of toDelete) {
    const ns = await kube.getNamespace(name)
    if (!ns) {
      outcomes.set(name, {name, status: 'removed'})
      continue
    }
    const blockers = await findBlockers(kube, ns)
    const lines = describeBlockers(blockers)
    log(`Namespace ${name} is stuck in Terminating:`)
    for (const line of lines) log(`  ${line}`)
    if (!options.force) {
      outcomes.set(name, {name, status: 'stuck', blockers: lines, hint: stuckHint(blockers.conditions, blockers.unavailableApiServices)})
      continue
    }
    log(`--force: clearing the finalizers that hold namespace ${name}`)
    const settleMs = Math.min(options.timeoutMs, 10_000)
    const cleared = await forceFinalize(kube, blockers, () => waitUntil(() => gone([name]), {timeoutMs: settleMs, pollMs, sleep, now}))
    const done = await waitUntil(() => gone([name]), {timeoutMs: Math.min(options.timeoutMs, 30_000), pollMs, sleep, now})
    if (done) outcomes.set(name, {name, status: 'forced', cleared})
    else {
      const again = await findBlockers(kube, (await kube.getNamespace(name)) ?? ns)
      outcomes.set(name, {name, status: 'stuck', blockers: describeBlockers(again), hint: stuckHint(again.conditions, again.unavailableApiServices)})
    }
  }

  // 6. Cluster-scoped leftovers of the releases that are gone.
  const rest = await findLeftovers(kube, leftoverOptions)
  const found = [...removedEarly, ...rest]
  let removedLeftovers: Leftover[] = removedEarly
  if (rest.length > 0 && options.purge) {
    log(`--purge: deleting ${rest.length} cluster-scoped leftover object(s)`)
    removedLeftovers = [...removedEarly, ...(await removeLeftovers(kube, rest))]
  }

  const namespaces = namespaceNames.map((n) => outcomes.get(n)!)
  return {
    releases: removed,
    namespaces,
    pvcs,
    leftovers: {found, removed: removedLeftovers},
    ok: !namespaces.some((n) => n.status === 'stuck'),
  }
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
