/**
 * Start-up of a `keda-lab dev` run, in order: the API's port, a local Redis (unless --redis-url),
 * then the API, the first workers and the webhook; each waited for until it answers, so that the
 * URLs printed next work at once.
 */
import {randomBytes} from 'node:crypto'

import {KedaLabError} from '../../errors.js'
import {pingRedis, type RedisDataDir, redisDataDir, redisServerArgs} from './local-redis.js'
import {findOnPath, freePort, httpOk, isPortFree, pollUntil} from './net.js'
import {baseEnv, type DevOptions, serve} from './options.js'
import type {Stack} from './stack.js'

/** The API port first: a busy port is the most likely mistake, caught before anything starts. */
export async function claimApiPort(port: number): Promise<number> {
  if (port === 0) return freePort()
  if (!(await isPortFree(port))) {
    throw new KedaLabError(`port ${port} is already in use, so the API cannot listen on it`, {
      hint: `pass --api-port 0 to pick a free port (or --api-port 8080), or stop what listens on ${port}`,
    })
  }
  return port
}

/** Starts redis-server on a free loopback port with its AOF in the run's folder; waits for PONG. */
export async function startLocalRedis(stack: Stack, options: Pick<DevOptions, 'env' | 'dataDir'>): Promise<{url: string; data: RedisDataDir}> {
  const binary = findOnPath('redis-server', options.env.PATH)
  if (!binary) {
    throw new KedaLabError('redis-server was not found on PATH; keda-lab dev starts a local Redis with it', {
      hint: 'install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), or pass --redis-url redis://HOST:6379 to use a running Redis',
    })
  }
  const port = await freePort()
  const data = redisDataDir(options.dataDir)
  try {
    const redis = await stack.start({name: 'redis', command: binary, args: redisServerArgs(port, data.dir), env: options.env})
    const url = `redis://127.0.0.1:${port}`
    const up = await pollUntil(() => pingRedis(url), {timeoutMs: 10_000, abort: stack.end.interrupted})
    if (!up.ok) throw stack.startupError('redis', up.reason)
    stack.say(`started redis (pid ${redis.pid})`)
    return {url, data}
  } catch (error) {
    // The caller's cleanup knows only a Redis that started: the folder must not outlive a failure.
    await stack.supervisor.stop('redis', 2000)
    data.remove()
    throw error
  }
}

/** What the API and webhook children were given. */
export interface Services {
  apiUrl: string
  apiMetricsPort: number
  webhook?: WebhookService
}

/** The webhook dev started, with its bearer token and where that token came from (for the banner). */
export interface WebhookService {
  url: string
  metricsPort: number
  token: string
  tokenFrom: string
}

/** The API, the first workers and the webhook; resolves once the API (and webhook) answer /healthz. */
export async function startServices(stack: Stack, options: DevOptions, redisUrl: string, apiPort: number): Promise<Services> {
  const childEnv = {...baseEnv(options), REDIS_URL: redisUrl}
  const apiMetricsPort = await freePort()
  const api = await stack.start({
    name: 'api',
    ...serve(options, 'api'),
    // Loopback only: a development stack is not for the network (the container image binds 0.0.0.0).
    env: {...childEnv, HOST: '127.0.0.1', PORT: String(apiPort), METRICS_PORT: String(apiMetricsPort)},
  })
  const apiUrl = `http://127.0.0.1:${apiPort}`
  stack.say(`started api (pid ${api.pid})`)

  const initialWorkers = options.autoscale ? options.autoscale.minWorkers : options.workers
  for (let i = 0; i < initialWorkers; i++) {
    const worker = await stack.workers.add()
    stack.say(`started ${worker.name} (pid ${worker.pid})`)
  }

  const webhook = options.telegram ? await startWebhook(stack, options, options.telegram, childEnv) : undefined

  // Ready when the API and the webhook answer, so that the URLs printed next work at once (the
  // workers report their own start in the log).
  const ready = (url: string) => pollUntil(() => httpOk(`${url}/healthz`), {timeoutMs: 60_000, intervalMs: 200, abort: stack.end.interrupted})
  const [apiUp, webhookUp] = await Promise.all([ready(apiUrl), webhook ? ready(webhook.url) : undefined])
  if (!apiUp.ok) throw stack.startupError('api', apiUp.reason)
  if (webhookUp && !webhookUp.ok) throw stack.startupError('webhook', webhookUp.reason)
  return {apiUrl, apiMetricsPort, webhook}
}

/** The webhook on free loopback ports, with WEBHOOK_TOKEN or a token generated for this run. */
async function startWebhook(
  stack: Pick<Stack, 'start' | 'say'>,
  options: DevOptions,
  telegram: NonNullable<DevOptions['telegram']>,
  childEnv: NodeJS.ProcessEnv,
): Promise<WebhookService> {
  const port = await freePort()
  const metricsPort = await freePort()
  const token = options.env.WEBHOOK_TOKEN || randomBytes(24).toString('base64url')
  const child = await stack.start({
    name: 'webhook',
    ...serve(options, 'webhook'),
    env: {
      ...childEnv,
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_CHAT_IDS: telegram.chatIds,
      WEBHOOK_TOKEN: token,
    },
  })
  stack.say(`started webhook (pid ${child.pid})`)
  return {
    url: `http://127.0.0.1:${port}`,
    metricsPort,
    token,
    tokenFrom: options.env.WEBHOOK_TOKEN
      ? 'WEBHOOK_TOKEN'
      : 'generated for this run and kept in its state file, where `keda-lab alert test --local URL` finds it; set WEBHOOK_TOKEN to choose it',
  }
}
