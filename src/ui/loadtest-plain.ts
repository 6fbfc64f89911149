/**
 * Plain text for `keda-lab loadtest`: the end-of-run summary (the live view and the progress lines
 * are loadtest-view.ts). No colours, no cursor movement: it reads the same in a terminal, a log or CI.
 */
import type {LoadSummary} from '../lab/loadtest/records.js'

const ms = (v: number | undefined) => (v === undefined ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(1)}ms`)

/** The summary of a run, as lines. */
export function summaryLines(summary: LoadSummary, scalingLines: readonly string[] = []): string[] {
  const it = summary.iterations
  const lines = [
    `${summary.profile}: ${it.completed} of ${it.started} iterations completed in ${summary.durationS.toFixed(1)} s` +
      `${it.failed ? `, ${it.failed} failed` : ''}${it.interrupted ? `, ${it.interrupted} interrupted` : ''}${it.dropped ? `, ${it.dropped} dropped` : ''}` +
      `${summary.interrupted ? ` (stopped early${summary.abortedBy ? `: ${summary.abortedBy} failed` : ''})` : ''}`,
  ]
  if (summary.rate) {
    const short = summary.rate.achieved < summary.rate.asked * 0.99 ? ' — the asked rate was NOT met' : ''
    lines.push(`rate: ${summary.rate.achieved.toFixed(3)}/s achieved of ${summary.rate.asked.toFixed(3)}/s asked${short}`)
  }
  lines.push(`requests: add ${summary.requests.add}, status ${summary.requests.status}; errors ${summary.errors}`)
  lines.push(`tasks: ${summary.tasks.queued} queued, ${summary.tasks.completed} completed, ${summary.tasks.failed} failed`)
  lines.push(`latency          ${['count', 'p50', 'p90', 'p95', 'p99', 'max'].map((h) => h.padStart(9)).join('')}`)
  const row = (name: string, l: LoadSummary['latency']['add']) =>
    l && lines.push(`  ${name.padEnd(15)}${String(l.count).padStart(9)}${[l.p50, l.p90, l.p95, l.p99, l.max].map((v) => ms(v).padStart(9)).join('')}`)
  row('add', summary.latency.add)
  row('add (from send)', summary.latencyFromSend.add)
  row('status', summary.latency.status)
  row('task (e2e)', summary.latency.task)
  row('task elapsed', summary.taskTimeElapsed)
  if (summary.schedulerLag) row('scheduler lag', summary.schedulerLag)
  lines.push('checks')
  for (const [name, c] of Object.entries(summary.checks)) {
    const total = c.passes + c.fails
    lines.push(`  ${c.fails === 0 ? '✓' : '✗'} ${name}: ${c.passes}/${total}${c.fails ? ` (${c.fails} failed)` : ''}`)
  }
  lines.push(...scalingLines)
  if (summary.thresholds.length > 0) {
    lines.push('thresholds')
    for (const t of summary.thresholds) lines.push(`  ${t.ok ? '✓' : '✗'} ${t.expression} (${t.actual})`)
  }
  if (summary.exitCode === 99) lines.push('A threshold failed: exit code 99.')
  return lines
}
