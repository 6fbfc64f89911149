/**
 * The lab's Secrets: generated once (crypto.randomBytes), read back from the cluster on every later
 * run so that a second install keeps them (a new Redis password would lock the app out of its data).
 * Values live only in memory and in the Secrets; everything printed goes through `maskSecrets`.
 */
import {randomBytes} from 'node:crypto'

import type {Kube} from '../../adapters/kube/index.js'
import {SECRET_NAMES} from '../values/render.js'

/** One Secret install applies. */
export interface SecretSpec {
  namespace: string
  name: string
  data: Record<string, string>
  /** Per key: where the value came from (printed instead of the value). */
  origin: Record<string, 'given' | 'kept' | 'generated' | 'empty'>
}

export interface ExistingSecrets {
  app?: Record<string, string>
  webhookToken?: Record<string, string>
  grafana?: Record<string, string>
}

/** Reads the Secrets of an earlier install (read-only: also under --dry-run). */
export async function readExistingSecrets(kube: Pick<Kube, 'getSecretData'>, appNamespace: string, monitoringNamespace: string): Promise<ExistingSecrets> {
  const [app, webhookToken, grafana] = await Promise.all([
    kube.getSecretData(appNamespace, SECRET_NAMES.app),
    kube.getSecretData(monitoringNamespace, SECRET_NAMES.webhookToken),
    kube.getSecretData(monitoringNamespace, SECRET_NAMES.grafana),
  ])
  return {app, webhookToken, grafana}
}

/** A random URL-safe secret of `bytes` bytes of entropy. */
export function generateSecret(bytes = 24, random: (n: number) => Buffer = randomBytes): string {
  return random(bytes).toString('base64url')
}

export interface SecretInputs {
  appNamespace: string
  monitoringNamespace: string
  monitoring: boolean
  telegramToken?: string
  /** Optional overrides from KEDA_LAB_REDIS_PASSWORD / KEDA_LAB_WEBHOOK_TOKEN / KEDA_LAB_GRAFANA_ADMIN_PASSWORD. */
  redisPassword?: string
  webhookToken?: string
  grafanaAdminPassword?: string
  existing: ExistingSecrets
  random?: (n: number) => Buffer
}

/** Decides every secret value: given > kept from the cluster > generated. */
export function resolveSecrets(input: SecretInputs): SecretSpec[] {
  const gen = () => generateSecret(24, input.random)
  const pick = (given: string | undefined, kept: string | undefined): [string, SecretSpec['origin'][string]] =>
    given ? [given, 'given'] : kept ? [kept, 'kept'] : [gen(), 'generated']

  const [redisPassword, redisOrigin] = pick(input.redisPassword, input.existing.app?.['redis-password'])
  // One webhook token in two Secrets (the app's and Alertmanager's): they must stay equal.
  const [webhookToken, webhookOrigin] = pick(input.webhookToken, input.existing.app?.['webhook-token'] ?? input.existing.webhookToken?.token)
  const keptTelegram = input.existing.app?.['telegram-bot-token']
  const telegram = input.telegramToken ?? keptTelegram ?? ''
  const telegramOrigin = input.telegramToken ? (input.telegramToken === keptTelegram ? 'kept' : 'given') : telegram ? 'kept' : 'empty'

  const specs: SecretSpec[] = [
    {
      namespace: input.appNamespace,
      name: SECRET_NAMES.app,
      data: {'redis-password': redisPassword, 'telegram-bot-token': telegram, 'webhook-token': webhookToken},
      origin: {'redis-password': redisOrigin, 'telegram-bot-token': telegramOrigin, 'webhook-token': webhookOrigin},
    },
  ]
  if (input.monitoring) {
    const [grafanaPassword, grafanaOrigin] = pick(input.grafanaAdminPassword, input.existing.grafana?.['admin-password'])
    specs.push(
      {namespace: input.monitoringNamespace, name: SECRET_NAMES.webhookToken, data: {token: webhookToken}, origin: {token: webhookOrigin}},
      {
        namespace: input.monitoringNamespace,
        name: SECRET_NAMES.grafana,
        data: {'admin-user': input.existing.grafana?.['admin-user'] ?? 'admin', 'admin-password': grafanaPassword},
        origin: {'admin-user': input.existing.grafana?.['admin-user'] ? 'kept' : 'generated', 'admin-password': grafanaOrigin},
      },
    )
  }
  return specs
}

/** Every secret value in the specs (non-empty), for masking. */
export function secretValues(specs: readonly SecretSpec[], extra: (string | undefined)[] = []): string[] {
  const values = new Set<string>()
  for (const spec of specs) for (const [key, value] of Object.entries(spec.data)) if (value && key !== 'admin-user') values.add(value)
  for (const value of extra) if (value) values.add(value)
  return [...values]
}

/** Replaces every occurrence of a secret value by ******** (defence in depth on everything printed). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('********')
  return out
}
