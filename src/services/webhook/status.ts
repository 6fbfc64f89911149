import type {Redis} from 'ioredis'

import type {AlertmanagerClient} from './alertmanager-client.js'
import {escapeHtml, truncateEscaped} from './format.js'

/**
 * The `/status` answer: a verdict from what the webhook can see itself — the lab's alerts in
 * Alertmanager (firing, silenced) and, with Redis, the task queue (BullMQ's real keys: waiting
 * and active LISTs, failed ZSET). It does not read the cluster (the webhook has no Kubernetes
 * permissions); `keda-lab status` on a workstation shows replicas and the scaler.
 */
export interface StatusSources {
  alertmanager: AlertmanagerClient
  redis?: Redis
  queueName: string
}

export async function statusReport(sources: StatusSources): Promise<string> {
  const lines: string[] = []
  let verdict = '✅ <b>keda-lab: healthy</b>'
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
