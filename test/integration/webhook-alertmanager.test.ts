import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {buildApp, type WebhookApp} from '../../src/services/webhook/app.js'
import {createWebhookMetrics} from '../../src/services/webhook/metrics.js'
import {createTelegramNotifier} from '../../src/services/webhook/notifier.js'
import {type FakeTelegram, parseTelegramHtml, startFakeTelegram} from '../fakes/telegram.js'
import {type Alertmanager, bearerWebhookReceiver, startAlertmanager} from '../helpers/alertmanager.js'
import {waitFor} from '../helpers/processes.js'

const BOT_TOKEN = `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`
const WEBHOOK_TOKEN = randomBytes(24).toString('hex')

describe('a real Alertmanager delivering to the webhook (bearer auth from http_config.authorization)', () => {
  let telegram: FakeTelegram
  let app: WebhookApp
  let alertmanager: Alertmanager
  const metrics = createWebhookMetrics({defaultMetrics: false})

  async function postAlerts(alerts: object[]) {
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify(alerts),
    })
    expect(response.status).toBe(200)
  }

  function messagesAbout(alertname: string) {
    return telegram.sentMessages().filter((c) => c.text?.includes(alertname))
  }

  beforeAll(async () => {
    telegram = await startFakeTelegram({token: BOT_TOKEN})
    const notifier = createTelegramNotifier({
      botToken: BOT_TOKEN,
      chatIds: ['1001', '1002'],
      apiUrl: telegram.url,
      timeoutMs: 2000,
      retryBudgetMs: 3000,
      // One attempt: a Telegram failure becomes a 502 at once, so the retry seen below is Alertmanager's.
      maxAttempts: 1,
      logger: {info() {}, warn() {}, error() {}},
      onDelivery: (result) => metrics.telegramMessages.inc({result}),
    })
    app = await buildApp({webhookToken: WEBHOOK_TOKEN, notifier, metrics})
    const webhookUrl = await app.listen({port: 0, host: '127.0.0.1'})

    // The same receiver shape the install writes: webhook_configs with a bearer token.
    alertmanager = await startAlertmanager({
      config: [
        'route:',
        '  receiver: keda-lab-telegram',
        '  group_by: [alertname]',
        '  group_wait: 100ms',
        '  group_interval: 1s',
        '  repeat_interval: 1h',
        'receivers:',
        bearerWebhookReceiver('keda-lab-telegram', `${webhookUrl}/alerts`, WEBHOOK_TOKEN),
        '',
      ].join('\n'),
    })
  })

  afterAll(async () => {
    await alertmanager?.stop()
    await app?.close()
    await telegram?.close()
  })

  it('delivers a firing and then a resolved notification to every chat', async () => {
    const startsAt = new Date(Date.now() - 60_000).toISOString()
    const alert = {
      labels: {alertname: 'KedaLabWorkersAtMax', severity: 'warning', namespace: 'keda', horizontalpodautoscaler: 'keda-hpa-worker'},
      annotations: {summary: 'Workers at their maximum replicas', description: 'Queue <tasks> & friends: 10/10 workers 🚀'},
      generatorURL: 'http://prometheus:9090/graph?g0.expr=x&g0.tab=1',
      startsAt,
    }
    await postAlerts([alert])
    await waitFor(() => messagesAbout('KedaLabWorkersAtMax').length >= 2, {
      timeoutMs: 15_000,
      what: `firing messages (alertmanager log: ${alertmanager.log()})`,
    })
    const firing = messagesAbout('KedaLabWorkersAtMax')
    expect(firing.map((c) => c.chat_id).sort()).toEqual(['1001', '1002'])
    const parsed = parseTelegramHtml(firing[0]!.text!)
    expect(parsed.ok && parsed.text).toContain('Queue <tasks> & friends: 10/10 workers 🚀')
    expect(firing[0]!.text).toContain('FIRING:1')

    await postAlerts([{...alert, endsAt: new Date().toISOString()}])
    await waitFor(() => messagesAbout('KedaLabWorkersAtMax').filter((c) => c.text!.includes('RESOLVED:1')).length >= 2, {
      timeoutMs: 15_000,
      what: `resolved messages (alertmanager log: ${alertmanager.log()})`,
    })
    const resolved = messagesAbout('KedaLabWorkersAtMax').find((c) => c.text!.includes('RESOLVED:1'))!
    expect(resolved.text).toMatch(/Resolved: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(after 1m/)
    expect(await metrics.registry.getSingleMetricAsString('keda_lab_webhook_alerts_received_total')).toMatch(/status="resolved"[^\n]* 1/)
  })

  it('gets the notification through when Telegram fails at first: the webhook answers 5xx and Alertmanager retries', async () => {
    telegram.failNext(2, {status: 500})
    const before = telegram.calls.length
    await postAlerts([{labels: {alertname: 'KedaLabQueueBacklogGrowing', severity: 'critical'}, annotations: {summary: 'Backlog growing'}}])
    await waitFor(() => messagesAbout('KedaLabQueueBacklogGrowing').length >= 2, {
      timeoutMs: 30_000,
      what: `retried messages (alertmanager log: ${alertmanager.log()})`,
    })
    const calls = telegram.calls.slice(before).filter((c) => c.method === 'sendMessage')
    expect(calls.filter((c) => c.status === 500)).toHaveLength(2)
    expect(await metrics.registry.getSingleMetricAsString('keda_lab_webhook_notifications_total')).toMatch(
      /endpoint="\/alerts",outcome="telegram_failed"[^}]*\} [1-9]/,
    )
  })
})
