import type {Redis} from 'ioredis'

import type {StatusReport} from '../../status/model.js'
import {renderStatus} from '../../status/screen.js'
import type {AlertmanagerClient} from './alertmanager-client.js'
import {escapeHtml, truncateEscaped} from './format.js'

/**
 * The `/status` answer.
 *
 * With a cluster to read (`STATUS_NAMESPACE`; the chart gives the webhook a read-only
 * ServiceAccount for it), it is `keda-lab status`'s own report — the same collector
 * (src/status/collect.ts) and the same screen (src/status/screen.ts) — under a one-line verdict, so the
 * chat and the terminal never disagree. When the cluster cannot be read (no permission, API
 * server down), the answer says why and falls back to what the webhook sees itself.
 *
 * Without a cluster (`keda-lab dev`, or `webhook.clusterStatus.enabled=false`), the verdict comes
 * from the lab's alerts in Alertmanager (firing, silenced) and, with Redis, the task queue
 * (BullMQ's real keys: waiting and active LISTs, failed ZSET).
 */
export interface StatusSources {
  alertmanager: AlertmanagerClient
  redis?: Redis
  queueName: string
  /** Reads the lab like `keda-lab status` (cluster mode); absent: the webhook's own view only. */
  lab?: () => Promise<StatusReport>
}

/** Room for the screen inside Telegram's 4096 characters, beside the verdict line. */
const SCREEN_MAX = 3600

const VERDICT_LINE = {
  healthy: '✅ <b>keda-lab: healthy</b>',
  degraded: '⚠️ <b>keda-lab: degraded</b>',
  'not-installed': '➖ <b>keda-lab: not installed</b>',
} as const

/** `keda-lab status`'s report as a Telegram message: the verdict, then the status screen as preformatted text. */
export async function labStatusMessage(report: StatusReport, now = new Date()): Promise<string> {
  const screen = renderStatus(report, now)
  const where = report.target === 'cluster' ? ` (namespace <code>${escapeHtml(report.namespace)}</code>)` : ''
  return `${VERDICT_LINE[report.verdict]}${where}\n<pre>${fitLines(screen, SCREEN_MAX)}</pre>`
}

/** Escapes the screen and keeps whole lines within `max` characters, saying how many were left out. */
function fitLines(screen: string, max: number): string {
  const lines = screen.split('\n')
  const kept: string[] = []
  let length = 0
  for (const [i, line] of lines.entries()) {
    const escaped = truncateEscaped(line, 300)
    const rest = lines.length - i
    if (length + escaped.length + 1 > max - 60) {
      kept.push(`… ${rest} more line${rest === 1 ? '' : 's'}: run keda-lab status for all of it`)
      break
    }
    kept.push(escaped)
    length += escaped.length + 1
  }
  return kept.join('\n')
}

export async function statusReport(sources: StatusSources): Promise<string> {
  let cannotReadLab: string | undefined
  if (sources.lab) {
    try {
      return await labStatusMessage(await sources.lab())
    } catch (error) {
      cannotReadLab = `Cannot read the cluster: ${truncateEscaped(error instanceof Error ? error.message : String(error), 400)}`
    }
  }
  const lines: string[] = []
  if (cannotReadLab) lines.push(cannotReadLab, 'What the webhook sees itself:')
  // Without the cluster's view, quiet alerts do not make the lab healthy: its state is unknown.
  let verdict = cannotReadLab ? '⚠️ <b>keda-lab: unknown</b>' : '✅ <b>keda-lab: healthy</b>'
  try {
    const alerts = (await sources.alertmanager.listAlerts()).filter((a) => a.labels.keda_lab === 'true' || a.labels.alertname?.startsWith('KedaLab'))
    const firing = alerts.filter((a) => a.status.state === 'active')
    const silenced = alerts.filter((a) => a.status.state === 'suppressed')
    if (firing.length > 0) verdict = `🔥 <b>keda-lab: ${firing.length} alert${firing.length === 1 ? '' : 's'} firing</b>`
    else if (silenced.length > 0) verdict = `🔕 <b>keda-lab: only silenced alerts (${silenced.length})</b>`
    const names = [...new Set(firing.map((a) => a.labels.alertname ?? '?'))].slice(0, 10)
    if (names.length > 0) lines.push(`Firing: ${names.map((n) => truncateEscaped(n, 80)).join(', ')}`)
    if (silenced.length > 0) lines.push(`Silenced: ${silenced.length}`)
  } catch (error) {
    verdict = '⚠️ <b>keda-lab: Alertmanager unreachable</b>'
    lines.push(escapeHtml(error instanceof Error ? error.message : String(error)))
  }
  if (sources.redis) {
    try {
      const prefix = `bull:${sources.queueName}`
      const [waiting, active, failed] = await Promise.all([
        sources.redis.llen(`${prefix}:wait`),
        sources.redis.llen(`${prefix}:active`),
        sources.redis.zcard(`${prefix}:failed`),
      ])
      lines.push(`Queue <code>${escapeHtml(sources.queueName)}</code>: ${waiting} waiting, ${active} active, ${failed} failed`)
    } catch (error) {
      lines.push(`Queue: Redis unreachable (${escapeHtml(error instanceof Error ? error.message : String(error))})`)
    }
  }
  return [verdict, ...lines].join('\n')
}

/**
 * Reads the lab in `namespace` as `keda-lab status -n namespace` does, through the kubeconfig
 * client-node finds (KUBECONFIG, ~/.kube/config, else the pod's ServiceAccount). The client is
 * built on the first call and kept; a failure to build it is reported and retried next time.
 */
export function clusterStatusReader(where: {namespace: string; monitoringNamespace: string}): () => Promise<StatusReport> {
  let reader: Promise<() => Promise<StatusReport>> | undefined
  return async () => {
    reader ??= import('../../status/collect.js')
      .then(({collectStatus}) => collectStatus({local: false, namespace: where.namespace, monitoringNamespace: where.monitoringNamespace}))
      .catch((error: unknown) => {
        reader = undefined
        throw error
      })
    return (await reader)()
  }
}
