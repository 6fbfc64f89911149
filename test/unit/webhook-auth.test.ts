import {describe, expect, it} from 'vitest'

import {bearerToken, isAuthorized, tokensMatch} from '../../src/services/webhook/auth.js'
import {describeError, redact} from '../../src/services/webhook/redact.js'

const TOKEN = 'f3c1a9e0b7d24c5e8a6f1b2c3d4e5f60'
const BOT_TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawZ'

describe('tokensMatch', () => {
  it('accepts the same token and rejects any other, whatever its length', () => {
    expect(tokensMatch(TOKEN, TOKEN)).toBe(true)
    expect(tokensMatch(`${TOKEN.slice(0, -1)}1`, TOKEN)).toBe(false)
    expect(tokensMatch(TOKEN.slice(0, 5), TOKEN)).toBe(false)
    expect(tokensMatch(`${TOKEN}extra`, TOKEN)).toBe(false)
    expect(tokensMatch('', TOKEN)).toBe(false)
    expect(tokensMatch('', '')).toBe(false)
    expect(tokensMatch('é'.repeat(16), 'e'.repeat(16))).toBe(false)
  })
})

describe('bearer header', () => {
  it('reads the token of a Bearer header only', () => {
    expect(bearerToken(`Bearer ${TOKEN}`)).toBe(TOKEN)
    expect(bearerToken(`bearer   ${TOKEN} `)).toBe(TOKEN)
    expect(bearerToken(`Basic ${TOKEN}`)).toBeUndefined()
    expect(bearerToken(TOKEN)).toBeUndefined()
    expect(bearerToken('Bearer a b')).toBeUndefined()
    expect(bearerToken(undefined)).toBeUndefined()
    expect(bearerToken([`Bearer ${TOKEN}`])).toBeUndefined()
    expect(isAuthorized(`Bearer ${TOKEN}`, TOKEN)).toBe(true)
    expect(isAuthorized(`Bearer ${TOKEN}x`, TOKEN)).toBe(false)
  })
})

describe('redact', () => {
  it('removes known secrets, /bot<token> paths and anything shaped like a bot token', () => {
    const url = `https://api.telegram.org/bot${BOT_TOKEN}/sendMessage`
    expect(redact(`fetch ${url} failed`, [BOT_TOKEN])).toBe('fetch https://api.telegram.org/bot[REDACTED]/sendMessage failed')
    expect(redact(`token ${BOT_TOKEN}`)).not.toContain(BOT_TOKEN)
    expect(redact(`webhook ${TOKEN}`, [TOKEN])).toBe('webhook [REDACTED]')
  })

  it('describes an error chain on one line without the token', () => {
    const inner = Object.assign(new Error(`connect ECONNREFUSED for http://127.0.0.1:1/bot${BOT_TOKEN}/getMe`), {code: 'ECONNREFUSED'})
    const outer = new Error('Network request failed: sendMessage', {cause: inner})
    const line = describeError(outer, [BOT_TOKEN])
    expect(line).toContain('Network request failed: sendMessage')
    expect(line).toContain('ECONNREFUSED')
    expect(line).not.toContain(BOT_TOKEN)
    expect(line).not.toContain('\n')
  })
})
