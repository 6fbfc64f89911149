/** The uninstall report as plain lines for the terminal (`--json` prints the report object instead). */
import type {UninstallReport} from './run.js'

/** One line per outcome, `√ / ‼ / × / -` first, with the fix under what failed. */
export function formatUninstallReport(report: UninstallReport, options: {purge: boolean}): string[] {
  const lines: string[] = []
  lines.push(
    report.releases.length > 0
      ? `√ Removed Helm releases: ${report.releases.map((r) => `${r.name} (${r.namespace})`).join(', ')}`
      : '- No keda-lab Helm release was installed',
  )
  for (const ns of report.namespaces) {
    switch (ns.status) {
      case 'removed':
        lines.push(`√ Namespace ${ns.name} removed`)
        break
      case 'absent':
        lines.push(`- Namespace ${ns.name} did not exist`)
        break
      case 'kept':
        lines.push(`‼ Namespace ${ns.name} kept: ${ns.reason}`)
        break
      case 'forced':
        lines.push(
          `√ Namespace ${ns.name} removed after clearing finalizers (--force)` +
            `${ns.cleared.clearedObjects.length > 0 ? `: ${ns.cleared.clearedObjects.join(', ')}` : ''}` +
            `${ns.cleared.clearedNamespaceFinalizers.length > 0 ? `; namespace spec.finalizers ${ns.cleared.clearedNamespaceFinalizers.join(', ')}` : ''}`,
        )
        break
      case 'stuck':
        lines.push(`× Namespace ${ns.name} is stuck in Terminating, blocked by:`)
        for (const b of ns.blockers) lines.push(`    ${b}`)
        lines.push(`    hint: ${ns.hint}`)
        break
    }
  }
  if (report.pvcs.deleted.length > 0) lines.push(`√ Deleted PersistentVolumeClaims: ${report.pvcs.deleted.join(', ')}`)
  if (report.pvcs.kept.length > 0) lines.push(`‼ Kept PersistentVolumeClaims (data survives; --purge deletes them): ${report.pvcs.kept.join(', ')}`)
  const {found, removed} = report.leftovers
  if (found.length === 0) lines.push('√ No cluster-scoped leftovers')
  else if (options.purge) {
    lines.push(`√ Deleted cluster-scoped leftovers: ${removed.map((l) => `${l.kind} ${l.name}`).join(', ')}`)
    if (report.leftovers.terminating.length > 0) {
      lines.push('‼ Deleted, but not yet gone when --timeout ran out (the API server deletes their objects first; it goes on by itself):')
      for (const c of report.leftovers.terminating) lines.push(`    CustomResourceDefinition ${c.name}${c.state ? ` (${c.state})` : ''}`)
    }
  } else {
    lines.push('‼ Cluster-scoped leftovers of the removed releases (`keda-lab uninstall --purge` deletes them):')
    for (const l of found) lines.push(`    ${l.kind} ${l.name} (from ${l.release})`)
  }
  return lines
}
