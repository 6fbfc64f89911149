/**
 * Acting on alerts from the chat, end to end: the REAL Alertmanager (Debian prometheus-alertmanager)
 * notifies the REAL `keda-lab serve webhook` processes (two replicas sharing a REAL redis-server),
 * which message the loopback fake Telegram; the fake delivers button presses and commands as
 * Telegram does (getUpdates long polling), and the silences are read back from Alertmanager's API.
 *
 * Alertmanager repeats every 2 s here (group_interval 1 s) and the webhook's own dedupe is off, so
 * "the next reminder is not delivered" is observable: a control alert in another group keeps
 * getting reminders meanwhile, which is how the test knows the reminders were due.
 */
import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {callbackKey, signCallback} from '../../src/services/webhook/callback-data.js'
import {type FakeTelegram, type TelegramCall, startFakeTelegram} from '../fakes/telegram.js'
import {type Alertmanager, bearerWebhookReceiver, startAlertmanager} from '../helpers/alertmanager.js'
import {freePort, notYet, stopProcess, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {type ServeProcess, spawnServe, waitUntilReady} from '../helpers/serve.js'

const BOT_TOKEN = `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`
const WEBHOOK_TOKEN = randomBytes(24).toString('hex')
const CHATS = ['1001', '-1002']
const ADA = {id: 777, first_name: 'Ada', last_name: 'Lovelace', username: 'ada'}
const ADA_NAME = 'Ada Lovelace (@ada)'

interface Silence {
  id: string
  status: {state: string}
  matchers: {name: string; value: string; isRegex: boolean; isEqual?: boolean}[]
  createdBy: string
  endsAt: string
}

type Replica = ServeProcess & {port: number}

let telegram: FakeTelegram
let redis: RedisServer
let alertmanager: Alertmanager
let webhookPort = 0
const replicas: Replica[] = []

async function startReplica(port: number): Promise<Replica> {
  const env = {
    PORT: String(port),
    METRICS_PORT: String(await freePort()),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    TELEGRAM_BOT_TOKEN: BOT_TOKEN,
    TELEGRAM_CHAT_IDS: CHATS.join(','),
    WEBHOOK_TOKEN,
    TELEGRAM_API_URL: telegram.url,
    TELEGRAM_DEDUPE_WINDOW_MS: '0',
    TELEGRAM_POLL_TIMEOUT_SECONDS: '2',
    REDIS_URL: redis.url,
    ALERTMANAGER_URL: alertmanager.url,
  }
  const replica = Object.assign(spawnServe('webhook', env, `webhook on ${port}`), {port})
  replicas.push(replica)
  await waitUntilReady(replica, {http: `http://127.0.0.1:${port}/healthz`}, 60_000)
  return replica
}

async function postAlerts(alerts: object[]) {
  const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify(alerts),
  })
  expect(response.status).toBe(200)
}

async function silences(): Promise<Silence[]> {
  return (await (await fetch(`${alertmanager.url}/api/v2/silences`)).json()) as Silence[]
}

const activeSilences = async () => (await silences()).filter((s) => s.status.state === 'active')

/** The successful sendMessage calls to `chat` whose text mentions `name`. */
function messagesAbout(name: string, chat = CHATS[0]!): TelegramCall[] {
  return telegram.sentMessages().filter((c) => c.chat_id === chat && c.text?.includes(name))
}

function buttonData(call: TelegramCall, text: string): string {
  const button = call.reply_markup?.inline_keyboard.flat().find((b) => b.text.includes(text))
  if (!button) throw new Error(`no "${text}" button under message ${call.message_id}: ${JSON.stringify(call.reply_markup)}`)
  return button.callback_data
}

/** Presses a button and waits until the webhook answered the callback query. */
async function press(chatId: string, messageId: number, data: string) {
  const callbackId = telegram.pressButton({chatId, messageId, data, from: ADA})
  return waitFor(() => telegram.callbackAnswer(callbackId) ?? notYet('no answerCallbackQuery yet'), {
    timeoutMs: 20_000,
    what: `the answer to press ${callbackId}`,
  })
}

const labelsOf = (name: string) => ({alertname: name, keda_lab: 'true', severity: 'warning', namespace: 'lab', deployment: 'worker'})

beforeAll(async () => {
  telegram = await startFakeTelegram({token: BOT_TOKEN, username: 'keda_lab_test_bot'})
  redis = await startRedis()
  webhookPort = await freePort()
  alertmanager = await startAlertmanager({
    config: [
      'route:',
      '  receiver: keda-lab-telegram',
      '  group_by: [alertname]',
      '  group_wait: 100ms',
      '  group_interval: 1s',
      '  repeat_interval: 2s',
      'receivers:',
      bearerWebhookReceiver('keda-lab-telegram', `http://127.0.0.1:${webhookPort}/alerts`, WEBHOOK_TOKEN),
      '',
    ].join('\n'),
  })
  // Two replicas sharing Redis; Alertmanager talks to the first (the Service would balance).
  await startReplica(webhookPort)
  await startReplica(await freePort())
}, 120_000)

afterAll(async () => {
  for (const replica of replicas) await stopProcess(replica.child)
  await alertmanager?.stop()
  await telegram?.close()
  await redis?.stop()
})

describe('acting on alerts from Telegram (real Alertmanager, real webhook replicas, real Redis)', () => {
  const SILENCED = 'KedaLabActionSilenced'
  const CONTROL = 'KedaLabActionControl'
  let firing: TelegramCall
  let confirmation: TelegramCall
  let silenceId = ''
  let oneHour = ''

  it('firing alert → message with buttons → "1 h" creates a real silence matching its labels, and its reminders stop while others continue', async () => {
    await postAlerts([
      {labels: labelsOf(SILENCED), annotations: {summary: 'Workers at their maximum'}},
      {labels: labelsOf(CONTROL), annotations: {summary: 'Control alert, never silenced'}},
    ])
    firing = await waitFor(() => messagesAbout(SILENCED)[0] ?? notYet('no message yet'), {
      timeoutMs: 20_000,
      what: `the firing message (alertmanager log: ${alertmanager.log()})`,
    })
    expect(firing.text).toContain('FIRING:1')
    const buttons = firing.reply_markup!.inline_keyboard.flat().map((b) => b.text)
    expect(buttons).toEqual(['🔕 1 h', '🔕 4 h', '🔕 24 h', '👀 Acknowledge'])
    for (const b of firing.reply_markup!.inline_keyboard.flat()) expect(Buffer.byteLength(b.callback_data)).toBeLessThanOrEqual(64)

    oneHour = buttonData(firing, '1 h')
    const before = Date.now()
    const answer = await press(CHATS[0]!, firing.message_id!, oneHour)
    expect(String(answer.params.text)).toBe('Silenced for 1 h.')

    const [silence] = await activeSilences()
    expect(silence).toBeDefined()
    silenceId = silence!.id
    expect(silence!.createdBy).toBe(ADA_NAME)
    const matchers = Object.fromEntries(silence!.matchers.map((m) => [m.name, m.value]))
    expect(matchers).toEqual(labelsOf(SILENCED))
    expect(silence!.matchers.every((m) => !m.isRegex && m.isEqual !== false)).toBe(true)
    const hours = (Date.parse(silence!.endsAt) - before) / 3_600_000
    expect(hours).toBeGreaterThan(0.99)
    expect(hours).toBeLessThan(1.01)

    // The chat is told: a reply to the firing message with the silence id, end time and "unsilence".
    confirmation = await waitFor(
      () => telegram.sentMessages().find((c) => c.chat_id === CHATS[0] && c.text?.includes(silenceId)) ?? notYet('no confirmation'),
      {
        what: 'the confirmation message',
      },
    )
    expect(confirmation.reply_to_message_id).toBe(firing.message_id)
    expect(confirmation.text).toContain(`Silenced by ${ADA_NAME}`)
    expect(confirmation.text).toMatch(/until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/)
    expect(confirmation.reply_markup!.inline_keyboard.flat().map((b) => b.text)).toEqual(['🔔 Unsilence'])
    // The silence buttons are gone from the firing message.
    expect(telegram.message(CHATS[0]!, firing.message_id!)!.replyMarkup?.inline_keyboard.flat() ?? []).toEqual([])

    // Alertmanager itself says the alert is silenced by that silence.
    const alerts = (await (await fetch(`${alertmanager.url}/api/v2/alerts?filter=alertname%3D%22${SILENCED}%22`)).json()) as {status: {silencedBy: string[]}}[]
    expect(alerts[0]!.status.silencedBy).toEqual([silenceId])

    // Reminders: the control alert gets two more, the silenced one none.
    const silencedBefore = messagesAbout(SILENCED).filter((c) => c.text!.includes('FIRING')).length
    const controlBefore = messagesAbout(CONTROL).length
    await waitFor(() => messagesAbout(CONTROL).length >= controlBefore + 2 || notYet(`control reminders: ${messagesAbout(CONTROL).length - controlBefore}`), {
      timeoutMs: 20_000,
      what: 'two reminders of the control alert',
    })
    expect(messagesAbout(SILENCED).filter((c) => c.text!.includes('FIRING')).length).toBe(silencedBefore)
  }, 90_000)

  it('"unsilence" expires the silence and the reminders come back', async () => {
    const answer = await press(CHATS[0]!, confirmation.message_id!, buttonData(confirmation, 'Unsilence'))
    expect(String(answer.params.text)).toBe('Silence expired.')
    const silence = (await silences()).find((s) => s.id === silenceId)
    expect(silence!.status.state).toBe('expired')
    const expired = await waitFor(() => telegram.sentMessages().find((c) => c.text?.includes(`${silenceId}</code> expired by`)) ?? notYet('no notice'), {
      what: 'the expiry notice',
    })
    expect(expired.reply_to_message_id).toBe(confirmation.message_id)
    const before = messagesAbout(SILENCED).filter((c) => c.text!.includes('FIRING')).length
    await waitFor(() => messagesAbout(SILENCED).filter((c) => c.text!.includes('FIRING')).length > before || notYet('no reminder yet'), {
      timeoutMs: 20_000,
      what: 'a reminder of the unsilenced alert',
    })
  }, 60_000)

  it('refuses a press from a chat that is not configured, logs it, and changes nothing', async () => {
    const before = await silences()
    const answer = await press('999', firing.message_id!, buttonData(messagesAbout(SILENCED).at(-1)!, '4 h'))
    expect(String(answer.params.text)).toBe('This chat may not act on keda-lab alerts.')
    expect(await silences()).toEqual(before)
    // The log line is written before the answer, but reaches this process through a pipe: await it.
    const logged = await waitFor(
      () =>
        replicas
          .map((r) => r.output())
          .join('')
          .split('\n')
          .find((l) => l.includes('refused a button press') && l.includes('chat not in TELEGRAM_CHAT_IDS')) ?? notYet('not logged yet'),
      {what: 'the refusal in the log'},
    )
    expect(logged).toContain('"chatId":"999"')
    // A command from a stranger gets no answer at all.
    const sent = telegram.sentMessages().filter((c) => c.chat_id === '999').length
    telegram.sendCommand({chatId: '999', text: '/silences', from: ADA})
    await waitFor(() => replicas.some((r) => r.output().includes('refused a command')) || notYet('not handled yet'), {
      what: 'the stranger command to be handled',
    })
    expect(telegram.sentMessages().filter((c) => c.chat_id === '999').length).toBe(sent)
  }, 60_000)

  it('refuses forged callback data without side effects: unknown action, tampered reference, old or replayed press', async () => {
    const latest = messagesAbout(SILENCED)
      .filter((c) => c.reply_markup)
      .at(-1)!
    const good = buttonData(latest, '24 h')
    const [action, ref, issued, mac] = good.split(':') as [string, string, string, string]
    const key = callbackKey(WEBHOOK_TOKEN)
    const now = Math.floor(Date.now() / 1000)
    const flip = (hex: string) => hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0')
    const forged = {
      // Signed with the right key, yet not an action the webhook knows.
      'unknown action': signCallback(key, {action: 'rm' as 's1', ref, issuedAt: now}),
      'invented action, no key': `rm:${ref}:${issued}:${mac}`,
      'tampered reference': `${action}:${flip(ref)}:${issued}:${mac}`,
      'old press': signCallback(key, {action: 's1', ref, issuedAt: now - 8 * 86_400}),
      'replayed press': oneHour,
    }
    const before = await silences()
    for (const [what, data] of Object.entries(forged)) {
      const answer = await press(CHATS[0]!, latest.message_id!, data)
      expect(String(answer.params.text), what).toMatch(/^(Refused: this button is not valid\.|Already done\.)$/)
      expect(answer.params.show_alert, what).toBe('true')
    }
    expect(await silences()).toEqual(before)
    for (const reason of ['unknown action', 'signature does not match', 'button older than', 'press already handled (replay)']) {
      await waitFor(() => replicas.some((r) => r.output().includes(reason)) || notYet('not logged yet'), {what: `"${reason}" in the log`})
    }
  }, 60_000)

  it('answers /silences with the active silences (with unsilence buttons) and /status with the verdict', async () => {
    const latest = messagesAbout(SILENCED)
      .filter((c) => c.reply_markup)
      .at(-1)!
    await press(
      CHATS[1]!,
      messagesAbout(SILENCED, CHATS[1])
        .filter((c) => c.reply_markup)
        .at(-1)!.message_id!,
      buttonData(
        messagesAbout(SILENCED, CHATS[1])
          .filter((c) => c.reply_markup)
          .at(-1)!,
        'Acknowledge',
      ),
    )
    expect(latest).toBeDefined()
    const [ack] = await activeSilences()
    expect(ack!.createdBy).toBe(ADA_NAME)

    const count = telegram.sentMessages().length
    telegram.sendCommand({chatId: CHATS[1]!, text: '/silences@keda_lab_test_bot', from: ADA})
    const list = await waitFor(
      () =>
        telegram
          .sentMessages()
          .slice(count)
          .find((c) => c.text?.includes('active silence')) ?? notYet('no answer'),
      {what: 'the /silences answer'},
    )
    expect(list.chat_id).toBe(CHATS[1])
    expect(list.text).toContain('1 active silence')
    expect(list.text).toContain(ack!.id)
    expect(list.text).toContain(`alertname=${SILENCED}`)
    expect(list.reply_markup!.inline_keyboard.flat().map((b) => b.text)).toEqual(['🔔 Unsilence 1'])

    telegram.sendCommand({chatId: CHATS[1]!, text: '/status', from: ADA})
    const status = await waitFor(
      () =>
        telegram
          .sentMessages()
          .slice(count)
          .find((c) => c.text?.includes('keda-lab:')) ?? notYet('no answer'),
      {what: 'the /status answer'},
    )
    expect(status.text).toContain('alert')
    expect(status.text).toContain(CONTROL)
    expect(status.text).toMatch(/Queue <code>tasks<\/code>: \d+ waiting, \d+ active, \d+ failed/)
  }, 60_000)

  it('threads the resolved message under the firing one across a restart of the webhook, and the other replica keeps polling', async () => {
    const NAME = 'KedaLabActionRestart'
    await postAlerts([{labels: labelsOf(NAME), annotations: {summary: 'Backlog growing'}}])
    const firings = await waitFor(
      () => (CHATS.every((chat) => messagesAbout(NAME, chat).length > 0) ? CHATS.map((chat) => messagesAbout(NAME, chat)[0]!) : notYet('not in every chat')),
      {
        timeoutMs: 20_000,
        what: 'the firing message in both chats',
      },
    )

    // Restart the replica Alertmanager talks to: a new process on the same port, nothing in memory.
    const first = replicas[0]!
    await stopProcess(first.child)
    replicas[0] = await startReplica(webhookPort)

    await postAlerts([{labels: labelsOf(NAME), annotations: {summary: 'Backlog growing'}, endsAt: new Date().toISOString()}])
    for (const [i, chat] of CHATS.entries()) {
      const resolved = await waitFor(() => messagesAbout(NAME, chat).find((c) => c.text!.includes('RESOLVED:1')) ?? notYet('no resolved message'), {
        timeoutMs: 20_000,
        what: `the resolved message in ${chat} (alertmanager log: ${alertmanager.log()})`,
      })
      expect(resolved.reply_to_message_id).toBe(firings[i]!.message_id)
      expect(resolved.reply_markup).toBeUndefined()
    }
    // Message ids are kept in Redis with a bounded retention, and forgotten once resolved.
    const client = await import('ioredis').then(({Redis}) => new Redis(redis.url))
    try {
      const keys = await client.keys('keda-lab:webhook:*')
      expect(keys.length).toBeGreaterThan(0)
      const ttls = await Promise.all(keys.map(async (key) => [key, await client.pttl(key)] as const))
      // -1 would be a key kept forever; -2 is one deleted meanwhile (a resolved alert forgotten).
      for (const [key, ttl] of ttls) expect(ttl, key).not.toBe(-1)
      expect(ttls.filter(([key, ttl]) => key.includes(':msg:') && ttl > 0).length).toBeGreaterThan(0)
    } finally {
      client.disconnect()
    }

    // Buttons still work after the restart, whichever replica polls now.
    const count = telegram.sentMessages().length
    telegram.sendCommand({chatId: CHATS[0]!, text: '/status', from: ADA})
    await waitFor(
      () =>
        telegram
          .sentMessages()
          .slice(count)
          .find((c) => c.text?.includes('keda-lab:')) ?? notYet('no answer'),
      {timeoutMs: 30_000, what: 'the /status answer after the restart'},
    )
    // Telegram allows one getUpdates caller: two replicas never polled at the same time.
    expect(telegram.calls.filter((c) => c.method === 'getUpdates' && c.status === 409)).toHaveLength(0)
    // No secret in any replica's output, nor in anything sent to a chat.
    const everything = replicas.map((r) => r.output()).join('') + telegram.calls.map((c) => JSON.stringify(c.params)).join('')
    for (const secret of [BOT_TOKEN, BOT_TOKEN.split(':')[1]!, WEBHOOK_TOKEN, callbackKey(WEBHOOK_TOKEN).toString('hex')])
      expect(everything).not.toContain(secret)
  }, 120_000)
})
