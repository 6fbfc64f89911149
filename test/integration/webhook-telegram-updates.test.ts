/**
 * Updates through Telegram's webhook (a lab with a public URL): the fake Telegram, told where by
 * the real `setWebhook` call, POSTs button presses and commands to `POST /telegram/updates` with
 * the secret token, as Telegram does. Requests without that token are refused. The silences
 * themselves are covered end to end with long polling (webhook-actions.test.ts); here Alertmanager
 * is deliberately unreachable, which also shows how a failing Alertmanager is reported in the chat.
 */
import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createAlertmanagerClient} from '../../src/services/webhook/alertmanager-client.js'
import {buildApp, type WebhookApp} from '../../src/services/webhook/app.js'
import {callbackKey, signCallback} from '../../src/services/webhook/callback-data.js'
import {createInteractions} from '../../src/services/webhook/interactions.js'
import {createMemoryMessageStore} from '../../src/services/webhook/message-store.js'
import {createTelegramNotifier} from '../../src/services/webhook/notifier.js'
import {createTelegramBot} from '../../src/services/webhook/telegram-bot.js'
import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {freePort, notYet, waitFor} from '../helpers/processes.js'

const BOT_TOKEN = `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`
const WEBHOOK_TOKEN = randomBytes(24).toString('hex')
const SECRET = randomBytes(32).toString('hex')

let telegram: FakeTelegram
let app: WebhookApp
let url = ''
const logged: string[] = []

beforeAll(async () => {
  telegram = await startFakeTelegram({token: BOT_TOKEN})
  const logger = {
    info: (_: object, m: string) => logged.push(m),
    warn: (o: object, m: string) => logged.push(`${m} ${JSON.stringify(o)}`),
    error: (_: object, m: string) => logged.push(m),
  }
  const bot = createTelegramBot({botToken: BOT_TOKEN, apiUrl: telegram.url, timeoutMs: 2000})
  const store = createMemoryMessageStore(3600)
  const closedPort = await freePort()
  const interactions = createInteractions({
    bot,
    alertmanager: createAlertmanagerClient(`http://127.0.0.1:${closedPort}`, {timeoutMs: 1000}),
    store,
    key: callbackKey(WEBHOOK_TOKEN),
    allowedChatIds: ['42'],
    maxAgeSeconds: 3600,
    logger,
    botToken: BOT_TOKEN,
    status: async () => 'status',
  })
  const notifier = createTelegramNotifier({
    botToken: BOT_TOKEN,
    chatIds: ['42'],
    apiUrl: telegram.url,
    timeoutMs: 2000,
    retryBudgetMs: 3000,
    maxAttempts: 1,
    logger,
  })
  app = await buildApp({
    webhookToken: WEBHOOK_TOKEN,
    notifier,
    chatIds: ['42'],
    store,
    interactions,
    telegramUpdates: {secretToken: SECRET, handle: interactions.handleUpdate},
  })
  url = await app.listen({port: 0, host: '127.0.0.1'})
  await bot.setWebhook(`${url}/telegram/updates`, SECRET)
})

afterAll(async () => {
  await app?.close()
  await telegram?.close()
})

describe("button presses and commands through Telegram's webhook", () => {
  it('handles a command Telegram posts with the secret token (and says in the chat when Alertmanager fails)', async () => {
    telegram.sendCommand({chatId: '42', text: '/silences'})
    const answer = await waitFor(() => telegram.sentMessages().find((c) => c.chat_id === '42') ?? notYet('no answer yet'), {what: 'the /silences answer'})
    expect(answer.text).toMatch(/^⚠️ \/silences failed: Alertmanager at http:\/\/127\.0\.0\.1:\d+ did not answer GET \/silences \(not reachable\)/)
    // Delivered: the webhook answered Telegram's POST with 2xx (the fake drops an update only then).
    await waitFor(() => telegram.pendingUpdates() === 0 || notYet(`${telegram.pendingUpdates()} pending`), {what: 'the update to be confirmed'})
    // getUpdates is refused while the webhook is set, as on Telegram.
    const polled = await fetch(`${telegram.url}/bot${BOT_TOKEN}/getUpdates`, {method: 'POST'})
    expect(polled.status).toBe(409)
  })

  it("refuses a stranger's press delivered through the webhook, and a press whose Alertmanager call fails is reported to the presser", async () => {
    const data = signCallback(callbackKey(WEBHOOK_TOKEN), {action: 'un', ref: '9f0c2b1ad3e44f5a8b7c6d5e4f3a2b1c', issuedAt: Math.floor(Date.now() / 1000)})
    const stranger = telegram.pressButton({chatId: '666', messageId: 1, data})
    const refused = await waitFor(() => telegram.callbackAnswer(stranger) ?? notYet('not answered'), {what: 'the answer to the stranger'})
    expect(String(refused.params.text)).toBe('This chat may not act on keda-lab alerts.')
    expect(logged.some((l) => l.includes('refused a button press') && l.includes('chat not in TELEGRAM_CHAT_IDS'))).toBe(true)

    const own = telegram.pressButton({chatId: '42', messageId: 1, data})
    const failed = await waitFor(() => telegram.callbackAnswer(own) ?? notYet('not answered'), {what: 'the answer to the press'})
    expect(String(failed.params.text)).toMatch(/^Failed: Alertmanager at http:\/\/127\.0\.0\.1:\d+ did not answer DELETE/)
    // Nothing happened, so the same button may be pressed again (not refused as a replay).
    const again = telegram.pressButton({chatId: '42', messageId: 1, data})
    const retried = await waitFor(() => telegram.callbackAnswer(again) ?? notYet('not answered'), {what: 'the answer to the second press'})
    expect(String(retried.params.text)).toMatch(/^Failed: Alertmanager at/)
  })

  it('refuses requests without the secret token, or with a body that is not an update', async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${url}/telegram/updates`, {method: 'POST', headers: {'content-type': 'application/json', ...headers}, body})
    const update = JSON.stringify({update_id: 1, message: {message_id: 1, chat: {id: 42}, text: '/status'}})
    expect((await post({}, update)).status).toBe(401)
    expect((await post({'x-telegram-bot-api-secret-token': 'wrong'}, update)).status).toBe(401)
    const invalid = await post({'x-telegram-bot-api-secret-token': SECRET}, '{"hello":1}')
    expect(invalid.status).toBe(400)
    expect(((await invalid.json()) as {error: {message: string}}).error.message).toBe('Invalid update: expected a Telegram Update object with update_id')
    expect(telegram.sentMessages().filter((c) => c.text === 'status')).toHaveLength(0)
  })
})
