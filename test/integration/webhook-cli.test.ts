import type {ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {cliEntry, repoRoot, runCli} from '../helpers/cli.js'
import {freePort, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {alert, alertmanagerPayload} from '../helpers/alerts.js'

const BOT_TOKEN = `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`
const WEBHOOK_TOKEN = randomBytes(24).toString('hex')

const payload = alertmanagerPayload(
  [
    alert({
      labels: {alertname: 'KedaLabQueueBacklogGrowing', severity: 'warning', namespace: 'keda', queue: 'tasks'},
      annotations: {summary: 'Queue backlog growing', description: 'bull:tasks:wait grew for 5m'},
      fingerprint: 'a1b2c3',
    }),
  ],
  {groupKey: '{}:{alertname="KedaLabQueueBacklogGrowing"}', groupLabels: {alertname: 'KedaLabQueueBacklogGrowing'}},
)

describe('keda-lab serve webhook (the real CLI process) against the fake Telegram', () => {
  let telegram: FakeTelegram
  let child: ChildProcess | undefined
  let output = ''

  beforeAll(async () => {
    telegram = await startFakeTelegram({token: BOT_TOKEN})
  })

  afterAll(async () => {
    if (child) await stopProcess(child, 'SIGKILL')
    await telegram?.close()
  })

  it('serves alerts and metrics, drains a request in flight on SIGTERM and exits 0, never printing a secret', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()]
    child = spawnTracked(process.execPath, [cliEntry(), 'serve', 'webhook'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'debug',
        TELEGRAM_BOT_TOKEN: BOT_TOKEN,
        TELEGRAM_CHAT_IDS: '4242,-1009999',
        WEBHOOK_TOKEN,
        TELEGRAM_API_URL: telegram.url,
        TELEGRAM_RETRY_BUDGET_MS: '3000',
      },
    })
    child.stdout!.on('data', (d) => (output += d))
    child.stderr!.on('data', (d) => (output += d))
    await waitFor(() => output.includes('webhook listening'), {timeoutMs: 40_000, what: `webhook start-up; output so far: ${output}`})
    // Start-up checks the token with getMe.
    await telegram.waitForCalls(1, {method: 'getMe'})

    const headers = {authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json'}
    const ok = await fetch(`http://127.0.0.1:${port}/alerts`, {method: 'POST', headers, body: JSON.stringify(payload)})
    expect(ok.status).toBe(200)
    expect(
      telegram
        .sentMessages()
        .map((c) => c.chat_id)
        .sort(),
    ).toEqual(['-1009999', '4242'])
    expect(telegram.sentMessages()[0]!.text).toContain('Queue backlog growing')

    telegram.failNext(100, {status: 500})
    const other = {...payload, alerts: [{...payload.alerts[0]!, annotations: {summary: 'Another one'}}]}
    const failing = await fetch(`http://127.0.0.1:${port}/alerts`, {method: 'POST', headers, body: JSON.stringify(other)})
    expect(failing.status).toBe(502)
    telegram.clearFailures()

    const unauthorized = await fetch(`http://127.0.0.1:${port}/alerts`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{}'})
    expect(unauthorized.status).toBe(401)
    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    expect(health.status).toBe(200)

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    expect(metrics).toMatch(/keda_lab_webhook_alerts_received_total\{status="firing",service="webhook"\} 2/)
    expect(metrics).toMatch(/keda_lab_webhook_telegram_messages_total\{result="sent",service="webhook"\} 2/)
    expect(metrics).toMatch(/keda_lab_webhook_telegram_messages_total\{result="failed",service="webhook"\} 2/)
    expect(metrics).toMatch(/process_cpu_seconds_total/)
    // The alert port does not serve metrics, and the metrics port does not take alerts.
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404)

    // SIGTERM while a notification is waiting out a 429: the request in flight still completes.
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)))
    const limitedBefore = telegram.calls.filter((c) => c.status === 429).length
    telegram.failNext(1, {status: 429, retryAfter: 1})
    const last = {...payload, alerts: [{...payload.alerts[0]!, annotations: {summary: 'In flight at shutdown'}}]}
    const inFlight = fetch(`http://127.0.0.1:${port}/alerts`, {method: 'POST', headers, body: JSON.stringify(last)})
    await waitFor(() => telegram.calls.filter((c) => c.status === 429).length > limitedBefore, {what: 'the 429 answer'})
    child.kill('SIGTERM')
    expect((await inFlight).status).toBe(200)
    expect(telegram.sentMessages().filter((c) => c.text!.includes('In flight at shutdown'))).toHaveLength(2)
    expect(await exited).toBe(0)
    expect(output).toContain('webhook stopped')

    expect(output).toContain('Telegram sendMessage failed')
    expect(output).not.toContain(BOT_TOKEN)
    expect(output).not.toContain(BOT_TOKEN.split(':')[1])
    expect(output).not.toContain(WEBHOOK_TOKEN)
  })

  it('refuses a malformed bot token with one line naming the variable, without echoing it', async () => {
    const wrong = 'abc:this-is-not-a-valid-token-at-all-0123456789'
    const result = await runCli(['serve', 'webhook'], {
      env: {TELEGRAM_BOT_TOKEN: wrong, TELEGRAM_CHAT_IDS: '1', WEBHOOK_TOKEN},
      timeoutMs: 40_000,
    })
    expect(result.code).toBe(78)
    const lines = result.stderr.trim().split('\n')
    expect(lines[0]).toMatch(/^Error: TELEGRAM_BOT_TOKEN has an invalid value: does not look like a bot token/)
    expect(lines[1]).toMatch(/^Fix: set it like TELEGRAM_BOT_TOKEN=/)
    expect(lines).toHaveLength(2)
    expect(result.stderr + result.stdout).not.toContain(wrong)
    expect(result.stderr + result.stdout).not.toContain(WEBHOOK_TOKEN)
  })
})
