/**
 * The Alertmanager configuration install renders into the kube-prometheus-stack values, run by the
 * REAL `alertmanager` binary: only the lab's alerts (keda_lab="true") reach the webhook, with the
 * bearer token read from the mounted Secret file. Paths and URL are pointed at a temp file and a
 * loopback receiver; group_wait is shortened so the test does not wait 10 s. A second test closes
 * the chain: the same configuration delivers to the real `keda-lab serve webhook`, which sends the
 * message to (a loopback fake of) Telegram.
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type IncomingHttpHeaders} from 'node:http'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {execFileSync} from 'node:child_process'

import {parse, stringify} from 'yaml'
import {afterAll, describe, expect, it} from 'vitest'

import {startFakeTelegram} from '../fakes/telegram.js'
import {type Alertmanager, startAlertmanager} from '../helpers/alertmanager.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {freePort, stopProcess, waitFor} from '../helpers/processes.js'
import {type ServeProcess, spawnServe, waitUntilReady} from '../helpers/serve.js'

const dir = mkdtempSync(join(tmpdir(), 'keda-lab-am-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('rendered Alertmanager routing (real alertmanager)', () => {
  it('routes keda_lab alerts to the webhook with the bearer token from the secret file, and nothing else', async () => {
    const env: NodeJS.ProcessEnv = {PATH: `${join(repoRoot, '.tools/helm3')}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir}
    const r = await runCli(['render', '--output', join(dir, 'out'), '--telegram-chat-id', '42', '-n', 'lab'], {env, timeoutMs: 60_000})
    expect(r.code).toBe(0)
    const config = parse(readFileSync(join(dir, 'out', 'values', 'kube-prometheus-stack.yaml'), 'utf8')).alertmanager.config
    const webhook = config.receivers.find((x: {name: string}) => x.name === 'keda-lab-webhook').webhook_configs[0]
    expect(webhook.url).toBe('http://keda-lab-webhook.lab.svc:8080/alerts')
    expect(webhook.http_config.authorization.credentials_file).toBe('/etc/alertmanager/secrets/keda-lab-webhook-token/token')

    const received: {headers: IncomingHttpHeaders; body: {alerts: {labels: Record<string, string>}[]}}[] = []
    const receiver = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        received.push({headers: req.headers, body: JSON.parse(body)})
        res.end('ok')
      })
    })
    const receiverPort = await freePort()
    await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve))

    // Same routes and receivers; only the cluster-local paths and the wait are adapted to this machine.
    writeFileSync(join(dir, 'token'), 'tok-0123456789abcdef')
    webhook.url = `http://127.0.0.1:${receiverPort}/alerts`
    webhook.http_config.authorization.credentials_file = join(dir, 'token')
    config.route.group_wait = '0s'
    writeFileSync(join(dir, 'alertmanager.yaml'), stringify(config))
    execFileSync('amtool', ['check-config', join(dir, 'alertmanager.yaml')])

    let am: Alertmanager | undefined
    try {
      am = await startAlertmanager({config: readFileSync(join(dir, 'alertmanager.yaml'), 'utf8')})
      const amUrl = am.url
      const post = await fetch(`${amUrl}/api/v2/alerts`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify([
          {labels: {alertname: 'KedaLabWorkersAtMax', keda_lab: 'true', severity: 'warning', namespace: 'lab'}, annotations: {summary: 'workers at max'}},
          {labels: {alertname: 'KubeControllerManagerDown', severity: 'critical'}},
          {labels: {alertname: 'Watchdog', severity: 'none'}},
        ]),
      })
      expect(post.ok).toBe(true)
      await waitFor(() => received.length > 0, {timeoutMs: 20_000, what: `a webhook call (alertmanager log: ${am.log().slice(-500)})`})
      // Give a wrongly routed group the same chance to arrive before asserting there is none.
      await waitFor(
        async () => {
          const groups = (await (await fetch(`${amUrl}/api/v2/alerts/groups`)).json()) as unknown[]
          return groups.length >= 2
        },
        {timeoutMs: 10_000, what: 'alert groups'},
      )
      expect(received[0]!.headers.authorization).toBe('Bearer tok-0123456789abcdef')
      const names = received.flatMap((x) => x.body.alerts.map((a) => a.labels.alertname))
      expect(names).toEqual(['KedaLabWorkersAtMax'])
    } finally {
      await am?.stop()
      await new Promise((resolve) => receiver.close(resolve))
    }
  })

  it('closes the chain: the rendered route delivers to the real keda-lab webhook, which messages Telegram', async () => {
    const env: NodeJS.ProcessEnv = {PATH: `${join(repoRoot, '.tools/helm3')}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir}
    const out = join(dir, 'chain')
    const r = await runCli(['render', '--output', out, '--telegram-chat-id', '42', '-n', 'lab'], {env, timeoutMs: 60_000})
    expect(r.code).toBe(0)
    const config = parse(readFileSync(join(out, 'values', 'kube-prometheus-stack.yaml'), 'utf8')).alertmanager.config
    const webhook = config.receivers.find((x: {name: string}) => x.name === 'keda-lab-webhook').webhook_configs[0]

    const botToken = '123456789:AAchainTestTokenChainTestTokenChainT'
    const webhookToken = 'chain-webhook-token-0123456789abcdef'
    const telegram = await startFakeTelegram({token: botToken})
    // Every process is started inside the try, so that the finally stops it whatever fails.
    let service: ServeProcess | undefined
    let am: Alertmanager | undefined
    try {
      const webhookPort = await freePort()
      service = spawnServe('webhook', {
        PORT: String(webhookPort),
        METRICS_PORT: String(await freePort()),
        HOST: '127.0.0.1',
        TELEGRAM_BOT_TOKEN: botToken,
        TELEGRAM_CHAT_IDS: '42',
        TELEGRAM_API_URL: telegram.url,
        WEBHOOK_TOKEN: webhookToken,
      })
      // The token file is what Alertmanager mounts from the Secret keda-lab-webhook-token.
      writeFileSync(join(out, 'token'), webhookToken)
      webhook.url = `http://127.0.0.1:${webhookPort}/alerts`
      webhook.http_config.authorization.credentials_file = join(out, 'token')
      config.route.group_wait = '0s'

      await waitUntilReady(service, {http: `http://127.0.0.1:${webhookPort}/healthz`}, 30_000)
      am = await startAlertmanager({config: stringify(config)})
      const post = await fetch(`${am.url}/api/v2/alerts`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify([
          {
            labels: {alertname: 'KedaLabTaskFailures', keda_lab: 'true', severity: 'warning', namespace: 'lab'},
            annotations: {summary: 'Tasks are failing', description: '3 tasks failed in 5 minutes'},
          },
        ]),
      })
      expect(post.ok).toBe(true)
      const [message] = await telegram.waitForCalls(1, {method: 'sendMessage', timeoutMs: 30_000})
      expect(String(message!.chat_id)).toBe('42')
      expect(message!.text).toContain('KedaLabTaskFailures')
      expect(message!.text).toContain('Tasks are failing')
    } finally {
      await am?.stop()
      if (service) await stopProcess(service.child)
      await telegram.close()
    }
  }, 90_000)
})
