import {describe, expect, it} from 'vitest'

import {ACTIONS, callbackKey, signCallback, verifyCallback} from '../../src/services/webhook/callback-data.js'
import {loadWebhookConfig} from '../../src/services/webhook/config.js'
import {personName} from '../../src/services/webhook/interactions.js'
import {labelsRef, sharedLabels} from '../../src/services/webhook/plugin.js'
import {alert} from '../helpers/alerts.js'
import {configErrorOf} from '../helpers/config.js'

const key = callbackKey('webhook-token-0123456789abcdef')
const NOW = 1_800_000_000
const ALERT_REF = '0123456789abcdef'
const SILENCE_REF = '9f0c2b1ad3e44f5a8b7c6d5e4f3a2b1c'

describe('signed callback data', () => {
  it("round-trips every action, within Telegram's 64 bytes even for a silence id", () => {
    for (const action of ACTIONS) {
      for (const ref of [ALERT_REF, SILENCE_REF]) {
        const data = signCallback(key, {action, ref, issuedAt: NOW})
        expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64)
        const check = verifyCallback(key, data, NOW + 10, 3600)
        expect(check).toMatchObject({ok: true, payload: {action, ref, issuedAt: NOW}})
      }
    }
  })

  it('gives each press its own id (the replay guard), the same id for the same data', () => {
    const a = verifyCallback(key, signCallback(key, {action: 's1', ref: ALERT_REF, issuedAt: NOW}), NOW, 3600)
    const b = verifyCallback(key, signCallback(key, {action: 's1', ref: ALERT_REF, issuedAt: NOW}), NOW, 3600)
    const c = verifyCallback(key, signCallback(key, {action: 's4', ref: ALERT_REF, issuedAt: NOW}), NOW, 3600)
    expect(a.ok && b.ok && c.ok).toBe(true)
    if (a.ok && b.ok && c.ok) {
      expect(a.pressId).toBe(b.pressId)
      expect(a.pressId).not.toBe(c.pressId)
    }
  })

  it('refuses tampered, forged, foreign, old and malformed data, saying why', () => {
    const good = signCallback(key, {action: 's1', ref: ALERT_REF, issuedAt: NOW})
    const [action, ref, issued, mac] = good.split(':') as [string, string, string, string]
    const cases: [string, unknown, RegExp][] = [
      ['another action', `s24:${ref}:${issued}:${mac}`, /signature/],
      ['another reference', `${action}:fedcba9876543210:${issued}:${mac}`, /signature/],
      ['another time', `${action}:${ref}:${(NOW + 1).toString(36)}:${mac}`, /signature/],
      ['a shortened mac', `${action}:${ref}:${issued}:${mac.slice(1)}`, /signature/],
      ['another key', signCallback(callbackKey('another-token-0123456789'), {action: 's1', ref: ALERT_REF, issuedAt: NOW}), /signature/],
      ['an unknown action, signed', signCallback(key, {action: 'drop' as 's1', ref: ALERT_REF, issuedAt: NOW}), /unknown action/],
      ['too old', good, /older than/],
      ['not a string', 42, /missing/],
      ['too long', 'x'.repeat(65), /too long/],
      ['wrong shape', 'a:b', /format/],
    ]
    for (const [what, data, reason] of cases) {
      const check = verifyCallback(key, data, what === 'too old' ? NOW + 3601 : NOW, 3600)
      expect(check.ok, what).toBe(false)
      if (!check.ok) expect(check.reason, what).toMatch(reason)
    }
    expect(verifyCallback(key, signCallback(key, {action: 's1', ref: ALERT_REF, issuedAt: NOW + 3600}), NOW, 3600)).toMatchObject({
      ok: false,
      reason: 'issued in the future',
    })
    expect(() => signCallback(key, {action: 's1', ref: 'not-hex', issuedAt: NOW})).toThrow(/16 or 32 hex digits/)
  })
})

describe('button references and names', () => {
  it('names a label set by a stable 16-hex reference, whatever the key order', () => {
    expect(labelsRef({b: '2', a: '1'})).toBe(labelsRef({a: '1', b: '2'}))
    expect(labelsRef({a: '1'})).not.toBe(labelsRef({a: '2'}))
    expect(labelsRef({a: '1'})).toMatch(/^[0-9a-f]{16}$/)
  })

  it('silences a group by the labels all its firing alerts share', () => {
    const shared = sharedLabels([
      alert({labels: {alertname: 'A', pod: 'p1', namespace: 'keda'}}),
      alert({labels: {alertname: 'A', pod: 'p2', namespace: 'keda'}}),
    ])
    expect(shared).toEqual({alertname: 'A', namespace: 'keda'})
  })

  it('uses the Telegram name as createdBy', () => {
    expect(personName({id: 1, first_name: 'Ada', last_name: 'Lovelace', username: 'ada'})).toBe('Ada Lovelace (@ada)')
    expect(personName({id: 1, first_name: 'Ada'})).toBe('Ada')
    expect(personName({id: 42})).toBe('telegram user 42')
  })
})

describe('webhook configuration for buttons and threading', () => {
  const valid = {
    TELEGRAM_BOT_TOKEN: '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawZ',
    TELEGRAM_CHAT_IDS: '111',
    WEBHOOK_TOKEN: 'f3c1a9e0b7d24c5e8a6f1b2c3d4e5f60',
  }

  it("offers no buttons without Alertmanager, polls with it, uses Telegram's webhook with a public URL", () => {
    expect(loadWebhookConfig(valid).telegram.updates).toBe('off')
    expect(loadWebhookConfig({...valid, ALERTMANAGER_URL: 'http://am:9093/'})).toMatchObject({
      alertmanagerUrl: 'http://am:9093',
      telegram: {updates: 'polling'},
    })
    expect(
      loadWebhookConfig({...valid, ALERTMANAGER_URL: 'http://am:9093', TELEGRAM_WEBHOOK_URL: 'https://lab.example.com/telegram/updates'}).telegram.updates,
    ).toBe('webhook')
  })

  it('keeps message ids in Redis only when Redis is configured', () => {
    expect(loadWebhookConfig(valid).redis).toBeUndefined()
    expect(loadWebhookConfig({...valid, REDIS_URL: 'redis://r:6379'}).redis).toMatchObject({mode: 'standalone', url: 'redis://r:6379'})
    expect(loadWebhookConfig({...valid, REDIS_SENTINELS: 's1:26379,s2:26379'}).redis).toMatchObject({mode: 'sentinel'})
  })

  it('says what is missing for the chosen update mode', () => {
    const noUrl = configErrorOf(loadWebhookConfig, {...valid, ALERTMANAGER_URL: 'http://am:9093', TELEGRAM_UPDATES: 'webhook'})
    expect(noUrl.message).toBe('TELEGRAM_UPDATES is webhook but TELEGRAM_WEBHOOK_URL is not set')
    expect(noUrl.hint).toContain('TELEGRAM_WEBHOOK_URL=https://')
    const noAm = configErrorOf(loadWebhookConfig, {...valid, TELEGRAM_UPDATES: 'polling'})
    expect(noAm.message).toMatch(/^TELEGRAM_UPDATES is polling but ALERTMANAGER_URL is not set/)
    expect(configErrorOf(loadWebhookConfig, {...valid, TELEGRAM_WEBHOOK_URL: 'http://insecure/x'}).message).toMatch(
      /^TELEGRAM_WEBHOOK_URL is "http:\/\/insecure\/x": must be the public https:\/\/ URL/,
    )
  })
})
