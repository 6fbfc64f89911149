/**
 * The cluster path of `keda-lab alert test` (runAlertTest with a cluster target) against the REAL
 * Alertmanager and the real webhook app, on loopback. The only stand-in is the Kubernetes API
 * server's service proxy: `proxyService` forwards each request to the loopback port of the named
 * Service, which is what the API server's proxy does in a cluster. The lead engineer runs the same
 * function against a real control plane; this test pins the logic: post to Alertmanager, find the
 * alert's fingerprint, ask the webhook which Telegram messages it sent, then resolve.
 */
import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Kube, ServiceProxyRequest, ServiceProxyResponse} from '../../src/adapters/kube/index.js'
import {runAlertTest} from '../../src/lab/alert/test-alert.js'
import {buildApp, type WebhookApp} from '../../src/services/webhook/app.js'
import {createMemoryMessageStore} from '../../src/services/webhook/message-store.js'
import {createTelegramNotifier} from '../../src/services/webhook/notifier.js'
import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {type Alertmanager, bearerWebhookReceiver, startAlertmanager} from '../helpers/alertmanager.js'

const BOT_TOKEN = `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`
const WEBHOOK_TOKEN = randomBytes(24).toString('hex')
const CHATS = ['501', '502']

let telegram: FakeTelegram
let app: WebhookApp
let alertmanager: Alertmanager
let webhookPort = 0
const proxied: ServiceProxyRequest[] = []

/** The API server's service proxy, for two Services: each request goes to the Service's loopback port. */
const kube: Pick<Kube, 'proxyService' | 'getSecretData'> = {
  async proxyService(request): Promise<ServiceProxyResponse> {
    proxied.push(request)
    const ports: Record<string, number> = {'mon/kube-prometheus-stack-alertmanager:9093': alertmanager.port, 'lab/keda-lab-webhook:8080': webhookPort}
    const port = ports[`${request.namespace}/${request.service}:${request.port}`]
    if (!port) return {status: 503, headers: {}, body: `no endpoints available for service "${request.service}"`}
    const query = request.query ? `?${new URLSearchParams(request.query)}` : ''
    const response = await fetch(`http://127.0.0.1:${port}${request.path}${query}`, {
      method: request.method ?? 'GET',
      headers: request.headers,
      body: request.body,
    })
    return {status: response.status, headers: Object.fromEntries(response.headers), body: await response.text()}
  },
  async getSecretData(namespace, name) {
    return namespace === 'lab' && name === 'keda-lab-secrets' ? {'webhook-token': WEBHOOK_TOKEN, 'telegram-bot-token': BOT_TOKEN} : undefined
  },
}

beforeAll(async () => {
  telegram = await startFakeTelegram({token: BOT_TOKEN})
  const notifier = createTelegramNotifier({
    botToken: BOT_TOKEN,
    chatIds: CHATS,
    apiUrl: telegram.url,
    timeoutMs: 2000,
    retryBudgetMs: 3000,
    maxAttempts: 1,
    logger: {info() {}, warn() {}, error() {}},
  })
  app = await buildApp({webhookToken: WEBHOOK_TOKEN, notifier, chatIds: CHATS, store: createMemoryMessageStore(3600)})
  webhookPort = Number(new URL(await app.listen({port: 0, host: '127.0.0.1'})).port)

  // The route install renders, reduced to what matters here: keda_lab="true" to the webhook, with its bearer token.
  alertmanager = await startAlertmanager({
    config: [
      'route:',
      '  receiver: "null"',
      '  routes:',
      '    - receiver: keda-lab-webhook',
      '      matchers: [keda_lab="true"]',
      '      group_by: [alertname, test_id]',
      '      group_wait: 100ms',
      '      group_interval: 1s',
      '      repeat_interval: 1h',
      'receivers:',
      '  - name: "null"',
      bearerWebhookReceiver('keda-lab-webhook', `http://127.0.0.1:${webhookPort}/alerts`, WEBHOOK_TOKEN),
      '',
    ].join('\n'),
  })
}, 60_000)

afterAll(async () => {
  await alertmanager?.stop()
  await app?.close()
  await telegram?.close()
})

describe('keda-lab alert test, cluster path (real Alertmanager and webhook behind a loopback service proxy)', () => {
  it('goes through Alertmanager, learns from the webhook that Telegram accepted it, then resolves it threaded', async () => {
    const result = await runAlertTest({
      target: {kind: 'cluster', kube, namespace: 'lab', monitoringNamespace: 'mon'},
      resolve: true,
      timeoutMs: 20_000,
      pollMs: 200,
    })
    expect(result).toMatchObject({
      via: 'alertmanager',
      alertname: 'KedaLabTestAlert',
      ok: true,
      firing: {accepted: true, messages: 2, chats: 2},
      resolved: {accepted: true, chats: 2},
    })
    expect(result.fingerprint).toMatch(/^[0-9a-f]{16}$/)

    const sent = telegram.sentMessages().filter((c) => c.text?.includes(result.testId))
    const firing = sent.filter((c) => c.text!.includes('FIRING:1'))
    const resolved = sent.filter((c) => c.text!.includes('RESOLVED:1'))
    expect(firing.map((c) => c.chat_id).sort()).toEqual(CHATS)
    expect(resolved.map((c) => c.reply_to_message_id).sort()).toEqual(firing.map((c) => c.message_id).sort())
    // Every request went through the service proxy, to the two Services only; the webhook's with its bearer token.
    expect(new Set(proxied.map((r) => `${r.namespace}/${r.service}`))).toEqual(new Set(['mon/kube-prometheus-stack-alertmanager', 'lab/keda-lab-webhook']))
    expect(proxied.filter((r) => r.service === 'keda-lab-webhook').every((r) => r.headers?.authorization === `Bearer ${WEBHOOK_TOKEN}`)).toBe(true)
  }, 60_000)

  it('reports "not accepted" with where to look when Telegram refuses, and a missing Secret as a clear error', async () => {
    telegram.failNext(1000, {status: 400, description: 'Bad Request: chat not found'})
    try {
      const result = await runAlertTest({
        target: {kind: 'cluster', kube, namespace: 'lab', monitoringNamespace: 'mon'},
        resolve: true,
        timeoutMs: 3000,
        pollMs: 200,
      })
      expect(result.ok).toBe(false)
      expect(result.firing.accepted).toBe(false)
      expect(result.firing.detail).toMatch(/no Telegram message about the test alert within 3000 ms: see kubectl logs -n lab deploy\/keda-lab-webhook/)
      expect(result.resolved).toBeUndefined()
    } finally {
      telegram.clearFailures()
    }
    await expect(
      runAlertTest({target: {kind: 'cluster', kube, namespace: 'other', monitoringNamespace: 'mon'}, resolve: false, timeoutMs: 1000}),
    ).rejects.toThrow('no webhook token in Secret other/keda-lab-secrets')
  }, 60_000)
})
