/**
 * Remembering message ids is a convenience: with its Redis down, the real `keda-lab serve webhook`
 * still delivers every alert (unthreaded, and without buttons when it cannot store their labels),
 * says so in its log, and threads again once Redis is back.
 */
import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {alert, alertmanagerPayload} from '../helpers/alerts.js'
import {freePort, notYet, stopProcess, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {type ServeProcess, startServe} from '../helpers/serve.js'

const BOT_TOKEN = `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`
const WEBHOOK_TOKEN = randomBytes(24).toString('hex')

let telegram: FakeTelegram
let redis: RedisServer
let webhook: ServeProcess
let url = ''

beforeAll(async () => {
  telegram = await startFakeTelegram({token: BOT_TOKEN})
  redis = await startRedis()
  const port = await freePort()
  url = `http://127.0.0.1:${port}`
  webhook = await startServe(
    'webhook',
    {
      PORT: String(port),
      METRICS_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_CHAT_IDS: '7',
      WEBHOOK_TOKEN,
      TELEGRAM_API_URL: telegram.url,
      TELEGRAM_DEDUPE_WINDOW_MS: '0',
      REDIS_URL: redis.url,
    },
    {ready: {http: `${url}/healthz`}, timeoutMs: 60_000},
  )
}, 90_000)

afterAll(async () => {
  if (webhook) await stopProcess(webhook.child)
  await telegram?.close()
  await redis?.stop()
})

async function post(status: 'firing' | 'resolved', fingerprint: string) {
  const payload = alertmanagerPayload([
    alert({
      status,
      fingerprint,
      endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
      labels: {alertname: `KedaLabRedisDown${fingerprint}`},
    }),
  ])
  const response = await fetch(`${url}/alerts`, {
    method: 'POST',
    headers: {'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}`},
    body: JSON.stringify(payload),
  })
  return {status: response.status, body: await response.text()}
}

describe('the webhook with its Redis down', () => {
  it('still delivers alerts, unthreaded, logs why, and threads again once Redis is back', async () => {
    await redis.kill()
    try {
      const before = telegram.sentMessages().length
      const firing = await post('firing', 'a1')
      expect(firing.status, firing.body).toBe(200)
      const resolved = await post('resolved', 'a1')
      expect(resolved.status, resolved.body).toBe(200)
      const sent = telegram.sentMessages().slice(before)
      expect(sent).toHaveLength(2)
      expect(sent[1]!.reply_to_message_id).toBeUndefined()
      await waitFor(() => webhook.output().includes('the message goes out without it') || notYet('not logged yet'), {what: 'the warning in the log'})
    } finally {
      await redis.restart()
    }
    // Back: firing then resolved thread again (ioredis reconnects by itself). A new alert per try,
    // so a try made while Redis was still reconnecting leaves nothing behind for the next one.
    let attempt = 0
    await waitFor(
      async () => {
        const fingerprint = `b${++attempt}`
        const firing = await post('firing', fingerprint)
        if (firing.status !== 200) throw new Error(firing.body)
        const id = telegram.sentMessages().at(-1)!.message_id
        const resolved = await post('resolved', fingerprint)
        if (resolved.status !== 200) throw new Error(resolved.body)
        return telegram.sentMessages().at(-1)!.reply_to_message_id === id || notYet('not threaded yet (Redis reconnecting)')
      },
      {timeoutMs: 30_000, intervalMs: 500, what: 'threading after Redis came back'},
    )
  }, 90_000)
})
