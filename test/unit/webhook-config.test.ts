import {describe, expect, it} from 'vitest'

import {loadWebhookConfig} from '../../src/services/webhook/config.js'
import {configErrorOf} from '../helpers/config.js'

const BOT_TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawZ'
const WEBHOOK_TOKEN = 'f3c1a9e0b7d24c5e8a6f1b2c3d4e5f60'
const valid = {TELEGRAM_BOT_TOKEN: BOT_TOKEN, TELEGRAM_CHAT_IDS: '111, -1002222 ,@alerts', WEBHOOK_TOKEN}

const configError = (env: NodeJS.ProcessEnv) => configErrorOf(loadWebhookConfig, env)

describe('loadWebhookConfig', () => {
  it('applies the defaults', () => {
    const config = loadWebhookConfig(valid)
    expect(config).toMatchObject({port: 8080, metricsPort: 9003, host: '0.0.0.0', webhookToken: WEBHOOK_TOKEN})
    expect(config.telegram).toMatchObject({botToken: BOT_TOKEN, chatIds: ['111', '-1002222', '@alerts'], apiUrl: 'https://api.telegram.org'})
  })

  it('reads the lab from the cluster for /status only when STATUS_NAMESPACE is set, and names a bad namespace', () => {
    expect(loadWebhookConfig(valid).clusterStatus).toBeUndefined()
    expect(loadWebhookConfig({...valid, STATUS_NAMESPACE: 'lab'}).clusterStatus).toEqual({namespace: 'lab', monitoringNamespace: 'keda-monitoring'})
    expect(loadWebhookConfig({...valid, STATUS_NAMESPACE: 'lab', STATUS_MONITORING_NAMESPACE: 'mon'}).clusterStatus).toEqual({
      namespace: 'lab',
      monitoringNamespace: 'mon',
    })
    const error = configError({...valid, STATUS_NAMESPACE: 'Lab_NS'})
    expect(error.message).toBe('STATUS_NAMESPACE is "Lab_NS": must be a Kubernetes namespace name (lower-case letters, digits and "-", at most 63)')
    expect(error.hint).toContain('STATUS_NAMESPACE=keda-lab')
  })

  it('reads the ports and the API URL', () => {
    const config = loadWebhookConfig({...valid, PORT: '18080', METRICS_PORT: '19003', TELEGRAM_API_URL: 'http://127.0.0.1:4000/'})
    expect(config).toMatchObject({port: 18080, metricsPort: 19003})
    expect(config.telegram.apiUrl).toBe('http://127.0.0.1:4000')
  })

  it('rejects a malformed bot token in one line that never echoes it', () => {
    const wrong = 'not-a-token-but-a-secret-anyway'
    const error = configError({...valid, TELEGRAM_BOT_TOKEN: wrong})
    expect(error.message).toMatch(/^TELEGRAM_BOT_TOKEN has an invalid value: does not look like a bot token/)
    expect(error.message).not.toContain(wrong)
    expect(error.hint).toContain('TELEGRAM_BOT_TOKEN=')
    expect(error.message).not.toContain('\n')
  })

  it('names each missing required variable', () => {
    expect(configError({...valid, TELEGRAM_BOT_TOKEN: undefined}).message).toMatch(/^TELEGRAM_BOT_TOKEN is not set/)
    expect(configError({...valid, TELEGRAM_CHAT_IDS: undefined}).message).toMatch(/^TELEGRAM_CHAT_IDS is not set/)
    expect(configError({...valid, WEBHOOK_TOKEN: undefined}).message).toMatch(/^WEBHOOK_TOKEN is not set/)
  })

  it('rejects a short webhook token without echoing it, bad chat ids, ports and URLs', () => {
    const short = configError({...valid, WEBHOOK_TOKEN: 'short-secret'})
    expect(short.message).toBe('WEBHOOK_TOKEN has an invalid value: must be at least 16 characters long')
    expect(configError({...valid, TELEGRAM_CHAT_IDS: '123,abc'}).message).toMatch(/^TELEGRAM_CHAT_IDS is "123,abc": must be comma-separated numeric chat ids/)
    expect(configError({...valid, TELEGRAM_CHAT_IDS: ' , '}).message).toMatch(/at least one chat id/)
    expect(configError({...valid, PORT: 'eighty'}).message).toMatch(/^PORT is "eighty": must be a number/)
    expect(configError({...valid, METRICS_PORT: '70000'}).message).toMatch(/^METRICS_PORT is "70000": must be between 1 and 65535/)
    expect(configError({...valid, PORT: '9003'}).message).toMatch(/^METRICS_PORT is 9003: must differ from PORT/)
    expect(configError({...valid, TELEGRAM_DEDUPE_WINDOW_MS: '-5'}).message).toMatch(/^TELEGRAM_DEDUPE_WINDOW_MS is "-5": must be at least 0/)
    expect(configError({...valid, TELEGRAM_API_URL: 'ftp://x'}).message).toMatch(/^TELEGRAM_API_URL is "ftp:\/\/x": must be an http/)
  })
})
