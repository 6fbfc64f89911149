import Fastify from 'fastify'
import {describe, expect, it} from 'vitest'

import {acceptEmptyJsonBody} from '../../src/services/shared/json-body.js'
import {createAlertMemory, labelsRef, type RouteLog} from '../../src/services/webhook/alert-memory.js'
import type {Alert, AlertmanagerPayload} from '../../src/services/webhook/alertmanager-schema.js'
import {bearerAuthHook, rejectionReason} from '../../src/services/webhook/auth.js'
import {deliver, notificationOutcome, sendAnswer} from '../../src/services/webhook/delivery.js'
import type {Interactions} from '../../src/services/webhook/interactions.js'
import {createMemoryMessageStore, type MessageStore} from '../../src/services/webhook/message-store.js'
import {type Notifier, NotifyError, type NotifyReport, type SentMessage} from '../../src/services/webhook/notifier.js'

/** A log that keeps its lines, to assert what the webhook says when it degrades. */
function recordingLog(): RouteLog & {lines: {level: string; obj: object; msg: string}[]} {
  const lines: {level: string; obj: object; msg: string}[] = []
  return {
    lines,
    info: (obj, msg) => lines.push({level: 'info', obj, msg}),
    warn: (obj, msg) => lines.push({level: 'warn', obj, msg}),
  }
}

function alert(status: Alert['status'], fingerprint: string, labels: Record<string, string>): Alert {
  return {status, labels, annotations: {}, startsAt: '2026-12-07T00:00:00Z', endsAt: '0001-01-01T00:00:00Z', fingerprint}
}

function payload(alerts: Alert[]): AlertmanagerPayload {
  return {
    version: '4',
    groupKey: '{}:{alertname="A"}',
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'telegram',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts,
  }
}

/** The Interactions interface with only what the memory uses: the buttons name the reference they act on. */
const interactions: Interactions = {
  alertButtons: (ref) => [[{text: 'silence', data: `s1:${ref}`}]],
  handleUpdate: async () => {},
}

describe('the webhook plugin, piece by piece', () => {
  it('labels each response status with the notification outcome the metrics count', () => {
    const table = Object.fromEntries([200, 204, 400, 404, 413, 401, 500, 502, 503, 504].map((status) => [status, notificationOutcome(status)]))
    expect(table).toEqual({
      200: 'delivered',
      204: 'delivered',
      400: 'invalid',
      404: 'invalid',
      413: 'invalid',
      401: 'unauthorized',
      500: 'error',
      502: 'telegram_failed',
      503: 'telegram_failed',
      504: 'error',
    })
  })

  it('says which way an Authorization header failed, never its value', () => {
    expect(rejectionReason(undefined)).toBe('missing')
    expect(rejectionReason('Bearer nope')).toBe('wrong token')
    expect(rejectionReason('bearer\tnope')).toBe('wrong token')
    expect(rejectionReason('Basic dXNlcjpwYXNz')).toBe('not a bearer token')
    expect(rejectionReason('Bearer')).toBe('not a bearer token')
  })

  it('refuses a request without the token before its body is parsed, and takes an empty JSON body as no body', async () => {
    const app = Fastify()
    app.addHook('onRequest', bearerAuthHook('s3cret'))
    acceptEmptyJsonBody(app)
    app.post('/echo', async (request) => ({body: request.body ?? 'none'}))
    try {
      const json = {'content-type': 'application/json'}
      const refused = await app.inject({method: 'POST', url: '/echo', headers: {...json, authorization: 'Bearer wrong'}, payload: '{not json'})
      expect(refused.statusCode).toBe(401)
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="keda-lab-webhook"')
      expect(refused.json().error.message).toMatch(/Authorization: Bearer <WEBHOOK_TOKEN>/)
      expect(refused.body).not.toContain('s3cret')

      const auth = {...json, authorization: 'Bearer s3cret'}
      expect((await app.inject({method: 'POST', url: '/echo', headers: auth, payload: '  \n'})).json()).toEqual({body: 'none'})
      expect((await app.inject({method: 'POST', url: '/echo', headers: auth, payload: '{"a":1}'})).json()).toEqual({body: {a: 1}})
      expect((await app.inject({method: 'POST', url: '/echo', headers: auth, payload: '{not json'})).statusCode).toBe(400)
      // Fastify's own parser, so prototype poisoning is still refused.
      expect((await app.inject({method: 'POST', url: '/echo', headers: auth, payload: '{"__proto__":{"x":1}}'})).statusCode).toBe(400)
    } finally {
      await app.close()
    }
  })

  it('turns what Telegram did into the route answer: 200 with counts, 502/503 with Retry-After, other errors thrown', async () => {
    const sent: SentMessage[] = [{chatId: '1', index: 0, messageId: 7}]
    const report: NotifyReport = {chats: 2, messages: 1, retries: 1, skipped: 0, sent}
    const calls: {sent: SentMessage[]; complete: boolean}[] = []
    const onSent = async (s: SentMessage[], complete: boolean) => {
      calls.push({sent: s, complete})
    }
    const seen: unknown[] = []
    const ok: Notifier = {
      notify: async (messages, options) => {
        seen.push({messages, options})
        return report
      },
    }
    const log = recordingLog()
    const answer = await deliver(ok, ['hello'], log, {dedupe: true, replyTo: {'1': 3}, onSent})
    expect(answer).toEqual({status: 200, body: {success: true, result: {messages: 1, chats: 2, threaded: 1}}})
    expect(seen).toEqual([{messages: ['hello'], options: {dedupe: true, replyTo: {'1': 3}}}])
    expect(calls).toEqual([{sent, complete: true}])
    expect(log.lines).toEqual([{level: 'info', obj: {messages: 1, chats: 2, retries: 1, skipped: 0}, msg: 'notification sent to Telegram'}])
    // No replyTo: no `threaded` field at all.
    expect(await deliver(ok, ['hello'], log, {dedupe: false})).toEqual({status: 200, body: {success: true, result: {messages: 1, chats: 2}}})

    const limited: Notifier = {
      notify: async () => {
        throw new NotifyError('Telegram asked to wait', 503, 2.5, sent)
      },
    }
    const failed = await deliver(limited, ['hello'], log, {dedupe: true, onSent})
    expect(failed).toEqual({status: 503, retryAfter: 2.5, body: {success: false, error: {message: 'Telegram asked to wait'}}})
    expect(calls.at(-1)).toEqual({sent, complete: false})

    const broken: Notifier = {
      notify: async () => {
        throw new TypeError('a bug')
      },
    }
    await expect(deliver(broken, ['hello'], log, {dedupe: true})).rejects.toThrow('a bug')

    const app = Fastify()
    app.get('/503', async (_request, reply) => sendAnswer(reply, failed))
    app.get('/200', async (_request, reply) => sendAnswer(reply, answer))
    try {
      const limitedReply = await app.inject('/503')
      expect([limitedReply.statusCode, limitedReply.headers['retry-after']]).toEqual([503, '3'])
      const okReply = await app.inject('/200')
      expect([okReply.statusCode, okReply.headers['retry-after']]).toEqual([200, undefined])
    } finally {
      await app.close()
    }
  })

  it('puts buttons under the last message only when the firing alerts share labels, and stores those labels', async () => {
    const store = createMemoryMessageStore(60)
    const memory = createAlertMemory({store, interactions, chatIds: ['1']})
    const log = recordingLog()
    const firing = payload([alert('firing', 'f1', {alertname: 'A', pod: 'p1'}), alert('firing', 'f2', {alertname: 'A', pod: 'p2'})])
    const ref = labelsRef({alertname: 'A'})
    expect(await memory.withButtons(firing, ['one', 'two'], log)).toEqual(['one', {text: 'two', buttons: [[{text: 'silence', data: `s1:${ref}`}]]}])
    expect(await store.labelsFor(ref)).toEqual({alertname: 'A'})

    const nothingShared = payload([alert('firing', 'f1', {alertname: 'A'}), alert('firing', 'f2', {alertname: 'B'})])
    expect(await memory.withButtons(nothingShared, ['one'], log)).toEqual(['one'])
    const onlyResolved = payload([alert('resolved', 'f1', {alertname: 'A'})])
    expect(await memory.withButtons(onlyResolved, ['one'], log)).toEqual(['one'])
    expect(await createAlertMemory({interactions}).withButtons(firing, ['one'], log)).toEqual(['one'])
    expect(await createAlertMemory({store}).withButtons(firing, ['one'], log)).toEqual(['one'])
    expect(log.lines).toEqual([])
  })

  it('threads a resolved notification under the firing message per chat, and forgets it once every chat got it', async () => {
    const store = createMemoryMessageStore(60)
    const memory = createAlertMemory({store, chatIds: ['1', '2', '3']})
    const log = recordingLog()
    const firing = payload([alert('firing', 'f1', {alertname: 'A'})])
    await memory.rememberSent(
      firing,
      [
        {chatId: '1', index: 0, messageId: 10},
        {chatId: '1', index: 1, messageId: 11},
        {chatId: '2', index: 0, messageId: 20},
      ],
      true,
      log,
    )
    const resolved = payload([alert('resolved', 'f1', {alertname: 'A'})])
    expect(await memory.threadTargets(resolved, log)).toEqual({'1': 10, '2': 20})
    expect(await memory.threadTargets(firing, log)).toBeUndefined()
    // A partial delivery keeps the thread for Alertmanager's retry; a complete one ends it.
    await memory.rememberSent(resolved, [], false, log)
    expect(await store.messageFor('f1', '1')).toBe(10)
    await memory.rememberSent(resolved, [], true, log)
    expect(await store.messageFor('f1', '1')).toBeUndefined()
    expect(await createAlertMemory({store}).threadTargets(resolved, log)).toBeUndefined()
    expect(log.lines).toEqual([])
  })

  it('still sends when the store fails, and logs what it could not do', async () => {
    const failing: MessageStore = {
      ...createMemoryMessageStore(60),
      rememberLabels: async () => {
        throw new Error('Redis is down')
      },
      messageFor: async () => {
        throw new Error('Redis is down')
      },
      rememberMessages: async () => {
        throw new Error('Redis is down')
      },
    }
    const memory = createAlertMemory({store: failing, interactions, chatIds: ['1']})
    const log = recordingLog()
    expect(await memory.withButtons(payload([alert('firing', 'f1', {alertname: 'A'})]), ['one'], log)).toEqual(['one'])
    expect(await memory.threadTargets(payload([alert('resolved', 'f1', {alertname: 'A'})]), log)).toBeUndefined()
    await memory.rememberSent(payload([alert('firing', 'f1', {alertname: 'A'})]), [{chatId: '1', index: 0, messageId: 1}], true, log)
    expect(log.lines.map((l) => [l.level, l.msg, l.obj])).toEqual([
      ['warn', 'could not remember the labels behind the buttons; the message goes out without it', {error: 'Redis is down'}],
      ['warn', 'could not look up the firing messages to reply to; the message goes out without it', {error: 'Redis is down'}],
      ['warn', 'could not remember the message ids; the message goes out without it', {error: 'Redis is down'}],
    ])
  })
})
