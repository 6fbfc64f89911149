import {describe, expect, it} from 'vitest'

import {
  escapeHtml,
  formatAlertNotification,
  formatDuration,
  formatMaxWorkersReached,
  formatTime,
  MAX_ALERTS_SHOWN,
  TELEGRAM_MESSAGE_LIMIT,
  truncateEscaped,
} from '../../src/services/webhook/format.js'
import {parseTelegramHtml} from '../fakes/telegram.js'
import {alert, alertmanagerPayload} from '../helpers/alerts.js'

/** Every message must be one Telegram accepts: valid HTML for its parser and within the limit. */
function visible(messages: string[]): string[] {
  return messages.map((m) => {
    expect(m.length).toBeLessThanOrEqual(TELEGRAM_MESSAGE_LIMIT)
    const parsed = parseTelegramHtml(m)
    if (!parsed.ok) throw new Error(`Telegram would reject: ${parsed.error}\n${m}`)
    return parsed.text
  })
}

describe('escapeHtml / truncateEscaped', () => {
  it('escapes the characters Telegram HTML reserves and keeps everything else', () => {
    expect(escapeHtml(`<b>Tom & "Jerry"</b> 🚀`)).toBe('&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; 🚀')
    expect(escapeHtml('&amp;')).toBe('&amp;amp;')
  })

  it('replaces lone surrogates and drops control characters (they cannot be sent as UTF-8)', () => {
    expect(escapeHtml('a\uD800b\u0007c\nd')).toBe('a\uFFFDbc\nd')
  })

  it('cuts on code points and before entities, never inside them, and marks the cut', () => {
    const text = '🚀'.repeat(10) + '<'.repeat(10)
    for (let max = 1; max <= 70; max++) {
      const cut = truncateEscaped(text, max)
      expect(cut.length).toBeLessThanOrEqual(max)
      expect(parseTelegramHtml(cut).ok).toBe(true)
      expect(cut).not.toMatch(/[\uD800-\uDBFF]$|[\uD800-\uDBFF][^\uDC00-\uDFFF]/)
      if (cut !== escapeHtml(text)) expect(cut.endsWith('…')).toBe(true)
    }
    expect(truncateEscaped('short', 100)).toBe('short')
  })
})

describe('times', () => {
  it('formats RFC 3339 with nanoseconds and treats the zero time as not set', () => {
    expect(formatTime('2026-11-28T08:00:00.123456789Z')).toBe('2026-11-28 08:00:00 UTC')
    expect(formatTime('2026-11-28T09:30:00+01:00')).toBe('2026-11-28 08:30:00 UTC')
    expect(formatTime('0001-01-01T00:00:00Z')).toBeUndefined()
    expect(formatDuration('2026-11-28T08:00:00Z', '2026-11-28T09:02:03Z')).toBe('1h 2m 3s')
    expect(formatDuration('2026-11-28T08:00:00Z', '0001-01-01T00:00:00Z')).toBeUndefined()
  })
})

describe('formatAlertNotification', () => {
  it('says firing, names the alert, severity, summary, description, key labels and start time', () => {
    const messages = formatAlertNotification(alertmanagerPayload([alert()]))
    expect(messages).toHaveLength(1)
    const [text] = visible(messages)
    expect(text).toContain('FIRING:1')
    expect(text).toContain('KedaLabWorkersAtMax')
    expect(text).toContain('warning')
    expect(text).toContain('Workers at their maximum replicas')
    expect(text).toContain('The worker HPA has been at 10/10 for 30s.')
    expect(text).toMatch(/namespace=keda · deployment=worker · pod=worker-1/)
    expect(text).toContain('Started: 2026-11-28 08:00:00 UTC')
    expect(text).not.toContain('Resolved:')
    expect(messages[0]).toContain('<a href="http://prometheus:9090/graph?g0.expr=up&amp;g0.tab=1">Prometheus expression</a>')
  })

  it("links the Grafana dashboard and moves the expression link onto the reader's Prometheus address", () => {
    const [message] = formatAlertNotification(
      alertmanagerPayload([alert({generatorURL: 'http://prometheus-0.monitoring.svc:9090/graph?g0.expr=up%3E0&g0.tab=1'})]),
      undefined,
      {
        grafanaDashboardUrl: 'http://127.0.0.1:3000/d/keda-lab-keda?orgId=1&refresh=10s',
        prometheusUrl: 'http://127.0.0.1:9090/',
      },
    )
    expect(message).toContain('<a href="http://127.0.0.1:9090/graph?g0.expr=up%3E0&amp;g0.tab=1">Prometheus expression</a>')
    expect(message).toContain('<a href="http://127.0.0.1:3000/d/keda-lab-keda?orgId=1&amp;refresh=10s">Grafana dashboard</a>')
    expect(message).toContain('<a href="http://alertmanager:9093">Open Alertmanager</a>')
    expect(parseTelegramHtml(message!).ok).toBe(true)
  })

  it('says resolved with the end time and how long it lasted', () => {
    const resolved = alert({status: 'resolved', endsAt: '2026-11-28T08:05:12Z'})
    const [text] = visible(formatAlertNotification(alertmanagerPayload([resolved])))
    expect(text).toContain('✅')
    expect(text).toContain('RESOLVED:1')
    expect(text).toContain('Resolved: 2026-11-28 08:05:12 UTC (after 5m 12s)')
  })

  it('escapes nasty annotations and labels so Telegram shows them verbatim', () => {
    const nasty = `<script>alert("x")</script> & &amp; </b> 💥👩‍👩‍👧 \u202Eevil`
    const messages = formatAlertNotification(
      alertmanagerPayload([
        alert({
          labels: {alertname: '<Bad & Name>', severity: 'critical', namespace: 'a<b', 'we<ird': '"q"'},
          annotations: {summary: nasty, description: nasty},
        }),
      ]),
    )
    const [text] = visible(messages)
    expect(text).toContain(nasty)
    expect(text).toContain('<Bad & Name>')
    expect(text).toContain('namespace=a<b')
    expect(text).toContain('we<ird="q"')
    expect(messages[0]).not.toContain('<script>')
  })

  it('truncates a huge description and stays within the 4096-character limit', () => {
    const huge = '<&> 🚀 '.repeat(5000)
    const messages = formatAlertNotification(
      alertmanagerPayload([
        alert({
          annotations: {summary: huge, description: huge},
          labels: Object.fromEntries(Array.from({length: 50}, (_, i) => [`label${i}`, huge.slice(0, 500)])),
        }),
      ]),
    )
    expect(messages).toHaveLength(1)
    const [text] = visible(messages)
    expect(text).toContain('…')
    expect(text).toContain('Started: 2026-11-28 08:00:00 UTC')
    expect(text).toMatch(/\(\+\d+ more\)/)
  })

  it('splits many alerts into numbered parts between alerts, and counts the ones not shown', () => {
    const long = 'x'.repeat(1500)
    const alerts = Array.from({length: 60}, (_, i) =>
      alert({fingerprint: `f${i}`, labels: {alertname: 'QueueBacklogGrowing', namespace: 'keda', pod: `worker-${i}`}, annotations: {description: long}}),
    )
    const messages = formatAlertNotification(alertmanagerPayload(alerts, {truncatedAlerts: 5}))
    expect(messages.length).toBeGreaterThan(1)
    const texts = visible(messages)
    for (const [i, t] of texts.entries()) expect(t.split('\n')[0]).toContain(`(part ${i + 1}/${messages.length})`)
    const shown = texts.join('\n').match(/pod=worker-\d+/g) ?? []
    expect(shown).toHaveLength(MAX_ALERTS_SHOWN)
    // Summarised by status and name, not cut off: the 40 not shown here, plus the 5 Alertmanager truncated.
    expect(texts.at(-1)).toContain(`…and ${60 - MAX_ALERTS_SHOWN + 5} more alerts not shown here: ${60 - MAX_ALERTS_SHOWN} firing QueueBacklogGrowing.`)
  })

  it('lists firing alerts before resolved ones in a mixed notification', () => {
    const [text] = visible(
      formatAlertNotification(
        alertmanagerPayload([alert({status: 'resolved', endsAt: '2026-11-28T08:01:00Z', labels: {alertname: 'Old'}}), alert({labels: {alertname: 'New'}})]),
      ),
    )
    expect(text).toContain('FIRING:1, RESOLVED:1')
    expect(text!.indexOf('New')).toBeLessThan(text!.indexOf('Old'))
  })
})

describe('formatMaxWorkersReached', () => {
  it('keeps the original message and escapes the values', () => {
    const message = formatMaxWorkersReached({scaler: 'redis-scaler', namespace: 'keda', deployment: 'worker<&>', numWorkers: 10})
    const [text] = visible([message])
    expect(text).toBe('⚠️ Max workers reached: scaler redis-scaler in namespace keda scaled deployment worker<&> to 10 workers')
  })
})
