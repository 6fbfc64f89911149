import type {Alert, AlertmanagerPayload, MaxWorkersQuery} from './alertmanager-schema.js'

/** Telegram rejects a message longer than this (counted after entity parsing; we count the raw HTML, which is stricter). */
export const TELEGRAM_MESSAGE_LIMIT = 4096

/** Alerts shown in detail per notification; the rest are counted in a footer so one storm cannot become dozens of messages. */
export const MAX_ALERTS_SHOWN = 20

/** Labels shown first, in this order, when present: the ones that say where the problem is. */
const KEY_LABELS = [
  'namespace',
  'deployment',
  'horizontalpodautoscaler',
  'scaledobject',
  'statefulset',
  'pod',
  'container',
  'service',
  'job',
  'instance',
  'queue',
]
/** Labels never listed: already in the title, or noise. */
const HIDDEN_LABELS = new Set(['alertname', 'severity', 'prometheus', '__name__'])
const MAX_LABELS = 10

// Escaped-length caps per field. Together with the adaptive description budget below they keep
// every alert block well under the limit, so a block never has to be cut inside an HTML tag.
const CAP = {alertname: 120, severity: 40, summary: 400, description: 1800, labelKey: 60, labelValue: 120, labels: 700, url: 500}
const PART_SUFFIX_RESERVE = ' <i>(part 999/999)</i>'.length

const STATUS_ICON = {firing: '🔥', resolved: '✅'} as const
const SEVERITY_ICON: Record<string, string> = {critical: '🔴', error: '🔴', warning: '🟠', info: '🔵', none: '⚪'}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
// Control characters other than tab and newline are invisible in Telegram and some are rejected.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's job
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g

/** Makes text safe to send: well-formed UTF-16 (lone surrogates cannot be encoded as UTF-8) and no control characters. */
export function sanitizeText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(CONTROL, '')
}

/**
 * Escapes text for Telegram's HTML parse mode: `&`, `<`, `>` and `"` (the four named entities
 * Telegram supports), so the text can sit in an element or in an attribute value.
 */
export function escapeHtml(text: string): string {
  return sanitizeText(text).replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'))
}

/**
 * Escapes `text` and cuts it so the escaped result is at most `max` UTF-16 units, ending with "…"
 * when cut. It cuts between code points (never inside an emoji's surrogate pair) and before an
 * entity (never inside `&amp;`).
 */
export function truncateEscaped(text: string, max: number): string {
  const escaped = escapeHtml(text)
  if (escaped.length <= max) return escaped
  if (max <= 0) return ''
  let out = ''
  for (const char of sanitizeText(text)) {
    const piece = escapeHtml(char)
    if (out.length + piece.length > max - 1) break
    out += piece
  }
  return `${out}…`
}

/** `2026-11-28 08:00:00 UTC`, or undefined for Alertmanager's "not set" time (year 1) or an unparsable one. */
export function formatTime(iso: string): string | undefined {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1970) return undefined
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')
}

/** `1h 2m 3s` between two ISO times, or undefined when either is not set. */
export function formatDuration(fromIso: string, toIso: string): string | undefined {
  if (!formatTime(fromIso) || !formatTime(toIso)) return undefined
  // Whole seconds of each end, so the duration agrees with the two times as printed.
  let seconds = Math.max(0, Math.floor(Date.parse(toIso) / 1000) - Math.floor(Date.parse(fromIso) / 1000))
  const parts: string[] = []
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`)
      seconds %= size
    }
  }
  if (seconds > 0 || parts.length === 0) parts.push(`${seconds}s`)
  return parts.join(' ')
}

function httpUrl(url: string | undefined): string | undefined {
  if (!url || !/^https?:\/\//i.test(url)) return undefined
  const escaped = escapeHtml(url)
  return escaped.length <= CAP.url ? escaped : undefined
}

function labelLine(labels: Record<string, string>): string | undefined {
  const keys = Object.keys(labels).filter((k) => !HIDDEN_LABELS.has(k))
  const ordered = [...KEY_LABELS.filter((k) => keys.includes(k)), ...keys.filter((k) => !KEY_LABELS.includes(k)).sort()]
  const parts: string[] = []
  let length = 0
  for (const key of ordered.slice(0, MAX_LABELS)) {
    const part = `${truncateEscaped(key, CAP.labelKey)}=<code>${truncateEscaped(labels[key] ?? '', CAP.labelValue)}</code>`
    if (length + part.length + 3 > CAP.labels) break
    parts.push(part)
    length += part.length + 3
  }
  const hidden = ordered.length - parts.length
  if (parts.length === 0) return undefined
  return parts.join(' · ') + (hidden > 0 ? ` <i>(+${hidden} more)</i>` : '')
}

/** Where the messages link to; both optional (the install knows Grafana's and Prometheus' addresses). */
export interface FormatOptions {
  /** The lab's Grafana dashboard, linked under every notification. */
  grafanaDashboardUrl?: string
  /**
   * Prometheus as the reader can reach it: an alert's generatorURL names Prometheus by its
   * in-cluster address, so its path and query (the expression) are moved onto this one.
   */
  prometheusUrl?: string
}

/** The alert's Prometheus expression link, moved onto the reader's Prometheus address when one is configured. */
export function expressionUrl(generatorURL: string | undefined, prometheusUrl?: string): string | undefined {
  if (!generatorURL || !/^https?:\/\//i.test(generatorURL)) return undefined
  if (!prometheusUrl) return generatorURL
  try {
    const source = new URL(generatorURL)
    return prometheusUrl.replace(/\/+$/, '') + source.pathname + source.search
  } catch {
    return generatorURL
  }
}

/** One alert as an HTML block; `room` is the most it may take, the description gives way first. */
function alertBlock(alert: Alert, room: number, options: FormatOptions = {}): string {
  const name = alert.labels.alertname ?? '(no alertname)'
  const severity = alert.labels.severity
  const title =
    `${STATUS_ICON[alert.status]} <b>${truncateEscaped(name, CAP.alertname)}</b>` +
    (severity ? ` · ${SEVERITY_ICON[severity.toLowerCase()] ?? '⚪'} ${truncateEscaped(severity, CAP.severity)}` : '')
  const summary = alert.annotations.summary ?? alert.annotations.message
  const description = alert.annotations.description
  const lines: string[] = [title]
  if (summary) lines.push(`<b>${truncateEscaped(summary, CAP.summary)}</b>`)
  const descriptionAt = lines.length
  const labels = labelLine(alert.labels)
  if (labels) lines.push(labels)
  const started = formatTime(alert.startsAt)
  // "Since when" is the start time, not "firing for 5m": a notification Alertmanager retries
  // after a partial failure must keep the same text, or chats that had it would get it twice.
  if (started) lines.push(`Started: ${started}`)
  if (alert.status === 'resolved') {
    const ended = formatTime(alert.endsAt)
    const lasted = formatDuration(alert.startsAt, alert.endsAt)
    if (ended) lines.push(`Resolved: ${ended}${lasted ? ` (after ${lasted})` : ''}`)
  }
  const source = httpUrl(expressionUrl(alert.generatorURL, options.prometheusUrl))
  if (source) lines.push(`<a href="${source}">Prometheus expression</a>`)
  if (description) {
    const used = lines.join('\n').length + 1
    const budget = Math.min(CAP.description, room - used)
    if (budget >= 20) lines.splice(descriptionAt, 0, truncateEscaped(description, budget))
  }
  return lines.join('\n')
}

/** The title line shared by every part of a notification, e.g. `🔥 [FIRING:2] KedaLabWorkersAtMax`. */
function notificationHeader(payload: AlertmanagerPayload): string {
  const firing = payload.alerts.filter((a) => a.status === 'firing').length
  const resolved = payload.alerts.length - firing
  const counts = [firing > 0 ? `FIRING:${firing}` : '', resolved > 0 ? `RESOLVED:${resolved}` : ''].filter(Boolean).join(', ')
  const name = payload.groupLabels.alertname ?? payload.commonLabels.alertname
  const others = Object.entries(payload.groupLabels)
    .filter(([key]) => key !== 'alertname')
    .map(([key, value]) => `${key}=${value}`)
    .join(', ')
  const title = [name, others ? `(${others})` : ''].filter(Boolean).join(' ')
  return `${STATUS_ICON[payload.status]} <b>[${counts}]</b>${title ? ` ${truncateEscaped(title, 300)}` : ''}`
}

/**
 * Packs blocks into messages of at most `limit` characters, each starting with `header`;
 * when there is more than one, each gets "(part i/n)" so the reader knows one is split.
 */
export function packMessages(header: string, blocks: string[], limit = TELEGRAM_MESSAGE_LIMIT): string[] {
  const messages: string[] = []
  let current = header
  for (const block of blocks) {
    if (current !== header && current.length + 2 + block.length > limit - PART_SUFFIX_RESERVE) {
      messages.push(current)
      current = header
    }
    current += `\n\n${block}`
  }
  messages.push(current)
  if (messages.length === 1) return messages
  return messages.map((message, i) => {
    const [first, ...rest] = message.split('\n')
    return [`${first} <i>(part ${i + 1}/${messages.length})</i>`, ...rest].join('\n')
  })
}

/**
 * Turns one Alertmanager notification into Telegram HTML messages (usually one): status and
 * counts, then per alert its name, severity, summary, description, key labels, start and (when
 * resolved) end time. Long notifications are split between alerts, never inside one.
 */
export function formatAlertNotification(payload: AlertmanagerPayload, limit = TELEGRAM_MESSAGE_LIMIT, options: FormatOptions = {}): string[] {
  const header = notificationHeader(payload)
  const room = limit - PART_SUFFIX_RESERVE - header.length - 2
  // Firing first: they are what the reader must act on (a stable sort keeps Alertmanager's order otherwise).
  const ordered = [...payload.alerts].sort((a, b) => (a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1))
  const shown = ordered.slice(0, MAX_ALERTS_SHOWN)
  const blocks = shown.map((alert) => alertBlock(alert, room, options))
  const notShown = payload.alerts.length - shown.length + (payload.truncatedAlerts ?? 0)
  const link = httpUrl(payload.externalURL)
  const dashboard = httpUrl(options.grafanaDashboardUrl)
  if (notShown > 0 || link || dashboard) {
    const footer: string[] = []
    if (notShown > 0) footer.push(`…and ${notShown} more alert${notShown === 1 ? '' : 's'} not shown here${summarise(ordered.slice(MAX_ALERTS_SHOWN))}.`)
    const links = [dashboard ? `<a href="${dashboard}">Grafana dashboard</a>` : '', link ? `<a href="${link}">Open Alertmanager</a>` : ''].filter(Boolean)
    if (links.length > 0) footer.push(links.join(' · '))
    blocks.push(footer.join('\n'))
  }
  return packMessages(header, blocks, limit)
}

/** `: 950 firing KedaLabX, 3 resolved KedaLabY` — the alerts not shown, counted by status and name (at most 5 names). */
function summarise(alerts: Alert[]): string {
  if (alerts.length === 0) return ''
  const counts = new Map<string, number>()
  for (const alert of alerts) {
    const key = `${alert.status} ${alert.labels.alertname ?? '(no alertname)'}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  const top = [...counts].sort((a, b) => b[1] - a[1])
  const parts = top.slice(0, 5).map(([key, count]) => `${count} ${truncateEscaped(key, 80)}`)
  return `: ${parts.join(', ')}${top.length > 5 ? `, ${top.length - 5} other kinds` : ''}`
}

/** The original system's message for `POST /webhooks/max-workers-reached`. */
export function formatMaxWorkersReached(query: MaxWorkersQuery): string {
  return (
    `⚠️ Max workers reached: scaler <b>${truncateEscaped(query.scaler, 253)}</b>` +
    ` in namespace <b>${truncateEscaped(query.namespace, 253)}</b>` +
    ` scaled deployment <b>${truncateEscaped(query.deployment, 253)}</b>` +
    ` to <b>${query.numWorkers}</b> workers`
  )
}
