import {collectDefaultMetrics, Counter, Registry} from 'prom-client'

/** The webhook's Prometheus metrics, on their own registry (one per service). */
export interface WebhookMetrics {
  registry: Registry
  /** Alerts received on POST /alerts, by the alert's own status (firing/resolved). */
  alertsReceived: Counter<'status'>
  /** Notifications received, by endpoint and by what the webhook answered. */
  notifications: Counter<'endpoint' | 'outcome'>
  /** Telegram message attempts by result: sent, retried (failed, tried again) or failed (given up). */
  telegramMessages: Counter<'result'>
  /** Button presses and commands from the chat, by kind and outcome (done, refused, failed, ignored). */
  telegramUpdates: Counter<'kind' | 'outcome'>
}

/** Creates the metrics; `defaultMetrics` adds the process metrics (off in tests that build many apps). */
export function createWebhookMetrics(options: {defaultMetrics?: boolean} = {}): WebhookMetrics {
  const registry = new Registry()
  registry.setDefaultLabels({service: 'webhook'})
  if (options.defaultMetrics ?? true) collectDefaultMetrics({register: registry})
  const alertsReceived = new Counter({
    name: 'keda_lab_webhook_alerts_received_total',
    help: 'Alerts received from Alertmanager, by alert status',
    labelNames: ['status'] as const,
    registers: [registry],
  })
  const notifications = new Counter({
    name: 'keda_lab_webhook_notifications_total',
    help: 'Notifications received, by endpoint and outcome (delivered, invalid, unauthorized, telegram_failed)',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [registry],
  })
  const telegramMessages = new Counter({
    name: 'keda_lab_webhook_telegram_messages_total',
    help: 'Telegram sendMessage attempts by result (sent, retried, failed)',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  const telegramUpdates = new Counter({
    name: 'keda_lab_webhook_telegram_updates_total',
    help: 'Button presses and commands from Telegram, by kind (button, command) and outcome (done, refused, failed, ignored)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  })
  // Zero series exist from the start, so rate() and absent() work before the first alert.
  for (const status of ['firing', 'resolved']) alertsReceived.inc({status}, 0)
  for (const result of ['sent', 'retried', 'failed']) telegramMessages.inc({result}, 0)
  for (const kind of ['button', 'command']) for (const outcome of ['done', 'refused', 'failed']) telegramUpdates.inc({kind, outcome}, 0)
  return {registry, alertsReceived, notifications, telegramMessages, telegramUpdates}
}
