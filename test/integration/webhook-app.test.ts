import {randomBytes} from 'node:crypto'
import {Writable} from 'node:stream'

import {pino} from 'pino'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {buildApp, type WebhookApp} from '../../src/services/webhook/app.js'
import {type MetricsServer, startMetricsServer} from '../../src/services/shared/metrics-server.js'
import {createWebhookMetrics, type WebhookMetrics} from '../../src/services/webhook/metrics.js'
import {createTelegramNotifier} from '../../src/services/webhook/notifier.js'
import {type FakeTelegram, parseTelegramHtml, startFakeTelegram} from '../fakes/telegram.js'
import {freePort} from '../helpers/processes.js'

// Shape-valid but random per run, so the log grep below cannot pass by luck.
const BOT_TOKEN = `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`
const WEBHOOK_TOKEN = randomBytes(24).toString('hex')
const CHATS = ['111111', '-1002222222']

/** Everything any logger in this file wrote. */
const logLines: string[] = []
const logStream = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk))
    done()
  },
})
const logger = pino({level: 'trace'}, logStream)
/** Every response body received, checked for secrets at the end too. */
const responses: string[] = []

let sequence = 0

/**
 * A firing notification. Each call differs (a `pod` label), because the webhook rightly drops an
 * identical notification resent within its dedupe window.
 */
function firing(overrides: Record<string, unknown> = {}) {
  sequence++
  return {
    version: '4',
    groupKey: '{}/{severity="warning"}:{alertname="KedaLabWorkersAtMax"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'keda-lab-telegram',
    groupLabels: {alertname: 'KedaLabWorkersAtMax'},
    commonLabels: {alertname: 'KedaLabWorkersAtMax', severity: 'warning', namespace: 'keda'},
    commonAnnotations: {summary: 'Workers at their maximum replicas'},
    externalURL: 'http://alertmanager.keda-monitoring:9093',
    alerts: [
      {
        status: 'firing',
        labels: {
          alertname: 'KedaLabWorkersAtMax',
          severity: 'warning',
          namespace: 'keda',
          horizontalpodautoscaler: 'keda-hpa-worker',
          pod: `worker-${sequence}`,
        } as Record<string, string>,
        annotations: {
          summary: 'Workers at their maximum replicas',
          description: 'keda-hpa-worker has run 10 of 10 replicas for 30s <check the queue> & scale up',
        },
        startsAt: '2026-11-28T08:00:00.511438765Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.keda-monitoring:9090/graph?g0.expr=kube_hpa&g0.tab=1',
        fingerprint: '4b7c5e1f0a2d9e33',
      },
    ],
    ...overrides,
  }
}

function resolved() {
  const payload = firing({status: 'resolved'})
  payload.alerts = payload.alerts.map((a) => ({...a, status: 'resolved', endsAt: '2026-11-28T08:07:30Z'}))
  return payload
}

describe('webhook over real HTTP against the fake Telegram Bot API', () => {
  let telegram: FakeTelegram
  let app: WebhookApp
  let metrics: WebhookMetrics
  let metricsServer: MetricsServer
  let base: string
  let metricsUrl: string

  async function post(path: string, body: unknown, headers: Record<string, string> = {auth: WEBHOOK_TOKEN}) {
    const {auth, ...rest} = headers
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(auth === undefined ? {} : {authorization: `Bearer ${auth}`}),
        ...rest,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
    const text = await response.text()
    responses.push(text)
    return {status: response.status, headers: response.headers, json: JSON.parse(text) as {success: boolean; error?: {message: string}}}
  }

  async function metric(name: string, labels: string): Promise<number> {
    const text = await (await fetch(metricsUrl)).text()
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
    return line ? Number(line.split(' ').at(-1)) : 0
  }

  beforeAll(async () => {
    telegram = await startFakeTelegram({token: BOT_TOKEN})
    metrics = createWebhookMetrics({defaultMetrics: false})
    const notifier = createTelegramNotifier({
      botToken: BOT_TOKEN,
      chatIds: CHATS,
      apiUrl: telegram.url,
      timeoutMs: 2000,
      retryBudgetMs: 4000,
      maxAttempts: 3,
      backoffMs: 50,
      logger,
      onDelivery: (result) => metrics.telegramMessages.inc({result}),
    })
    app = await buildApp({webhookToken: WEBHOOK_TOKEN, notifier, metrics, logger, secrets: [BOT_TOKEN]})
    base = await app.listen({port: 0, host: '127.0.0.1'})
    const port = await freePort()
    metricsServer = await startMetricsServer({registry: metrics.registry, host: '127.0.0.1', port})
    metricsUrl = `http://127.0.0.1:${port}/metrics`
  })

  afterAll(async () => {
    await app?.close()
    await metricsServer?.close()
    await telegram?.close()
  })

  beforeEach(() => {
    telegram.clearFailures()
  })

  it('sends a firing notification to every chat as valid Telegram HTML', async () => {
    const before = telegram.sentMessages().length
    const response = await post('/alerts', firing())
    expect(response.status).toBe(200)
    expect(response.json).toEqual({success: true, result: {messages: 1, chats: 2}})
    const sent = telegram.sentMessages().slice(before)
    expect(sent.map((c) => c.chat_id).sort()).toEqual([...CHATS].sort())
    for (const call of sent) {
      expect(call.token).toBe(BOT_TOKEN)
      expect(call.parse_mode).toBe('HTML')
      const parsed = parseTelegramHtml(call.text!)
      expect(parsed.ok).toBe(true)
      const text = parsed.ok ? parsed.text : ''
      expect(text).toContain('FIRING:1')
      expect(text).toContain('KedaLabWorkersAtMax')
      expect(text).toContain('warning')
      expect(text).toContain('Workers at their maximum replicas')
      expect(text).toContain('<check the queue> & scale up')
      expect(text).toContain('horizontalpodautoscaler=keda-hpa-worker')
      expect(text).toContain('Started: 2026-11-28 08:00:00 UTC')
    }
    expect(await metric('keda_lab_webhook_alerts_received_total', 'status="firing"')).toBeGreaterThanOrEqual(1)
  })

  it('sends a resolved notification with its end time', async () => {
    const before = telegram.sentMessages().length
    const response = await post('/alerts', resolved())
    expect(response.status).toBe(200)
    const sent = telegram.sentMessages().slice(before)
    expect(sent).toHaveLength(2)
    for (const call of sent) {
      expect(call.text).toContain('RESOLVED:1')
      expect(call.text).toContain('Resolved: 2026-11-28 08:07:30 UTC (after 7m 30s)')
    }
    expect(await metric('keda_lab_webhook_alerts_received_total', 'status="resolved"')).toBeGreaterThanOrEqual(1)
  })

  it('honours a 429 retry_after, then delivers', async () => {
    const retriedBefore = await metric('keda_lab_webhook_telegram_messages_total', 'result="retried"')
    const start = telegram.calls.length
    telegram.failNext(1, {status: 429, retryAfter: 1})
    const response = await post('/alerts', firing())
    expect(response.status).toBe(200)
    const calls = telegram.calls.slice(start).filter((c) => c.method === 'sendMessage')
    const limited = calls.find((c) => c.status === 429)!
    expect(limited).toBeDefined()
    const retry = calls.find((c) => c.chat_id === limited.chat_id && c.at > limited.at)!
    expect(retry.status).toBe(200)
    expect(retry.at - limited.at).toBeGreaterThanOrEqual(1000)
    expect(calls.filter((c) => c.status === 200)).toHaveLength(2)
    expect(await metric('keda_lab_webhook_telegram_messages_total', 'result="retried"')).toBe(retriedBefore + 1)
  })

  it('retries 5xx with backoff and delivers when Telegram recovers', async () => {
    const start = telegram.calls.length
    telegram.failNext(2, {status: 502})
    const response = await post('/alerts', firing())
    expect(response.status).toBe(200)
    const calls = telegram.calls.slice(start).filter((c) => c.method === 'sendMessage')
    expect(calls.filter((c) => c.status === 502)).toHaveLength(2)
    expect(calls.filter((c) => c.status === 200)).toHaveLength(2)
  })

  it('answers 502 when Telegram keeps failing, within the retry budget, so Alertmanager retries', async () => {
    const failedBefore = await metric('keda_lab_webhook_telegram_messages_total', 'result="failed"')
    telegram.failNext(1000, {status: 500})
    const before = telegram.calls.length
    const response = await post('/alerts', firing())
    expect(response.status).toBe(502)
    // Within the budget: a handful of attempts per chat, not the 1000 failures queued up.
    expect(telegram.calls.length - before).toBeLessThan(40)
    expect(response.json.success).toBe(false)
    expect(response.json.error!.message).toMatch(/^Telegram did not accept the message for 2 of 2 chat\(s\): Telegram answered 500/)
    expect(await metric('keda_lab_webhook_telegram_messages_total', 'result="failed"')).toBe(failedBefore + 2)
    expect(await metric('keda_lab_webhook_notifications_total', 'outcome="telegram_failed"')).toBeGreaterThanOrEqual(1)
  })

  it('answers 503 with Retry-After when Telegram asks to wait longer than the budget', async () => {
    telegram.failNext(10, {status: 429, retryAfter: 30})
    const before = telegram.calls.length
    const response = await post('/webhooks/max-workers-reached?scaler=s&namespace=keda&deployment=worker&numWorkers=10', '')
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('30')
    // It did not wait 30 s to try again: one attempt per chat, then the answer.
    expect(telegram.calls.length - before).toBeLessThanOrEqual(2)
  })

  it('gives up on a Telegram that does not answer within the budget (per-attempt timeout), with 502', async () => {
    telegram.slowNext(100, 10_000)
    const before = telegram.calls.length
    const response = await post('/alerts', firing())
    expect(response.status).toBe(502)
    expect(response.json.error!.message).toMatch(/did not answer within \d+ ms/)
    // 4 s budget, 2 s per attempt: at most two attempts per chat, not the 100 slow answers queued.
    expect(telegram.calls.length - before).toBeLessThanOrEqual(4)
    telegram.clearFailures()
  })

  it('does not retry a request Telegram rejects for good (400) and answers 502', async () => {
    const start = telegram.calls.length
    telegram.failNext(2, {status: 400, description: 'Bad Request: chat not found'})
    const response = await post('/alerts', firing())
    expect(response.status).toBe(502)
    expect(response.json.error!.message).toContain('chat not found')
    expect(telegram.calls.slice(start).filter((c) => c.method === 'sendMessage')).toHaveLength(2)
  })

  it('after a partial failure, the resent notification reaches only the chat that missed it', async () => {
    // A payload no other test sends, so earlier deliveries cannot count as duplicates.
    const payload = firing({groupKey: 'partial'})
    payload.alerts[0]!.labels.pod = 'partial-failure-pod'
    const mine = () => telegram.sentMessages().filter((c) => c.text!.includes('partial-failure-pod'))
    telegram.failNext(1, {status: 400, description: 'Bad Request: not retryable here'})
    const first = await post('/alerts', payload)
    expect(first.status).toBe(502)
    expect(mine()).toHaveLength(1)
    const served = mine()[0]!.chat_id
    const again = await post('/alerts', payload)
    expect(again.status).toBe(200)
    expect(
      mine()
        .map((c) => c.chat_id)
        .sort(),
    ).toEqual([...CHATS].sort())
    expect(mine().filter((c) => c.chat_id === served)).toHaveLength(1)
    // The original endpoint is not deduplicated: each call is a new event.
    const before = telegram.sentMessages().length
    for (let i = 0; i < 2; i++) expect((await post('/webhooks/max-workers-reached?scaler=a&namespace=b&deployment=c&numWorkers=2', '')).status).toBe(200)
    expect(telegram.sentMessages().length - before).toBe(4)
  })

  it('keeps the original max-workers-reached endpoint and message', async () => {
    const before = telegram.sentMessages().length
    const response = await post('/webhooks/max-workers-reached?scaler=redis-list&namespace=keda&deployment=worker&numWorkers=10', '')
    expect(response.status).toBe(200)
    const sent = telegram.sentMessages().slice(before)
    expect(sent).toHaveLength(2)
    const parsed = parseTelegramHtml(sent[0]!.text!)
    expect(parsed.ok && parsed.text).toBe('⚠️ Max workers reached: scaler redis-list in namespace keda scaled deployment worker to 10 workers')
  })

  it('answers 400 naming a missing or bad query parameter', async () => {
    for (const missing of ['scaler', 'namespace', 'deployment', 'numWorkers']) {
      const query = new URLSearchParams({scaler: 's', namespace: 'n', deployment: 'd', numWorkers: '3'})
      query.delete(missing)
      const response = await post(`/webhooks/max-workers-reached?${query}`, '')
      expect(response.status).toBe(400)
      expect(response.json.error!.message).toBe(`Missing query parameter "${missing}"`)
    }
    const bad = await post('/webhooks/max-workers-reached?scaler=s&namespace=n&deployment=d&numWorkers=many', '')
    expect(bad.status).toBe(400)
    expect(bad.json.error!.message).toMatch(/^Invalid query parameter "numWorkers"/)
  })

  it('answers 401 without the right bearer token, on both endpoints, before reading the body', async () => {
    const before = telegram.calls.length
    const cases: Record<string, string>[] = [
      {},
      {auth: 'wrong'},
      {auth: WEBHOOK_TOKEN.slice(0, -1)},
      {auth: `${WEBHOOK_TOKEN}0`},
      {authorization: `Basic ${WEBHOOK_TOKEN}`},
      {authorization: WEBHOOK_TOKEN},
    ]
    for (const headers of cases) {
      for (const path of ['/alerts', '/webhooks/max-workers-reached?scaler=s&namespace=n&deployment=d&numWorkers=1']) {
        const response = await post(path, '{not json', headers)
        expect(response.status).toBe(401)
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/)
        expect(response.json.error!.message).toMatch(/bearer token/)
      }
    }
    expect(telegram.calls.length).toBe(before)
    expect(logLines.join('')).toContain('"auth":"wrong token"')
    expect(logLines.join('')).toContain('"auth":"missing"')
    const lowercase = await post('/alerts', firing(), {authorization: `bearer ${WEBHOOK_TOKEN}`})
    expect(lowercase.status).toBe(200)
  })

  it('answers 400 with a clear message for malformed payloads', async () => {
    const before = telegram.calls.length
    const alert = firing().alerts[0]!
    const cases: [unknown, RegExp][] = [
      ['{"version": "4",', /not valid JSON/],
      ['', /empty|JSON/i],
      [{...firing(), version: '3'}, /field "version" must be "4"/],
      [{...firing(), alerts: undefined}, /missing field "alerts"/],
      [{...firing(), alerts: []}, /field "alerts" must NOT have fewer than 1 items/],
      [{...firing(), status: 'burning'}, /field "status" must be one of "firing", "resolved"/],
      [{...firing(), alerts: [{...alert, startsAt: 'yesterday'}]}, /field "alerts.0.startsAt" must match format "date-time"/],
      [{...firing(), alerts: [{...alert, labels: undefined}]}, /missing field "alerts.0.labels"/],
      [{...firing(), alerts: [{...alert, fingerprint: undefined}]}, /missing field "alerts.0.fingerprint"/],
      [[1, 2], /payload|object/],
    ]
    for (const [body, message] of cases) {
      const response = await post('/alerts', body)
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(response.json.success).toBe(false)
      expect(response.json.error!.message).toMatch(message)
      expect(response.json.error!.message).toContain('Alertmanager webhook payload')
    }
    expect(telegram.calls.length).toBe(before)
    const unknown = await post('/nope', {})
    expect(unknown.status).toBe(404)
  })

  it('answers 502 when Telegram is unreachable (network error), without crashing', async () => {
    const closedPort = await freePort()
    const notifier = createTelegramNotifier({
      botToken: BOT_TOKEN,
      chatIds: CHATS,
      apiUrl: `http://127.0.0.1:${closedPort}`,
      timeoutMs: 500,
      retryBudgetMs: 1500,
      maxAttempts: 2,
      backoffMs: 50,
      logger,
    })
    const other = await buildApp({webhookToken: WEBHOOK_TOKEN, notifier, logger, secrets: [BOT_TOKEN]})
    try {
      const response = await other.inject({method: 'POST', url: '/alerts', headers: {authorization: `Bearer ${WEBHOOK_TOKEN}`}, payload: firing()})
      responses.push(response.body)
      expect(response.statusCode).toBe(502)
      expect(response.json().error.message).toMatch(/NetworkError|fetch failed|ECONNREFUSED/)
      await expect(notifier.getMe()).rejects.toThrow(/Network|ECONNREFUSED|fetch failed/)
    } finally {
      await other.close()
    }
  })

  it('never logs or returns the bot token or the webhook token', () => {
    const all = logLines.join('') + responses.join('\n')
    expect(logLines.length).toBeGreaterThan(20)
    expect(all).toContain('Telegram sendMessage failed') // the failure paths above were logged
    expect(all).not.toContain(BOT_TOKEN)
    expect(all).not.toContain(BOT_TOKEN.split(':')[1])
    expect(all).not.toContain(WEBHOOK_TOKEN)
  })
})
