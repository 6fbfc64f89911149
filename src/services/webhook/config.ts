import {z} from 'zod'

import {hostVar, intVar, logLevelVar, portVar} from '../../config/env-vars.js'
import {parseEnv} from '../../config/parse-env.js'
import {type RedisConfig, redisConfigFromEnv, redisEnvShape} from '../../config/redis.js'
import {ConfigError} from '../../errors.js'
import {DEFAULT_TELEGRAM_API_URL} from '../../adapters/telegram.js'

/**
 * The webhook's environment. Token checks only look at the shape: the values are secrets,
 * and parseEnv never echoes a variable whose name contains TOKEN.
 */
export const webhookEnvSchema = z.object({
  PORT: portVar(8080),
  METRICS_PORT: portVar(9003),
  HOST: hostVar(),
  LOG_LEVEL: logLevelVar(),
  TELEGRAM_BOT_TOKEN: z
    .string({message: 'is required (the token @BotFather gave you)'})
    .trim()
    .regex(/^\d{3,20}:[A-Za-z0-9_-]{30,64}$/, 'does not look like a bot token: expected <bot id digits>:<about 35 letters, digits, "_" or "-">')
    .describe('123456789:AAExampleExampleExampleExampleExam (from @BotFather)'),
  TELEGRAM_CHAT_IDS: z
    .string({message: 'is required (the chats that receive the alerts)'})
    .transform((value) =>
      value
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id.length > 0),
    )
    .pipe(
      z
        .array(
          z.string().regex(/^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$/, 'must be comma-separated numeric chat ids (groups are negative) or @channelnames'),
        )
        .min(1, 'must name at least one chat id'),
    )
    .describe('123456789,-1001234567890'),
  WEBHOOK_TOKEN: z
    .string({message: 'is required (the bearer token Alertmanager sends)'})
    .min(16, 'must be at least 16 characters long')
    .max(512, 'must be at most 512 characters long')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .describe('"$(openssl rand -hex 24)"'),
  TELEGRAM_API_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be an http:// or https:// URL')
    .default(DEFAULT_TELEGRAM_API_URL)
    .describe(DEFAULT_TELEGRAM_API_URL),
  TELEGRAM_TIMEOUT_MS: intVar(100, 60_000, 5000, 'milliseconds'),
  TELEGRAM_RETRY_BUDGET_MS: intVar(100, 120_000, 20_000, 'milliseconds'),
  TELEGRAM_DEDUPE_WINDOW_MS: intVar(0, 3_600_000, 120_000, 'milliseconds'),
  TELEGRAM_MAX_ATTEMPTS: z.coerce
    .number({message: 'must be a number'})
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(10, 'must be at most 10')
    .default(4)
    .describe('4'),
  // Redis (optional for the webhook): where it remembers the message ids it sent per alert, so a
  // resolved notification replies to its firing message across restarts and replicas.
  // Unlike the API and worker, no default: without it, the webhook remembers in its own memory.
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL')
    .optional()
    .describe('redis://127.0.0.1:6379'),
  REDIS_SENTINELS: redisEnvShape.REDIS_SENTINELS,
  REDIS_SENTINEL_MASTER: redisEnvShape.REDIS_SENTINEL_MASTER,
  REDIS_PASSWORD: redisEnvShape.REDIS_PASSWORD,
  REDIS_SENTINEL_PASSWORD: redisEnvShape.REDIS_SENTINEL_PASSWORD,
  QUEUE_NAME: redisEnvShape.QUEUE_NAME,
  MESSAGE_RETENTION_SECONDS: intVar(60, 90 * 86_400, 7 * 86_400, 'seconds'),
  ALERTMANAGER_URL: httpUrlVar('http://kube-prometheus-stack-alertmanager.keda-monitoring.svc:9093'),
  GRAFANA_DASHBOARD_URL: httpUrlVar('http://localhost:3000/d/keda-lab-keda'),
  PROMETHEUS_URL: httpUrlVar('http://localhost:9090'),
  TELEGRAM_UPDATES: z.enum(['auto', 'polling', 'webhook', 'off'], {message: 'must be auto, polling, webhook or off'}).default('auto').describe('auto'),
  TELEGRAM_WEBHOOK_URL: z
    .string()
    .regex(/^https:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be the public https:// URL of POST /telegram/updates')
    .optional()
    .describe('https://lab.example.com/telegram/updates'),
  TELEGRAM_POLL_TIMEOUT_SECONDS: intVar(0, 50, 25, 'seconds'),
  CALLBACK_MAX_AGE_SECONDS: intVar(60, 30 * 86_400, 7 * 86_400, 'seconds'),
  STATUS_NAMESPACE: namespaceVar('keda-lab'),
  STATUS_MONITORING_NAMESPACE: namespaceVar('keda-monitoring'),
})

/** A Kubernetes namespace name (an RFC 1123 label). */
function namespaceVar(example: string) {
  return z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a Kubernetes namespace name (lower-case letters, digits and "-", at most 63)')
    .optional()
    .describe(example)
}

function httpUrlVar(example: string) {
  return z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be an http:// or https:// URL')
    .optional()
    .describe(example)
}

/** The webhook's validated configuration. */
export interface WebhookConfig {
  host: string
  port: number
  metricsPort: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** Expected bearer token on every alert endpoint. Secret. */
  webhookToken: string
  telegram: {
    /** Secret: never log it; it is also part of every Bot API URL. */
    botToken: string
    chatIds: string[]
    apiUrl: string
    /** Per-request timeout. */
    timeoutMs: number
    /** Upper bound on the time one notification may spend retrying, so Alertmanager's request does not time out first. */
    retryBudgetMs: number
    maxAttempts: number
    /** How long a delivered alert message is remembered so that Alertmanager's resend after a partial failure does not repeat it (0: off). */
    dedupeWindowMs: number
    /**
     * How button presses and commands reach the webhook: `polling` (getUpdates, one replica at a
     * time), `webhook` (Telegram POSTs to `webhookUrl`), or `off` (no buttons are offered).
     */
    updates: 'polling' | 'webhook' | 'off'
    /** The public URL Telegram posts updates to (mode `webhook`). */
    webhookUrl?: string
    pollTimeoutSeconds: number
  }
  /** Where message ids are remembered; none: in this process only (lost on restart). */
  redis?: RedisConfig
  /** BullMQ queue name, for `/status`. */
  queueName: string
  /** How long message ids per alert (and used button presses) are kept. */
  retentionSeconds: number
  /** Alertmanager's API, for silences; none: no buttons. */
  alertmanagerUrl?: string
  /** Links in every message. */
  links: {grafanaDashboardUrl?: string; prometheusUrl?: string}
  /** A button press older than this is refused. */
  callbackMaxAgeSeconds: number
  /**
   * Where `/status` reads the lab like `keda-lab status -n <namespace>` does (through the pod's
   * ServiceAccount, or KUBECONFIG); none: `/status` shows only the alerts and the queue.
   */
  clusterStatus?: {namespace: string; monitoringNamespace: string}
}

/** Validates the environment (one ConfigError line on the first problem) and shapes the config. */
export function loadWebhookConfig(env: NodeJS.ProcessEnv): WebhookConfig {
  const parsed = parseEnv(webhookEnvSchema, env)
  if (parsed.PORT === parsed.METRICS_PORT) {
    throw new ConfigError(
      `METRICS_PORT is ${parsed.METRICS_PORT}: must differ from PORT, which is the same`,
      'set them apart, like PORT=8080 METRICS_PORT=9003',
    )
  }
  const alertmanagerUrl = parsed.ALERTMANAGER_URL?.replace(/\/+$/, '')
  const updates = parsed.TELEGRAM_UPDATES !== 'auto' ? parsed.TELEGRAM_UPDATES : !alertmanagerUrl ? 'off' : parsed.TELEGRAM_WEBHOOK_URL ? 'webhook' : 'polling'
  if (updates === 'webhook' && !parsed.TELEGRAM_WEBHOOK_URL) {
    throw new ConfigError(
      'TELEGRAM_UPDATES is webhook but TELEGRAM_WEBHOOK_URL is not set',
      'set TELEGRAM_WEBHOOK_URL=https://<public host>/telegram/updates, or TELEGRAM_UPDATES=polling',
    )
  }
  if (updates !== 'off' && !alertmanagerUrl) {
    throw new ConfigError(
      `TELEGRAM_UPDATES is ${updates} but ALERTMANAGER_URL is not set: the buttons create silences through Alertmanager`,
      'set ALERTMANAGER_URL=http://<alertmanager>:9093, or TELEGRAM_UPDATES=off',
    )
  }
  const redisWanted = Boolean(parsed.REDIS_URL || parsed.REDIS_SENTINELS)
  return {
    host: parsed.HOST,
    port: parsed.PORT,
    metricsPort: parsed.METRICS_PORT,
    logLevel: parsed.LOG_LEVEL,
    webhookToken: parsed.WEBHOOK_TOKEN,
    telegram: {
      botToken: parsed.TELEGRAM_BOT_TOKEN,
      chatIds: parsed.TELEGRAM_CHAT_IDS,
      apiUrl: parsed.TELEGRAM_API_URL.replace(/\/+$/, ''),
      timeoutMs: parsed.TELEGRAM_TIMEOUT_MS,
      retryBudgetMs: parsed.TELEGRAM_RETRY_BUDGET_MS,
      maxAttempts: parsed.TELEGRAM_MAX_ATTEMPTS,
      dedupeWindowMs: parsed.TELEGRAM_DEDUPE_WINDOW_MS,
      updates,
      webhookUrl: parsed.TELEGRAM_WEBHOOK_URL,
      pollTimeoutSeconds: parsed.TELEGRAM_POLL_TIMEOUT_SECONDS,
    },
    // The webhook's writes are a convenience (threading): no replica acknowledgement wanted.
    redis: redisWanted
      ? redisConfigFromEnv({...parsed, REDIS_URL: parsed.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_WAIT_REPLICAS: 0, REDIS_WAIT_TIMEOUT_MS: 1000})
      : undefined,
    queueName: parsed.QUEUE_NAME,
    retentionSeconds: parsed.MESSAGE_RETENTION_SECONDS,
    alertmanagerUrl,
    links: {
      grafanaDashboardUrl: parsed.GRAFANA_DASHBOARD_URL,
      prometheusUrl: parsed.PROMETHEUS_URL?.replace(/\/+$/, ''),
    },
    callbackMaxAgeSeconds: parsed.CALLBACK_MAX_AGE_SECONDS,
    clusterStatus: parsed.STATUS_NAMESPACE
      ? {namespace: parsed.STATUS_NAMESPACE, monitoringNamespace: parsed.STATUS_MONITORING_NAMESPACE ?? 'keda-monitoring'}
      : undefined,
  }
}
