/**
 * Fuzzing POST /alerts: hostile Alertmanager payloads (HTML, Markdown, entities, control and
 * bidi characters, lone surrogates, invalid UTF-8 bytes, very long strings, thousands of alerts,
 * malformed and wrongly typed JSON) against the real webhook app sending through the real notifier
 * to the fake Telegram, which parses every message's HTML and counts its length as Telegram does.
 *
 * The promise, for every input: no crash and no 5xx; either 200 with every message accepted by
 * Telegram (well-formed HTML, at most 4096 characters, the hostile text shown verbatim rather than
 * interpreted), or a 4xx whose message says what was wrong in one short line.
 *
 * Inputs come from fast-check arbitraries (test/helpers/fuzz.ts): one fixed seed in CI, printed in the
 * title and, with the shrunk payload, on failure; FUZZ_SEED / FUZZ_RUNS / FUZZ_PATH to run longer or replay.
 */
import {randomBytes} from 'node:crypto'

import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {buildApp, type WebhookApp} from '../../src/services/webhook/app.js'
import {TELEGRAM_MESSAGE_LIMIT} from '../../src/services/webhook/format.js'
import {createTelegramNotifier} from '../../src/services/webhook/notifier.js'
import {type FakeTelegram, parseTelegramHtml, startFakeTelegram} from '../fakes/telegram.js'
import {alert, alertmanagerPayload} from '../helpers/alerts.js'
import {checkProperty, FUZZ_SEED, fuzzRuns} from '../helpers/fuzz.js'

const BOT_TOKEN = `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`
const WEBHOOK_TOKEN = randomBytes(24).toString('hex')
const CASES = 150

const PIECES = [
  '<',
  '>',
  '&',
  '"',
  "'",
  '&amp;',
  '&lt;',
  '&#128512;',
  '&bogus;',
  '<b>',
  '</b>',
  '<a href="javascript:alert(1)">',
  '</a>',
  '<script>',
  '<pre>',
  '<tg-spoiler>',
  '*bold*',
  '_it_',
  '`code`',
  '```',
  '[link](http://x)',
  '\\',
  '|',
  '~',
  '#',
  '+',
  '-',
  '=',
  '{',
  '}',
  '.',
  '!',
  '🚀',
  '👩‍👩‍👧',
  'é',
  'e\u0301',
  '\u202E',
  '\u200B',
  '\u200D',
  '\uFEFF',
  '\u0000',
  '\u0007',
  '\u001B[31m',
  '\r\n',
  '\t',
  '\uD800',
  '\uDC00',
  '\uDBFF\uDFFF',
  '中文',
  'العربية',
  ' ',
  'x',
  'namespace',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a hostile template-looking string, on purpose
  '${{}}',
  '{{ .Labels }}',
  '%s%n',
  '../../etc/passwd',
]

/** Hostile text: pieces of markup, entities, control and bidi characters, lone surrogates; sometimes a very long run. */
const hostile = (maxPieces: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.array(fc.constantFrom(...PIECES), {maxLength: maxPieces}), fc.option(fc.integer({min: 0, max: 20_000}), {freq: 10}))
    .map(([pieces, long]) => pieces.join('') + (long === null ? '' : 'A'.repeat(long)))

/** Labels: usually an alertname, then up to 8 (sometimes 60) hostile keys and values. */
const labels = (): fc.Arbitrary<Record<string, string>> =>
  fc
    .tuple(
      fc.option(hostile(30), {freq: 10, nil: undefined}),
      fc
        .oneof({weight: 9, arbitrary: fc.constant(8)}, {weight: 1, arbitrary: fc.constant(60)})
        .chain((max) => fc.array(fc.tuple(hostile(5), hostile(40)), {maxLength: max})),
    )
    .map(([alertname, pairs]) => {
      const out: Record<string, string> = {}
      // The option is taken as "left out" about once in ten.
      if (alertname !== undefined) out.alertname = alertname || 'KedaLabFuzz'
      pairs.forEach(([k, v], i) => {
        out[k || `l${i}`] = v
      })
      return out
    })

const oneAlert = (i: number) =>
  fc
    .record({
      firing: fc.boolean(),
      labels: labels(),
      summary: hostile(50),
      description: hostile(200),
      extraKey: hostile(3),
      extra: hostile(10),
      prometheusLink: fc.boolean(),
      linkText: hostile(10),
      otherLink: hostile(5),
      ended: fc.boolean(),
      fingerprint: hostile(2),
    })
    .map((a) =>
      alert({
        status: a.firing ? 'firing' : 'resolved',
        labels: a.labels,
        annotations: {summary: a.summary, description: a.description, [a.extraKey || 'x']: a.extra},
        generatorURL: a.prometheusLink ? `http://prometheus:9090/graph?g0.expr=${a.linkText}&x="<>` : a.otherLink,
        endsAt: a.ended ? '2026-11-28T09:00:00Z' : '0001-01-01T00:00:00Z',
        fingerprint: `f${i}${a.fingerprint}`.slice(0, 256) || 'f',
      }),
    )

/** A storm: thousands of small alerts (bigger ones would pass the 1 MiB body limit). */
const storm = fc
  .integer({min: 1000, max: 5000})
  .map((count) => Array.from({length: count}, (_, i) => alert({labels: {alertname: `Storm${i % 7}<&>`, pod: `p-${i}`}, annotations: {}, fingerprint: `f${i}`})))

/** An Alertmanager payload: 1–30 hostile alerts, or (1 in 20) a storm. */
const payloads = fc
  .record({
    alerts: fc.oneof(
      {weight: 19, arbitrary: fc.integer({min: 1, max: 30}).chain((n) => fc.tuple(...Array.from({length: n}, (_, i) => oneAlert(i))))},
      {weight: 1, arbitrary: storm},
    ),
    groupLabels: labels(),
    commonLabels: labels(),
    amLink: fc.boolean(),
    externalText: hostile(5),
    truncated: fc.option(fc.integer({min: 0, max: 100_000}), {freq: 5, nil: undefined}),
  })
  .map((p) =>
    alertmanagerPayload(p.alerts, {
      groupLabels: p.alerts.length >= 1000 ? {alertname: 'Storm'} : p.groupLabels,
      commonLabels: p.commonLabels,
      externalURL: p.amLink ? 'http://alertmanager:9093/#/alerts?x=<"&>' : p.externalText,
      truncatedAlerts: p.truncated,
    }),
  )

/** Malformed bodies: broken JSON, wrong types, wrong shapes. Each must be a clear 4xx. */
const VALID_BODY = JSON.stringify(alertmanagerPayload([alert()]))

function malformedBodies(): {what: string; body: string | Buffer}[] {
  const valid = VALID_BODY
  return [
    {what: 'not JSON', body: '<xml>alert</xml>'},
    {what: 'JSON array', body: '[]'},
    {what: 'JSON string', body: '"firing"'},
    {what: 'null', body: 'null'},
    {what: 'version 3', body: valid.replace('"version":"4"', '"version":"3"')},
    {what: 'alerts not an array', body: valid.replace(/"alerts":\[.*\]\}$/, '"alerts":{"0":1}}')},
    {what: 'no alerts', body: valid.replace(/"alerts":\[.*\]\}$/, '"alerts":[]}')},
    {what: 'label value an object', body: valid.replace('"severity":"warning"', '"severity":{"$gt":""}')},
    {what: 'status unknown', body: valid.replace('"status":"firing"', '"status":"exploded"')},
    {what: 'startsAt not a time', body: valid.replace('2026-11-28T08:00:00.123456789Z', "'; DROP TABLE alerts;--")},
    {what: 'prototype pollution', body: valid.replace('{"version"', '{"__proto__":{"polluted":true},"version"')},
    {what: 'constructor pollution', body: valid.replace('{"version"', '{"constructor":{"prototype":{"polluted":true}},"version"')},
    {what: 'deep nesting', body: '['.repeat(50_000) + ']'.repeat(50_000)},
    {what: 'over 8 MiB', body: JSON.stringify(alertmanagerPayload([alert({annotations: {description: 'x'.repeat(8_500_000)}})]))},
    {
      what: 'over 10,000 alerts',
      body: JSON.stringify(
        alertmanagerPayload(Array.from({length: 10_001}, (_, i) => alert({labels: {alertname: 'A'}, annotations: {}, fingerprint: `f${i}`}))),
      ),
    },
    {
      what: 'invalid UTF-8 around JSON syntax',
      body: Buffer.concat([Buffer.from('{"version":"4",'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"alerts":[]}')]),
    },
  ]
}

/** A valid payload whose label and annotation values carry invalid UTF-8 byte sequences. */
function invalidUtf8Payload(): Buffer {
  const marker = 'MARKER_BYTES'
  const json = JSON.stringify(
    alertmanagerPayload([alert({labels: {alertname: `Bad${marker}Bytes`, namespace: marker}, annotations: {summary: `s${marker}`, description: marker}})]),
  )
  const parts = json.split(marker)
  const bad = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xed, 0xa0, 0x80, 0xff])
  return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [Buffer.from(part)] : [bad, Buffer.from(part)])))
}

let telegram: FakeTelegram
let app: WebhookApp

beforeAll(async () => {
  telegram = await startFakeTelegram({token: BOT_TOKEN})
  const notifier = createTelegramNotifier({
    botToken: BOT_TOKEN,
    chatIds: ['4242'],
    apiUrl: telegram.url,
    timeoutMs: 5000,
    retryBudgetMs: 10_000,
    // No retries and no dedupe: any message Telegram refuses shows up as a 502 at once.
    maxAttempts: 1,
    dedupeWindowMs: 0,
    logger: {info() {}, warn() {}, error() {}},
  })
  app = await buildApp({webhookToken: WEBHOOK_TOKEN, notifier})
})

afterAll(async () => {
  await app?.close()
  await telegram?.close()
})

async function post(body: string | Buffer) {
  const before = telegram.calls.length
  const response = await app.inject({
    method: 'POST',
    url: '/alerts',
    headers: {authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json'},
    payload: body,
  })
  return {response, calls: telegram.calls.slice(before)}
}

function expectClearRefusal(response: {statusCode: number; body: string}, what: string) {
  expect(response.statusCode, `${what}: ${response.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400)
  expect(response.statusCode, what).toBeLessThan(500)
  const message = (JSON.parse(response.body) as {error: {message: string}}).error.message
  expect(message.length, what).toBeGreaterThan(10)
  expect(message.length, what).toBeLessThan(600)
  expect(message, what).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/)
}

function expectDelivered(result: Awaited<ReturnType<typeof post>>, what: string) {
  expect(result.response.statusCode, `${what}: ${result.response.body.slice(0, 500)}`).toBe(200)
  const sent = result.calls.filter((c) => c.method === 'sendMessage')
  expect(sent.length, what).toBeGreaterThan(0)
  for (const call of sent) {
    expect(call.status, `${what}: Telegram refused a message`).toBe(200)
    const parsed = parseTelegramHtml(call.text!)
    expect(parsed.ok, what).toBe(true)
    if (parsed.ok) expect(parsed.text.length, what).toBeLessThanOrEqual(TELEGRAM_MESSAGE_LIMIT)
    // Only the tags keda-lab writes; hostile tags arrive as text (escaped), never as markup.
    for (const tag of call.text!.match(/<\/?([a-z-]+)/g) ?? [])
      expect(['<b', '</b', '<i', '</i', '<code', '</code', '<a', '</a'], `${what}: ${tag}`).toContain(tag)
    expect(call.text, what).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/)
    expect(call.text, what).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/)
  }
  return sent
}

describe(`fuzzing POST /alerts (fast-check seed ${FUZZ_SEED}; replay with FUZZ_SEED=${FUZZ_SEED})`, () => {
  it(`answers random hostile payloads (${fuzzRuns(CASES)} runs) with escaped, bounded messages Telegram accepts, never a 5xx`, async () => {
    let delivered = 0
    let tried = 0
    await checkProperty(
      fc.asyncProperty(payloads, async (payload) => {
        tried++
        const body = JSON.stringify(payload)
        const result = await post(body)
        const what = `${payload.alerts.length} alerts, ${body.length} bytes`
        if (result.response.statusCode === 200) {
          expectDelivered(result, what)
          delivered++
        } else {
          expectClearRefusal(result.response, what)
        }
      }),
      CASES,
    )
    // Most generated payloads are valid Alertmanager payloads: refusing them all would pass trivially.
    expect(delivered).toBeGreaterThan(tried * 0.8)
  }, 240_000)

  it('shows hostile text verbatim (escaped, not interpreted)', async () => {
    const nasty = '<b>not bold</b> &amp; <a href="javascript:x">click</a> *md* `code`'
    const sent = expectDelivered(
      await post(JSON.stringify(alertmanagerPayload([alert({labels: {alertname: nasty, namespace: nasty}, annotations: {summary: nasty}})]))),
      'nasty',
    )
    const parsed = parseTelegramHtml(sent[0]!.text!)
    expect(parsed.ok && parsed.text).toContain(nasty)
  })

  it('summarises 5,000 alerts (a 3 MB notification) in bounded messages instead of thousands of messages', async () => {
    const alerts = Array.from({length: 5000}, (_, i) =>
      alert({
        labels: {
          alertname: i % 3 === 0 ? 'KedaLabTaskFailures' : 'KedaLabQueueBacklogGrowing',
          namespace: 'keda',
          pod: `worker-${i}`,
          instance: `10.0.${i % 250}.${i % 200}:9002`,
        },
        fingerprint: `f${i}`,
      }),
    )
    const sent = expectDelivered(await post(JSON.stringify(alertmanagerPayload(alerts))), '5000 alerts')
    expect(sent.length).toBeLessThanOrEqual(3)
    const all = sent.map((c) => c.text).join('\n')
    expect(all).toMatch(/…and 4980 more alerts not shown here: \d+ firing KedaLab\w+, \d+ firing KedaLab\w+\./)
  })

  it('replaces invalid UTF-8 in label values instead of failing', async () => {
    const sent = expectDelivered(await post(invalidUtf8Payload()), 'invalid UTF-8')
    expect(sent[0]!.text).toContain('\uFFFD')
  })

  it('refuses JSON cut anywhere with a clear 4xx', async () => {
    await checkProperty(
      fc.asyncProperty(fc.integer({min: 0, max: VALID_BODY.length - 2}), async (cut) => {
        const {response, calls} = await post(VALID_BODY.slice(0, cut))
        expectClearRefusal(response, `truncated at ${cut}`)
        expect(calls).toHaveLength(0)
      }),
      25,
    )
  }, 60_000)

  it('refuses malformed JSON and wrong shapes with a clear 4xx', async () => {
    for (const {what, body} of malformedBodies()) {
      const {response, calls} = await post(body)
      expectClearRefusal(response, what)
      expect(calls, what).toHaveLength(0)
    }
    expect(({} as {polluted?: boolean}).polluted).toBeUndefined()
  }, 60_000)
})
