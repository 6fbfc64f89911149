import {afterAll, describe, expect, it} from 'vitest'

import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {alert, alertmanagerPayload} from '../helpers/alerts.js'
import {type DevRun, cleanupDev, request, startDev} from './dev-harness.js'

/**
 * With a Telegram token, `keda-lab dev` also runs the webhook: an Alertmanager notification posted
 * to it reaches the (loopback fake) Telegram Bot API, and no secret is ever printed.
 */

const BOT_TOKEN = '123456789:AAdevTestTokenDevTestTokenDevTestTo'
const WEBHOOK_TOKEN = 'dev-test-webhook-token-0123456789'

let dev: DevRun | undefined
let telegram: FakeTelegram | undefined

afterAll(async () => {
  await cleanupDev(dev)
  await telegram?.close()
})

describe('keda-lab dev with a Telegram token', () => {
  it('starts the webhook, which delivers an alert to every chat id, and never prints the secrets', async () => {
    telegram = await startFakeTelegram({token: BOT_TOKEN})
    dev = startDev(['--api-port', '0', '--workers', '0', '--telegram-chat-ids', '42,43'], {
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_API_URL: telegram.url,
      WEBHOOK_TOKEN,
    })
    const url = (await dev.waitForLine(/^\[dev\]\s+Webhook\s+(http:\/\/127\.0\.0\.1:\d+)\/alerts\s+\(bearer token: WEBHOOK_TOKEN\)/, 90_000))[1]!

    const payload = alertmanagerPayload([
      alert({
        labels: {alertname: 'KedaLabWorkersAtMax', severity: 'warning', namespace: 'keda'},
        annotations: {summary: 'Workers at their maximum', description: 'The worker HPA has been at max replicas for 30 s.'},
        startsAt: new Date().toISOString(),
      }),
    ])
    const unauthorised = await request(`${url}/alerts`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(payload)})
    expect(unauthorised.status).toBe(401)
    const res = await request(`${url}/alerts`, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}`},
      body: JSON.stringify(payload),
    })
    expect(res.status, res.text).toBeLessThan(300)
    const calls = await telegram.waitForCalls(2, {method: 'sendMessage', timeoutMs: 15_000})
    expect(calls.map((c) => String(c.chat_id)).sort()).toEqual(['42', '43'])
    expect(calls[0]!.text).toContain('KedaLabWorkersAtMax')

    dev.child.kill('SIGINT')
    expect((await dev.exited).code).toBe(0)
    const out = dev.output()
    expect(out).toMatch(/^\[webhook\]\s+\S/m)
    expect(out).not.toContain(BOT_TOKEN)
    expect(out).not.toContain(BOT_TOKEN.split(':')[1])
    expect(out).not.toContain(WEBHOOK_TOKEN)
  }, 120_000)
})
