import {NetworkError, ParseError, TelegramApiError, TimeoutError} from 'node-telegram-bot-api'
import {describe, expect, it} from 'vitest'

import type {Silence} from '../../src/services/webhook/alertmanager-client.js'
import {silencesMessage} from '../../src/services/webhook/interactions.js'
import {classifyFailure, createDeliveryMemory, notifyError, sendMessageParams} from '../../src/services/webhook/notifier.js'

// The notifier's parts that need no Telegram: its dedupe memory, how it reads a failure, the
// sendMessage parameters and the error of a partly failed notification; and the /silences answer. The retry loop itself is
// tested against the loopback fake Telegram (test/integration/webhook-app.test.ts).

const TOKEN = '123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr'

describe('createDeliveryMemory', () => {
  it('remembers a (chat, text) pair for the window, per chat and per text', () => {
    let now = 1_000
    const memory = createDeliveryMemory(60_000, {now: () => now})
    memory.remember('1', 'hello')
    expect(memory.has('1', 'hello')).toBe(true)
    expect(memory.has('2', 'hello')).toBe(false)
    expect(memory.has('1', 'hello!')).toBe(false)
    now += 59_999
    expect(memory.has('1', 'hello')).toBe(true)
    now += 1
    expect(memory.has('1', 'hello')).toBe(false)
  })

  it('does not confuse a chat and text that concatenate alike', () => {
    const memory = createDeliveryMemory(60_000, {now: () => 0})
    memory.remember('12', '3')
    expect(memory.has('1', '23')).toBe(false)
  })

  it('drops expired entries when it adds one, and never holds more than maxEntries', () => {
    let now = 0
    const memory = createDeliveryMemory(10, {now: () => now, maxEntries: 3})
    memory.remember('1', 'a')
    memory.remember('1', 'b')
    now = 20
    memory.remember('1', 'c')
    expect(memory.size).toBe(1)
    memory.remember('1', 'd')
    memory.remember('1', 'e')
    memory.remember('1', 'f')
    expect(memory.size).toBe(3)
    // The oldest went first.
    expect(memory.has('1', 'c')).toBe(false)
    expect(memory.has('1', 'f')).toBe(true)
  })

  it('a second delivery of the same pair extends its window', () => {
    let now = 0
    const memory = createDeliveryMemory(100, {now: () => now})
    memory.remember('1', 'a')
    now = 90
    memory.remember('1', 'a')
    now = 150
    expect(memory.has('1', 'a')).toBe(true)
    expect(memory.size).toBe(1)
  })
})

describe('classifyFailure', () => {
  it('a 429 is transient and carries Telegram’s retry_after (1 s when it gave none)', () => {
    expect(classifyFailure(new TelegramApiError(429, 'Too Many Requests: retry after 7', {retry_after: 7}), 5000, [TOKEN])).toEqual({
      transient: true,
      retryAfterSeconds: 7,
      description: 'Telegram answered 429: Too Many Requests: retry after 7',
    })
    expect(classifyFailure(new TelegramApiError(429, 'Too Many Requests'), 5000, []).retryAfterSeconds).toBe(1)
  })

  it('a 5xx is transient, a 4xx is not, and neither description holds the token', () => {
    const server = classifyFailure(new TelegramApiError(502, `Bad Gateway at /bot${TOKEN}/sendMessage`), 5000, [TOKEN])
    expect(server).toMatchObject({transient: true, retryAfterSeconds: undefined})
    expect(server.description).not.toContain(TOKEN)
    const refused = classifyFailure(new TelegramApiError(400, `Bad Request: chat not found for ${TOKEN}`), 5000, [TOKEN])
    expect(refused.transient).toBe(false)
    expect(refused.description).toBe('Telegram answered 400: Bad Request: chat not found for [REDACTED]')
  })

  it('timeouts and aborts say how long was waited; network and parse errors are transient', () => {
    expect(classifyFailure(new TimeoutError(), 2500, [])).toEqual({transient: true, description: 'Telegram did not answer within 2500 ms'})
    expect(classifyFailure(new DOMException('aborted', 'AbortError'), 10, []).description).toBe('Telegram did not answer within 10 ms')
    const network = classifyFailure(
      new NetworkError('fetch failed', {cause: Object.assign(new Error(`connect ECONNREFUSED for ${TOKEN}`), {code: 'ECONNREFUSED'})}),
      1,
      [TOKEN],
    )
    expect(network.transient).toBe(true)
    expect(network.description).toContain('ECONNREFUSED')
    expect(network.description).not.toContain(TOKEN)
    expect(classifyFailure(new ParseError('not JSON'), 1, []).transient).toBe(true)
  })

  it('anything else (a bug) is not retried', () => {
    expect(classifyFailure(new TypeError('x is undefined'), 1, [])).toEqual({transient: false, description: 'TypeError: x is undefined'})
  })
})

describe('sendMessageParams', () => {
  it('plain text: HTML, no link preview, no buttons, no reply', () => {
    expect(sendMessageParams('42', {text: '<b>hi</b>'})).toEqual({
      chat_id: '42',
      text: '<b>hi</b>',
      parse_mode: 'HTML',
      link_preview_options: {is_disabled: true},
    })
  })

  it('buttons become an inline keyboard; a reply survives a deleted original', () => {
    const params = sendMessageParams('42', {text: 't', buttons: [[{text: 'A', data: 'a'}], []]}, 7)
    expect(params).toMatchObject({
      reply_markup: {inline_keyboard: [[{text: 'A', callback_data: 'a'}], []]},
      reply_parameters: {message_id: 7, allow_sending_without_reply: true},
    })
    expect(sendMessageParams('42', {text: 't', buttons: []})).not.toHaveProperty('reply_markup')
  })
})

describe('notifyError', () => {
  const sent = [{chatId: '1', index: 0, messageId: 5}]

  it('502 with the first reason when no chat was rate-limited, keeping what did go out', () => {
    const error = notifyError([{transient: false, description: 'Telegram answered 400: chat not found'}], 2, sent)
    expect(error).toMatchObject({statusCode: 502, retryAfterSeconds: undefined, sent})
    expect(error.message).toBe('Telegram did not accept the message for 1 of 2 chat(s): Telegram answered 400: chat not found')
  })

  it('503 with the longest Retry-After any chat was given', () => {
    const error = notifyError(
      [{transient: true, description: 'a', retryAfterSeconds: 3}, {transient: true, description: 'b', retryAfterSeconds: 9}, undefined],
      3,
      [],
    )
    expect(error).toMatchObject({statusCode: 503, retryAfterSeconds: 9})
    expect(error.message).toBe('Telegram did not accept the message for 3 of 3 chat(s): a')
  })
})

describe('silencesMessage (the answer to /silences)', () => {
  const silence = (n: number, state: Silence['status']['state'], endsAt: string): Silence => ({
    id: `0000000${n}-aaaa-bbbb-cccc-dddddddddddd`,
    status: {state},
    matchers: [
      {name: 'alertname', value: `A${n}`, isRegex: false},
      {name: 'job', value: 'api|worker', isRegex: true, isEqual: false},
    ],
    startsAt: '2026-12-07T00:00:00Z',
    endsAt,
    createdBy: 'Ada <ops>',
    comment: '',
  })
  const sign = (action: string, ref: string) => `${action}:${ref}`

  it('says so when no silence is active (expired and pending ones do not count)', () => {
    expect(silencesMessage([silence(1, 'expired', '2026-12-07T01:00:00Z'), silence(2, 'pending', '2026-12-07T02:00:00Z')], sign)).toEqual({
      text: '🔔 No active silences.',
      buttons: [],
    })
  })

  it('lists the active ones soonest-ending first, escaped, each with an unsilence button for its id', () => {
    const {text, buttons} = silencesMessage([silence(1, 'active', '2026-12-07T09:00:00Z'), silence(2, 'active', '2026-12-07T03:00:00Z')], sign)
    const lines = text.split('\n')
    expect(lines[0]).toBe('🔕 <b>2 active silences</b>')
    expect(lines[1]).toBe('1. alertname=A2, job!=~api|worker')
    expect(lines[2]).toContain('by Ada &lt;ops&gt;')
    expect(lines[2]).toContain('<code>00000002-aaaa-bbbb-cccc-dddddddddddd</code>')
    expect(buttons).toEqual([
      [{text: '🔔 Unsilence 1', data: 'un:00000002aaaabbbbccccdddddddddddd'}],
      [{text: '🔔 Unsilence 2', data: 'un:00000001aaaabbbbccccdddddddddddd'}],
    ])
  })

  it('shows ten and says how many more Alertmanager holds', () => {
    const many = Array.from({length: 12}, (_, i) => silence(i, 'active', `2026-12-07T${String(10 + i).padStart(2, '0')}:00:00Z`))
    const {text, buttons} = silencesMessage(many, sign)
    expect(text.startsWith('🔕 <b>12 active silences</b>')).toBe(true)
    expect(text.endsWith('\n…and 2 more in Alertmanager.')).toBe(true)
    expect(buttons).toHaveLength(10)
  })
})
