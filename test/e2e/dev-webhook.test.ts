import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'
import {alert, alertmanagerPayload} from '../helpers/alerts.js'
import {runCli} from '../helpers/cli.js'
import {type DevRun, cleanupDev, request, startDev} from './dev-harness.js'

/**
 * With a Telegram token, `keda-lab dev` also runs the webhook: an Alertmanager notification posted
 * to it reaches the (loopback fake) Telegram Bot API, and no secret is ever printed.
 */

const BOT_TOKEN = '123456789:AAdevTestTokenDevTestTokenDevTestTo'
const WEBHOOK_TOKEN = 'dev-test-webhook-token-0123456789'

let dev: DevRun | undefined
let dev2: DevRun | undefined
let telegram: FakeTelegram | undefined
const dirs: string[] = []

afterAll(async () => {
  await cleanupDev(dev)
  await cleanupDev(dev2)
  await telegram?.close()
  for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
})

describe('keda-lab dev with a Telegram token', () => {
  it('starts the webhook, which delivers an alert to every chat id, and never prints the secrets', async () => {
    telegram = await startFakeTelegram({token: BOT_TOKEN})
    dev = startDev(['--api-port', '0', '--workers', '0', '--telegram-chat-ids', '42,43'], {
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_API_URL: telegram.url,
      WEBHOOK_TOKEN,
    })
    const url = (
      await dev.waitForLine(/^\[dev\]\s+(?:\d\d:\d\d:\d\d\.\d{3}\s+)?Webhook\s+(http:\/\/127\.0\.0\.1:\d+)\/alerts\s+\(bearer token: WEBHOOK_TOKEN\)/, 90_000)
    )[1]!

    const payload = alertmanagerPayload([
      alert({
        labels: {alertname: 'KedaLabWorkersAtMax', severity: 'warning', namespace: 'keda'},
        annotations: {summary: 'Workers at their maximum', description: 'The worker HPA has been at max replicas for 30 s.'},
        startsAt: new Date().toISOString(),
      }),
    ])
    const unauthorised = await request(`${url}/alerts`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(payload)})
    expect(unauthorised.status).toBe(401)
    const res = await request(`${url}/alerts`, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}`},
      body: JSON.stringify(payload),
    })
    expect(res.status, res.text).toBeLessThan(300)
    const calls = await telegram.waitForCalls(2, {method: 'sendMessage', timeoutMs: 15_000})
    expect(calls.map((c) => String(c.chat_id)).sort()).toEqual(['42', '43'])
    expect(calls[0]!.text).toContain('KedaLabWorkersAtMax')

    // `keda-lab alert test --local` through this dev stack's webhook, as a user runs it.
    const tested = await runCli(['alert', 'test', '--local', `${url}/alerts`, '--resolve'], {env: {WEBHOOK_TOKEN}, timeoutMs: 60_000})
    expect(tested.code, tested.stderr).toBe(0)
    expect(tested.stdout).toContain('through the webhook')
    expect(tested.stdout).toMatch(/√ firing: Telegram accepted it \(1 message, 2 chats\)/)
    expect(tested.stdout).toMatch(/√ resolved: Telegram accepted it \(1 message, 2 chats, replying to the firing message in 2\)/)
    const testMessages = telegram.sentMessages().filter((c) => c.text?.includes('KedaLabTestAlert'))
    const firingIds = testMessages.filter((c) => c.text!.includes('FIRING:1')).map((c) => c.message_id)
    const resolvedReplies = testMessages.filter((c) => c.text!.includes('RESOLVED:1')).map((c) => c.reply_to_message_id)
    expect(firingIds).toHaveLength(2)
    expect(resolvedReplies.sort()).toEqual(firingIds.sort())

    // --json gives the same result as data.
    const json = await runCli(['alert', 'test', '--local', url, '--json'], {env: {WEBHOOK_TOKEN}, timeoutMs: 60_000})
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({via: 'webhook', alertname: 'KedaLabTestAlert', ok: true, firing: {accepted: true, messages: 1, chats: 2}})

    // Telegram refusing: reported, exit 1.
    telegram.failNext(20, {status: 400, description: 'Bad Request: chat not found'})
    const refused = await runCli(['alert', 'test', '--local', url], {env: {WEBHOOK_TOKEN}, timeoutMs: 60_000})
    telegram.clearFailures()
    expect(refused.code).toBe(1)
    expect(refused.stdout).toMatch(
      /× firing: not accepted — the webhook answered 502: Telegram did not accept the message for 2 of 2 chat\(s\): Telegram answered 400: Bad Request: chat not found/,
    )

    // A wrong token: what happened and how to fix it, never the token.
    const wrong = await runCli(['alert', 'test', '--local', url], {env: {WEBHOOK_TOKEN: 'not-the-dev-token-0123456789'}, timeoutMs: 60_000})
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/^Error: the webhook at http:\/\/127\.0\.0\.1:\d+ refused the bearer token\nFix: pass the token the dev stack uses/m)
    expect(wrong.stdout + wrong.stderr).not.toContain('not-the-dev-token-0123456789')
    // No token given: the one in this dev run's state file is used.
    const fromState = await runCli(['alert', 'test', '--local', url], {env: {WEBHOOK_TOKEN: ''}, timeoutMs: 60_000})
    expect(fromState.code, fromState.stderr).toBe(0)
    expect(fromState.stdout).toContain('through the webhook')

    dev.child.kill('SIGINT')
    expect((await dev.exited).code).toBe(0)
    const out = dev.output()
    expect(out).toMatch(/^\[webhook\]\s+\S/m)
    expect(out).not.toContain(BOT_TOKEN)
    expect(out).not.toContain(BOT_TOKEN.split(':')[1])
    expect(out).not.toContain(WEBHOOK_TOKEN)
  }, 240_000)

  it('a generated token is kept in the state file (0600), where `alert test --local` finds it; the API URL is answered with where the webhook is', async () => {
    telegram ??= await startFakeTelegram({token: BOT_TOKEN})
    const stateDir = mkdtempSync(join(tmpdir(), 'keda-lab-state-'))
    const emptyStateDir = mkdtempSync(join(tmpdir(), 'keda-lab-state-'))
    dirs.push(stateDir, emptyStateDir)
    const run = startDev(['--api-port', '0', '--workers', '0', '--telegram-chat-ids', '42'], {
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_API_URL: telegram.url,
      WEBHOOK_TOKEN: undefined,
      KEDA_LAB_STATE_DIR: stateDir,
    })
    dev2 = run
    const api = await run.waitForLine(/^\[dev\]\s+\S+\s+API\s+(http:\/\/127\.0\.0\.1:(\d+))/, 90_000)
    const url = (await run.waitForLine(/Webhook\s+(http:\/\/127\.0\.0\.1:\d+)\/alerts\s+\(bearer token: generated for this run and kept in its state file/))[1]!

    const [file] = readdirSync(stateDir).filter((n) => n.startsWith('dev-'))
    expect(file).toBeDefined()
    expect(statSync(join(stateDir, file!)).mode & 0o777).toBe(0o600)
    const state = JSON.parse(readFileSync(join(stateDir, file!), 'utf8')) as {webhook: {url: string; token: string}}
    expect(state.webhook.url).toBe(url)
    expect(state.webhook.token.length).toBeGreaterThanOrEqual(16)
    expect(run.output()).not.toContain(state.webhook.token)

    const env = {WEBHOOK_TOKEN: undefined, KEDA_LAB_STATE_DIR: stateDir}
    const tested = await runCli(['alert', 'test', '--local', url], {env, timeoutMs: 60_000})
    expect(tested.code, tested.stderr).toBe(0)
    expect(tested.stdout).toMatch(/√ firing: Telegram accepted it \(1 message, 1 chat/)

    // The API by mistake (also as localhost): the webhook is elsewhere, and where.
    for (const wrong of [api[1]!, `localhost:${api[2]}`]) {
      const r = await runCli(['alert', 'test', '--local', wrong], {env, timeoutMs: 60_000})
      expect(r.code, wrong).toBe(1)
      expect(r.stderr.trim().split('\n')).toEqual([
        `Error: ${wrong} is the API of keda-lab dev (pid ${run.child.pid}), not its webhook`,
        `Fix: its webhook is at ${url}: keda-lab alert test --local ${url}`,
      ])
    }

    // No dev stack known and no token: said, with what to do.
    const unknown = await runCli(['alert', 'test', '--local', url], {env: {WEBHOOK_TOKEN: undefined, KEDA_LAB_STATE_DIR: emptyStateDir}, timeoutMs: 60_000})
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('no running keda-lab dev has its webhook there, and no token was given')

    run.child.kill('SIGINT')
    expect((await run.exited).code).toBe(0)
    const out = run.output()
    expect(out).not.toContain(state.webhook.token)
    // Quiet probes: dev polled the webhook's /healthz at start, and none of it is in the log.
    expect(out.split('\n').filter((l) => l.startsWith('[webhook]') && l.includes('/healthz'))).toEqual([])
    // Redis's overcommit warning, where this machine triggers it, is one short line.
    expect(out).not.toContain('WARNING Memory overcommit must be enabled')
    if (readFileSync('/proc/sys/vm/overcommit_memory', 'utf8').trim() === '0') {
      const note = out.split('\n').filter((l) => l.includes('memory overcommit is off'))
      expect(note).toHaveLength(1)
      expect(note[0]!.length).toBeLessThan(160)
    }
  }, 240_000)
})
