/**
 * Secrets rendered with known values appear only inside Secret objects (base64), never in
 * ConfigMaps, env values, or anywhere else in `helm template` output; generated values are random
 * per render when none is given (kept across upgrades through `lookup`, which needs a live cluster).
 */
import {describe, expect, it} from 'vitest'

import {helmTemplate, type HelmMajor, parseManifests} from '../helpers/helm.js'

const KNOWN = {
  telegramBotToken: '987654321:AAH-known-telegram-token-for-test',
  redisPassword: 'known-redis-password-1c7e',
  webhookToken: 'known-webhook-token-55aa',
}

const MAJORS: HelmMajor[] = [3, 4]

describe.each(MAJORS)('secrets with Helm %i', (major) => {
  it('puts known secret values only in the Secret, base64-encoded', async () => {
    const result = await helmTemplate(major, {
      values: {secrets: {create: true, ...KNOWN}, redis: {auth: {existingSecret: '', sentinelPasswordKey: 'redis-password'}}},
    })
    expect(result.exitCode, result.stderr).toBe(0)

    // Plain text: nowhere in the output at all (not in env, ConfigMaps, annotations, rules).
    for (const value of Object.values(KNOWN)) expect(result.stdout).not.toContain(value)

    const objects = parseManifests(result.stdout)
    const secrets = objects.filter((o) => o.kind === 'Secret')
    expect(secrets).toHaveLength(1)
    const data = secrets[0]?.data as Record<string, string>
    expect(Buffer.from(data['telegram-bot-token'] ?? '', 'base64').toString()).toBe(KNOWN.telegramBotToken)
    expect(Buffer.from(data['redis-password'] ?? '', 'base64').toString()).toBe(KNOWN.redisPassword)
    expect(Buffer.from(data['webhook-token'] ?? '', 'base64').toString()).toBe(KNOWN.webhookToken)

    // Base64 form: only inside that Secret.
    const others = JSON.stringify(objects.filter((o) => o.kind !== 'Secret'))
    for (const value of Object.values(KNOWN)) expect(others).not.toContain(Buffer.from(value).toString('base64'))
    for (const configMap of objects.filter((o) => o.kind === 'ConfigMap')) {
      for (const value of Object.values(KNOWN)) expect(JSON.stringify(configMap)).not.toContain(value)
    }
  })

  it('generates strong random Redis and webhook values when none is given', async () => {
    const render = async (): Promise<Record<string, string>> => {
      const result = await helmTemplate(major, {values: {secrets: {create: true, telegramBotToken: KNOWN.telegramBotToken}}})
      expect(result.exitCode, result.stderr).toBe(0)
      const secret = parseManifests(result.stdout).find((o) => o.kind === 'Secret')
      const data = secret?.data as Record<string, string>
      return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))
    }
    const first = await render()
    const second = await render()
    expect(first['redis-password']).toMatch(/^[A-Za-z0-9]{32}$/)
    expect(first['webhook-token']).toMatch(/^[A-Za-z0-9]{40}$/)
    expect(second['redis-password']).not.toBe(first['redis-password'])
    expect(second['webhook-token']).not.toBe(first['webhook-token'])
  })

  it('renders no Secret at all when secrets.create is false (install creates it through the API)', async () => {
    const result = await helmTemplate(major, {values: {secrets: {...KNOWN}}})
    expect(result.exitCode, result.stderr).toBe(0)
    expect(parseManifests(result.stdout).filter((o) => o.kind === 'Secret')).toHaveLength(0)
    for (const value of Object.values(KNOWN)) {
      expect(result.stdout).not.toContain(value)
      expect(result.stdout).not.toContain(Buffer.from(value).toString('base64'))
    }
  })
})
