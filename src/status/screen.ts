/**
 * The `keda-lab status` screen: the verdict on top with its reasons, then the components, the
 * worker's autoscaling, the API's HPA, the queue and the alerts. Plain text (no colour codes
 * unless asked), so the same lines work in a terminal, a log and `--watch` without a TTY.
 */
import type {ClusterStatusReport, ComponentStatus, LocalStatusReport, StatusReport} from './model.js'

const VERDICT = {healthy: '√ healthy', degraded: '× degraded', 'not-installed': '- not installed'} as const
const STATE = {ok: '√', degraded: '×', missing: '×', absent: '-'} as const

/** Pads cells into aligned columns. */
function table(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  )
}

const ago = (iso: string | undefined, now: Date): string => {
  if (!iso) return ''
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000))
  if (!Number.isFinite(s)) return ''
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`
}

const n = (v: number | undefined) => (v === undefined ? '?' : String(v))

function componentRows(components: readonly ComponentStatus[]): string[] {
  const rows = [['', 'COMPONENT', 'READY', 'RESTARTS', 'VERSION', 'WORKLOAD']]
  for (const c of components) {
    rows.push([
      STATE[c.state],
      c.title,
      c.state === 'missing' || c.state === 'absent' ? (c.state === 'absent' ? 'not installed' : 'missing') : `${c.ready}/${c.desired}`,
      String(c.restarts),
      c.version || '-',
      `${c.namespace}/${c.workload}`,
    ])
  }
  return table(rows)
}

function renderCluster(r: ClusterStatusReport, now: Date): string[] {
  const out = [`keda-lab status: ${VERDICT[r.verdict]}  (context ${r.context}, namespace ${r.namespace}, ${r.checkedAt})`]
  for (const reason of r.reasons) out.push(`  - ${reason}`)
  if (r.verdict === 'not-installed') {
    for (const note of r.notes) out.push(`  ${note}`)
    out.push('  Install it with `keda-lab install`, or pick the namespace with -n / the context with --context.')
    return out
  }
  out.push('', ...componentRows(r.components))
  if (r.redis) {
    out.push(
      '',
      `Redis: master ${r.redis.master ?? 'unknown'}, ${r.redis.replicas} replica(s) ready, ${r.redis.sentinels} Sentinel(s)${r.redis.note ? ` (${r.redis.note})` : ''}`,
    )
  }
  out.push('')
  if (r.worker) {
    const w = r.worker
    out.push(
      `Workers (ScaledObject ${w.name}): Ready=${w.ready ?? 'unknown'}${w.readyReason ? ` (${w.readyReason})` : ''}, Active=${w.active ?? 'unknown'}${w.paused ? ', PAUSED' : ''}; ` +
        `replicas ${n(w.currentReplicas)} now, ${n(w.desiredReplicas)} desired, min ${n(w.minReplicas)} max ${n(w.maxReplicas)}; ${w.tasksPerReplica ?? '?'} task(s) per replica`,
    )
    out.push(
      `  last scaling: ${w.lastScale ? `${w.lastScale.message}${w.lastScale.at ? ` (${ago(w.lastScale.at, now)})` : ''}` : 'none yet'}${w.hpaName ? `  [HPA ${w.hpaName}]` : ''}`,
    )
  } else out.push('Workers: no ScaledObject')
  if (r.apiHpa) {
    const h = r.apiHpa
    out.push(
      `API (HPA ${h.name}): CPU ${h.cpuPercent === undefined ? 'unknown' : `${h.cpuPercent}%`} of ${h.cpuTargetPercent === undefined ? '?' : `${h.cpuTargetPercent}%`} target; replicas ${h.currentReplicas} now, ${h.desiredReplicas} desired, min ${h.minReplicas} max ${h.maxReplicas}`,
    )
    out.push(`  last scaling: ${h.lastScale ? `${h.lastScale.message}${h.lastScale.at ? ` (${ago(h.lastScale.at, now)})` : ''}` : 'none yet'}`)
    if (h.problem) out.push(`  cannot scale: ${h.problem}`)
  } else out.push('API: no HPA')
  if (r.apiUsage) out.push(...apiUsageLines(r.apiUsage, r.apiHpa?.cpuTargetPercent))
  out.push(queueLine(r.queue))
  if (r.alerts.available) {
    out.push(r.alerts.firing.length === 0 ? 'Alerts: none firing' : `Alerts firing: ${r.alerts.firing.length}`)
    for (const a of r.alerts.firing)
      out.push(`  ${a.name}${a.severity ? ` [${a.severity}]` : ''}${a.since ? ` since ${ago(a.since, now)}` : ''}${a.summary ? `: ${a.summary}` : ''}`)
  } else out.push(`Alerts: unknown (${r.alerts.error})`)
  for (const note of r.notes) out.push(`Note: ${note}`)
  return out
}

const mebibytes = (bytes: number) => `${Math.round(bytes / 2 ** 20)}Mi`

/** The API pods' CPU and memory (metrics API), each against its request and the HPA's target. */
function apiUsageLines(u: NonNullable<ClusterStatusReport['apiUsage']>, targetPercent: number | undefined): string[] {
  if (!u.available) return [`  API pods' CPU and memory: unknown (${u.reason})`]
  if (u.pods.length === 0) return [`  API pods' CPU and memory: ${u.reason ?? 'no pod measured'}`]
  const rows = [['', 'POD', 'CPU', 'OF REQUEST', 'MEMORY']]
  for (const p of u.pods) {
    const over = targetPercent !== undefined && p.cpuPercent !== undefined && p.cpuPercent > targetPercent
    rows.push([
      '',
      p.name,
      `${p.cpuMillis}m`,
      p.cpuPercent === undefined ? '-' : `${p.cpuPercent}% of ${p.cpuRequestMillis}m${over ? ' (above target)' : ''}`,
      mebibytes(p.memoryBytes),
    ])
  }
  return [
    `  API pods: average CPU ${u.cpuPercent === undefined ? 'unknown' : `${u.cpuPercent}%`} of request${targetPercent === undefined ? '' : ` (target ${targetPercent}%)`}`,
    ...table(rows).map((l) => `  ${l}`),
  ]
}

function queueLine(q: ClusterStatusReport['queue']): string {
  if (!q.available) return `Queue: unknown (${q.error})`
  return `Queue${q.name ? ` "${q.name}"` : ''}: ${q.waiting} waiting, ${q.active} active, ${q.completed} completed, ${q.failed} failed; ${n(q.workers)} worker(s) connected`
}

function renderLocal(r: LocalStatusReport, now: Date): string[] {
  // A dev stack is never installed, it runs or not: "not installed" would send the reader to `install`.
  const verdict = r.verdict === 'not-installed' ? '- not running' : VERDICT[r.verdict]
  const out = [`keda-lab status (dev): ${verdict}${r.apiUrl ? `  (API ${r.apiUrl}, ${r.checkedAt})` : ''}`]
  for (const reason of r.reasons) out.push(`  - ${reason}`)
  if (r.verdict === 'not-installed') return out
  out.push('', `API: ${r.apiReady ? 'ready (reaches Redis)' : 'NOT ready'}`, queueLine(r.queue))
  if (r.dev) {
    out.push(
      `Workers: ${r.dev.workers.length} process(es)${r.dev.workers.length > 0 ? ` (${r.dev.workers.join(', ')})` : ''}; dev pid ${r.dev.pid}, started ${ago(r.dev.startedAt, now)}`,
    )
    const a = r.dev.autoscale
    if (a) {
      out.push(`Autoscale: ${a.minWorkers}..${a.maxWorkers} workers, ${a.tasksPerWorker} task(s) per worker, every ${a.pollingIntervalMs / 1000} s`)
      if (r.dev.decisions.length === 0) out.push('  no decision yet')
      for (const d of r.dev.decisions.slice(-10)) out.push(`  ${d.at.slice(11, 23)} ${d.message}`)
    } else out.push('Autoscale: off (keda-lab dev --autoscale turns it on)')
  } else out.push('Workers/autoscale: unknown (no state file of a running keda-lab dev for this URL)')
  return out
}

/** The report as the lines of one screen. */
export function renderStatus(report: StatusReport, now = new Date()): string {
  return (report.target === 'cluster' ? renderCluster(report, now) : renderLocal(report, now)).join('\n')
}
