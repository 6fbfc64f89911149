import {createHash, randomUUID} from 'node:crypto'

import type {Kube, ServiceProxyRequest, ServiceProxyResponse} from '../../adapters/kube/index.js'
import {KedaLabError} from '../../errors.js'

/**
 * `keda-lab alert test`: sends a test alert the way a real one travels and reports whether
 * Telegram accepted it, so the wiring can be checked before a real alert.
 *
 * - `local`: straight to a running `keda-lab dev` stack's webhook (`POST /alerts`, bearer token),
 *   which answers only once Telegram accepted or refused the message.
 * - `cluster`: into the installed Alertmanager through the API server's service proxy, like
 *   Prometheus would; Alertmanager routes it (label `keda_lab="true"`) to the webhook, and the
 *   webhook is then asked, through the same proxy, which Telegram messages it sent about that
 *   alert (`GET /alerts/<fingerprint>/messages`).
 *
 * `resolve` follows with the resolved notification, which the webhook threads under the firing one.
 */
export const TEST_ALERTNAME = 'KedaLabTestAlert'

export interface LocalTarget {
  kind: 'local'
  /** The webhook's base URL, e.g. http://127.0.0.1:34567 (what `keda-lab dev` prints). */
  url: string
  /** Secret: the dev stack's WEBHOOK_TOKEN. */
  webhookToken: string
}

export interface ClusterTarget {
  kind: 'cluster'
  kube: Pick<Kube, 'proxyService' | 'getSecretData'>
  namespace: string
  monitoringNamespace: string
  /** Where the app's Secret, Alertmanager and the webhook are; defaults match `keda-lab install`. */
  names?: Partial<ClusterNames>
}

export interface ClusterNames {
  secret: string
  alertmanagerService: string
  alertmanagerPort: number
  webhookService: string
  webhookPort: number
}

export const DEFAULT_CLUSTER_NAMES: ClusterNames = {
  secret: 'keda-lab-secrets',
  alertmanagerService: 'kube-prometheus-stack-alertmanager',
  alertmanagerPort: 9093,
  webhookService: 'keda-lab-webhook',
  webhookPort: 8080,
}

export interface AlertTestOptions {
  target: LocalTarget | ClusterTarget
  resolve: boolean
  /** How long to wait for Alertmanager and the webhook (cluster: group_wait is 10 s or more). */
  timeoutMs: number
  /** Pause between polls (cluster). */
  pollMs?: number
  /** Unique id of this test (label `test_id`); default a random UUID. */
  id?: string
  now?: () => Date
}

export interface StepResult {
  /** Did Telegram accept the message(s)? */
  accepted: boolean
  /** Messages per chat and chats (local), or the messages the webhook reports (cluster). */
  messages: number
  chats: number
  /** In how many chats the resolved message replied to the firing one. */
  threaded?: number
  /** What went wrong, when not accepted; safe to print (no token). */
  detail?: string
}

export interface AlertTestResult {
  via: 'webhook' | 'alertmanager'
  alertname: string
  testId: string
  fingerprint?: string
  firing: StepResult
  resolved?: StepResult
  /** All steps accepted. */
  ok: boolean
}

/** The labels of the test alert: routed like the lab's own alerts, and told apart by `test_id`. */
export function testAlertLabels(testId: string): Record<string, string> {
  return {alertname: TEST_ALERTNAME, keda_lab: 'true', severity: 'info', source: 'keda-lab alert test', test_id: testId}
}

const ANNOTATIONS = {
  summary: 'Test notification from keda-lab alert test',
  description: 'The alert chain works: this message went through the keda-lab webhook to Telegram. Nothing needs doing.',
}

export async function runAlertTest(options: AlertTestOptions): Promise<AlertTestResult> {
  const testId = options.id ?? randomUUID()
  return options.target.kind === 'local' ? viaWebhook(options, options.target, testId) : viaAlertmanager(options, options.target, testId)
}

// ---------------------------------------------------------------------------------------------
// Local: straight to the webhook

async function viaWebhook(options: AlertTestOptions, target: LocalTarget, testId: string): Promise<AlertTestResult> {
  const base = target.url.replace(/\/+$/, '').replace(/\/alerts$/, '')
  const now = options.now ?? (() => new Date())
  const labels = testAlertLabels(testId)
  const fingerprint = createHash('sha256').update(testId).digest('hex').slice(0, 16)
  const startsAt = now().toISOString()
  const payload = (status: 'firing' | 'resolved') => ({
    version: '4',
    groupKey: `{}:{alertname="${TEST_ALERTNAME}",test_id="${testId}"}`,
    status,
    receiver: 'keda-lab-alert-test',
    groupLabels: {alertname: TEST_ALERTNAME},
    commonLabels: labels,
    commonAnnotations: ANNOTATIONS,
    externalURL: base,
    alerts: [{status, labels, annotations: ANNOTATIONS, startsAt, endsAt: status === 'resolved' ? now().toISOString() : '0001-01-01T00:00:00Z', fingerprint}],
  })
  const firing = await postToWebhook(base, target.webhookToken, payload('firing'), options.timeoutMs)
  const resolved = options.resolve && firing.accepted ? await postToWebhook(base, target.webhookToken, payload('resolved'), options.timeoutMs) : undefined
  return {via: 'webhook', alertname: TEST_ALERTNAME, testId, fingerprint, firing, resolved, ok: firing.accepted && (resolved?.accepted ?? true)}
}

async function postToWebhook(base: string, token: string, body: object, timeoutMs: number): Promise<StepResult> {
  let response: Response
  try {
    response = await fetch(`${base}/alerts`, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${token}`},
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError'
    throw new KedaLabError(timedOut ? `the webhook at ${base} did not answer within ${timeoutMs} ms` : `no webhook answers at ${base}`, {
      hint: 'start the dev stack with a Telegram token (keda-lab dev --telegram-token … --telegram-chat-ids …) and pass the Webhook URL it prints: keda-lab alert test --local <url>',
    })
  }
  const answer = (await response.json().catch(() => ({}))) as {result?: {messages?: number; chats?: number; threaded?: number}; error?: {message?: string}}
  if (response.status === 401) {
    throw new KedaLabError(`the webhook at ${base} refused the bearer token`, {
      hint: 'pass the token the dev stack uses: WEBHOOK_TOKEN=<token> keda-lab alert test --local <url> (keda-lab dev takes WEBHOOK_TOKEN from its environment)',
    })
  }
  if (response.status === 404) {
    throw new KedaLabError(`${base} is not a keda-lab webhook: POST /alerts answered 404 there`, {
      hint: 'the webhook is elsewhere: pass the Webhook URL keda-lab dev printed (keda-lab status --local shows the dev stack)',
    })
  }
  if (response.ok) {
    return {accepted: true, messages: answer.result?.messages ?? 0, chats: answer.result?.chats ?? 0, threaded: answer.result?.threaded}
  }
  return {accepted: false, messages: 0, chats: 0, detail: `the webhook answered ${response.status}: ${answer.error?.message ?? 'no detail'}`}
}

// ---------------------------------------------------------------------------------------------
// Cluster: into Alertmanager through the API server's service proxy

async function viaAlertmanager(options: AlertTestOptions, target: ClusterTarget, testId: string): Promise<AlertTestResult> {
  const names = {...DEFAULT_CLUSTER_NAMES, ...target.names}
  const now = options.now ?? (() => new Date())
  const pollMs = options.pollMs ?? 1000
  const labels = testAlertLabels(testId)
  const {alertmanager, webhook} = await clusterEndpoints(target, names)

  const startsAt = now().toISOString()
  const post = async (endsAt?: string) => {
    const response = await alertmanager({
      method: 'POST',
      path: '/api/v2/alerts',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify([{labels, annotations: ANNOTATIONS, startsAt, ...(endsAt ? {endsAt} : {})}]),
    })
    if (response.status >= 300)
      throw new KedaLabError(`Alertmanager refused the test alert (${response.status}): ${response.body.slice(0, 200)}`, {
        hint: 'keda-lab doctor checks the monitoring stack',
      })
  }

  await post()
  const deadline = Date.now() + options.timeoutMs
  const filter = `test_id="${testId}"`
  const fingerprint = await poll(deadline, pollMs, async () => {
    const response = await alertmanager({path: '/api/v2/alerts', query: {filter}})
    const alerts = JSON.parse(response.body || '[]') as {fingerprint: string}[]
    return alerts[0]?.fingerprint
  })
  if (!fingerprint) {
    return {
      via: 'alertmanager',
      alertname: TEST_ALERTNAME,
      testId,
      firing: {accepted: false, messages: 0, chats: 0, detail: `Alertmanager did not list the test alert within ${options.timeoutMs} ms`},
      ok: false,
    }
  }
  const messagesPath = `/alerts/${encodeURIComponent(fingerprint)}/messages`
  const delivered = await deliveredMessages(webhook, messagesPath, names.secret, deadline, pollMs)
  const firing: StepResult = delivered
    ? {accepted: true, messages: delivered.length, chats: new Set(delivered.map((m) => m.chatId)).size}
    : {
        accepted: false,
        messages: 0,
        chats: 0,
        detail: `no Telegram message about the test alert within ${options.timeoutMs} ms: see kubectl logs -n ${target.namespace} deploy/${names.webhookService}`,
      }

  let resolved: StepResult | undefined
  if (options.resolve && firing.accepted) {
    await post(now().toISOString())
    // The webhook forgets an alert's messages once its resolved message reached every chat.
    const gone = await poll(Date.now() + options.timeoutMs, pollMs, async () => ((await webhook(messagesPath)).status === 404 ? true : undefined))
    resolved = gone
      ? {accepted: true, messages: firing.chats, chats: firing.chats}
      : {accepted: false, messages: 0, chats: 0, detail: `the resolved message was not confirmed within ${options.timeoutMs} ms`}
  }
  return {via: 'alertmanager', alertname: TEST_ALERTNAME, testId, fingerprint, firing, resolved, ok: firing.accepted && (resolved?.accepted ?? true)}
}

type Proxy<R> = (request: R) => Promise<ServiceProxyResponse>

/**
 * Alertmanager and the webhook through the API server's service proxy; the webhook's calls carry
 * the token from the lab's Secret, read once here (a missing one is the user's error to fix).
 */
async function clusterEndpoints(
  target: ClusterTarget,
  names: ClusterNames,
): Promise<{alertmanager: Proxy<Omit<ServiceProxyRequest, 'namespace' | 'service' | 'port'>>; webhook: Proxy<string>}> {
  const secret = await target.kube.getSecretData(target.namespace, names.secret)
  const webhookToken = secret?.['webhook-token']
  if (!webhookToken) {
    throw new KedaLabError(`no webhook token in Secret ${target.namespace}/${names.secret}`, {
      hint: 'is the lab installed with the webhook? keda-lab install --telegram-token … --telegram-chat-id … (or keda-lab doctor)',
    })
  }
  return {
    alertmanager: (request) =>
      proxy(target, {namespace: target.monitoringNamespace, service: names.alertmanagerService, port: names.alertmanagerPort, ...request}, 'Alertmanager'),
    webhook: (path) =>
      proxy(
        target,
        {namespace: target.namespace, service: names.webhookService, port: names.webhookPort, path, headers: {authorization: `Bearer ${webhookToken}`}},
        'the webhook',
      ),
  }
}

/**
 * Asks the webhook, until `deadline`, which Telegram messages it sent for the alert (404 until it
 * has sent some); undefined when none by then.
 */
async function deliveredMessages(
  webhook: Proxy<string>,
  messagesPath: string,
  secretName: string,
  deadline: number,
  pollMs: number,
): Promise<{chatId: string; messageId: number}[] | undefined> {
  return poll(deadline, pollMs, async () => {
    const response = await webhook(messagesPath)
    if (response.status === 404) return undefined
    if (response.status === 401)
      throw new KedaLabError(`the webhook refused the token from Secret ${secretName}`, {
        hint: 'the webhook pods may run with an older token: kubectl rollout restart deploy/keda-lab-webhook',
      })
    const body = JSON.parse(response.body) as {result: {messages: {chatId: string; messageId: number}[]}}
    return body.result.messages
  })
}

async function proxy(target: ClusterTarget, request: ServiceProxyRequest, what: string): Promise<ServiceProxyResponse> {
  const response = await target.kube.proxyService(request)
  if (response.status === 503 || response.status === 502) {
    throw new KedaLabError(`${what} (${request.namespace}/${request.service}) is not reachable through the API server (${response.status})`, {
      hint: 'keda-lab doctor shows which part of the lab is down',
    })
  }
  return response
}

async function poll<T>(deadline: number, intervalMs: number, check: () => Promise<T | undefined>): Promise<T | undefined> {
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() + intervalMs > deadline) return undefined
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** The result as lines for the terminal. */
export function describeAlertTest(result: AlertTestResult): string[] {
  const via = result.via === 'webhook' ? 'the webhook' : 'Alertmanager'
  const step = (name: string, s: StepResult) =>
    s.accepted
      ? `√ ${name}: Telegram accepted it (${s.messages} message${s.messages === 1 ? '' : 's'}, ${s.chats} chat${s.chats === 1 ? '' : 's'}${s.threaded ? `, replying to the firing message in ${s.threaded}` : ''})`
      : `× ${name}: not accepted — ${s.detail ?? 'no detail'}`
  const lines = [`Sent test alert ${result.alertname} (test_id ${result.testId}) through ${via}`, step('firing', result.firing)]
  if (result.resolved) lines.push(step('resolved', result.resolved))
  return lines
}
