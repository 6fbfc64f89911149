/**
 * The answers `keda-lab install` needs, as data: one spec per answer with its flag, its KEDA_LAB_*
 * environment variable, its key in a `--values` file, its default, its prompt and ONE validator used
 * both by the prompt (rejects a wrong answer on the spot) and by flags/env/file values.
 *
 * Precedence: flag > environment > --values file > prompt > default.
 */
import {ConfigError} from '../../errors.js'
import {formatScalingRules, parseScalingRules, type ScalingRules} from './behavior.js'

/** Where an answer came from (printed by --dry-run, asserted by the precedence tests). */
export type AnswerSource = 'flag' | 'env' | 'values' | 'prompt' | 'default' | 'cluster'

export type Expose = 'LoadBalancer' | 'NodePort' | 'Ingress'

/** Every answer, resolved. */
export interface InstallAnswers {
  webhook: boolean
  /** Secret: never printed. Undefined when the webhook is off. */
  telegramToken?: string
  telegramChatIds: string[]
  workerMinReplicas: number
  workerMaxReplicas: number
  tasksPerReplica: number
  scaleToZero: boolean
  /** The worker HPA's (KEDA's) scale-up / scale-down rules; undefined = Kubernetes' defaults. */
  workerScaleUp?: ScalingRules
  workerScaleDown?: ScalingRules
  apiMinReplicas: number
  apiMaxReplicas: number
  apiCpuTarget: number
  /** The API HPA's scale-up / scale-down rules; undefined = Kubernetes' defaults. */
  apiScaleUp?: ScalingRules
  apiScaleDown?: ScalingRules
  redisReplicas: number
  /** Redis replicas that must hold a task before the API accepts it (only with 2+ Redis pods). */
  redisWaitReplicas?: number
  redisPersistence: boolean
  /**
   * StorageClass of every PersistentVolumeClaim the lab's charts create (Redis's, Loki's); undefined:
   * the cluster's default. Only with persistence on.
   */
  storageClass?: string
  monitoring: boolean
  expose: Expose
  ingressHost?: string
  image?: string
  /** Name of a kubernetes.io/dockerconfigjson Secret in the app namespace to pull the image with. */
  imagePullSecret?: string
}

export type AnswerKey = keyof InstallAnswers

type Raw = string | number | boolean | string[]

/** What every answer's definition holds, whatever its kind (see OptionSpec). */
interface OptionSpecFields {
  key: AnswerKey
  /** Flag name without dashes; also the key in a --values file (camelCase `key` is accepted too). */
  flag: string
  /** KEDA_LAB_ + the flag in upper snake case (derived, never spelled by hand). */
  env: string
  description: string
  /** Value when nothing else gives one; undefined = no default. */
  defaultValue?: (answers: Partial<InstallAnswers>) => unknown
  /** Validates and converts; throws Error(message) — the same for prompts and flags. */
  parse: (raw: Raw, answers: Partial<InstallAnswers>) => unknown
  /** Whether the answer applies given the earlier ones (ingress host only with Ingress, ...). */
  applies?: (answers: Partial<InstallAnswers>) => boolean
  /** Required when it applies and has no default: its name in the error, and how to give it. */
  label?: string
  missingHint?: string
  prompt: string
  /** false: never asked at the prompt (a rarely changed answer, given by flag, env or --values); default true. */
  prompted?: boolean
  /** How `--dry-run` shows a parsed value that is not plain text (default String(value)). */
  show?: (value: unknown) => string
}

/** An answer picked from a fixed list: the list is part of its type, so a choice always has one. */
interface ChoiceSpec extends OptionSpecFields {
  kind: 'choice'
  choices: readonly string[]
}

/** Any other answer (typed text, a number, yes/no, a list, the secret token). */
interface FreeSpec extends OptionSpecFields {
  kind: 'string' | 'secret' | 'integer' | 'boolean' | 'list'
}

/** One answer's definition. */
export type OptionSpec = ChoiceSpec | FreeSpec

/** A definition before its KEDA_LAB_* variable is derived from the flag. */
type SpecDraft = Omit<ChoiceSpec, 'env'> | Omit<FreeSpec, 'env'>

function integer(min: number, max: number, extra?: (n: number, a: Partial<InstallAnswers>) => string | undefined) {
  return (raw: Raw, answers: Partial<InstallAnswers>): number => {
    const text = String(raw).trim()
    if (!/^-?\d+$/.test(text)) throw new Error(`must be a whole number between ${min} and ${max}, got "${text.slice(0, 40)}"`)
    const n = Number(text)
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`)
    const problem = extra?.(n, answers)
    if (problem) throw new Error(problem)
    return n
  }
}

/** Parses yes/no style values from env vars and files. */
export function parseBoolean(raw: Raw): boolean {
  if (typeof raw === 'boolean') return raw
  const text = String(raw).trim().toLowerCase()
  if (['true', '1', 'yes', 'y', 'on'].includes(text)) return true
  if (['false', '0', 'no', 'n', 'off'].includes(text)) return false
  throw new Error(`must be true or false, got "${text.slice(0, 40)}"`)
}

/** BotFather tokens look like `123456789:AA...` (bot id, colon, 35-ish URL-safe characters). */
export const TELEGRAM_TOKEN_PATTERN = /^\d{5,}:[\w-]{30,}$/

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/
const DNS_LABEL = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/
const IMAGE_REF = /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[\w][\w.-]{0,127})?$/

/**
 * One direction of an HPA's behavior (src/lab/install/behavior.ts): no default (Kubernetes' own),
 * not asked at the prompt.
 */
function scalingRulesSpec(key: 'apiScaleUp' | 'apiScaleDown' | 'workerScaleUp' | 'workerScaleDown', flag: string, what: string): SpecDraft {
  return {
    key,
    flag,
    kind: 'string',
    description: `${what}; items: window=<s>s, <n>pods/<s>s, <n>%/<s>s, select=max|min|disabled`,
    parse: (raw) => parseScalingRules(String(raw)),
    prompt: what,
    prompted: false,
    show: (value) => formatScalingRules(value as ScalingRules),
  }
}

/** The install answers in prompt order. */
const SPECS: readonly SpecDraft[] = [
  {
    key: 'webhook',
    flag: 'webhook',
    kind: 'boolean',
    description: 'Deploy the Alertmanager-to-Telegram webhook (--no-webhook: no Telegram alerts, no token needed)',
    defaultValue: () => true,
    parse: parseBoolean,
    prompt: 'Send alerts to Telegram?',
  },
  {
    key: 'telegramToken',
    flag: 'telegram-token',
    kind: 'secret',
    description: 'Telegram bot token from @BotFather (kept in the Secret keda-lab-secrets, never printed)',
    applies: (a) => a.webhook !== false,
    parse(raw) {
      const text = String(raw).trim()
      if (!TELEGRAM_TOKEN_PATTERN.test(text))
        throw new Error('does not look like a bot token from @BotFather (digits, a colon, then about 35 letters, digits, - or _)')
      return text
    },
    label: 'Telegram bot token',
    missingHint: 'pass --telegram-token or set KEDA_LAB_TELEGRAM_TOKEN (or --no-webhook to install without Telegram alerts)',
    prompt: 'Telegram bot token from @BotFather',
  },
  {
    key: 'telegramChatIds',
    flag: 'telegram-chat-id',
    kind: 'list',
    description: 'Telegram chat id(s) that receive the alerts, comma-separated (e.g. 123456789 or -1001234567890)',
    applies: (a) => a.webhook !== false,
    parse(raw) {
      const items = (Array.isArray(raw) ? raw.map(String) : String(raw).split(',')).map((s) => s.trim()).filter(Boolean)
      if (items.length === 0) throw new Error('needs at least one chat id, e.g. 123456789')
      for (const item of items) {
        if (!/^-?\d{1,20}$/.test(item) && !/^@\w{5,32}$/.test(item))
          throw new Error(`"${item.slice(0, 40)}" is not a chat id (a number like 123456789 or -1001234567890, or @channelname)`)
      }
      return items
    },
    label: 'Telegram chat id',
    missingHint:
      'pass --telegram-chat-id or set KEDA_LAB_TELEGRAM_CHAT_ID (send a message to your bot, then read the chat id from https://api.telegram.org/bot<token>/getUpdates)',
    prompt: 'Telegram chat id(s) for alerts, comma-separated',
  },
  {
    key: 'workerMinReplicas',
    flag: 'worker-min-replicas',
    kind: 'integer',
    description: 'Fewest worker pods KEDA keeps (0 only with --scale-to-zero)',
    defaultValue: () => 1,
    parse: integer(0, 100),
    prompt: 'Worker replicas: minimum',
  },
  {
    key: 'workerMaxReplicas',
    flag: 'worker-max-replicas',
    kind: 'integer',
    description: 'Most worker pods KEDA may run (the "workers at maximum" alert fires there)',
    defaultValue: () => 10,
    parse: integer(1, 200, (n, a) =>
      a.workerMinReplicas !== undefined && n < a.workerMinReplicas ? `must be at least the worker minimum (${a.workerMinReplicas}), got ${n}` : undefined,
    ),
    prompt: 'Worker replicas: maximum',
  },
  {
    key: 'tasksPerReplica',
    flag: 'tasks-per-replica',
    kind: 'integer',
    description: 'Queued + running tasks per worker pod before KEDA adds one (the ScaledObject target)',
    defaultValue: () => 2,
    parse: integer(1, 1000),
    prompt: 'Tasks per worker replica (queued + running) before KEDA adds a worker',
  },
  {
    key: 'scaleToZero',
    flag: 'scale-to-zero',
    kind: 'boolean',
    description: 'Let KEDA scale the workers to zero when the queue is empty',
    defaultValue: () => false,
    parse: parseBoolean,
    prompt: 'Scale workers to zero when the queue is empty?',
  },
  scalingRulesSpec('workerScaleUp', 'worker-scale-up', 'Scale-up rules of the workers\' HPA (KEDA\'s), e.g. "window=0s,4pods/15s"'),
  scalingRulesSpec(
    'workerScaleDown',
    'worker-scale-down',
    'Scale-down rules of the workers\' HPA (KEDA\'s), e.g. "window=60s,1pods/30s" (default: a 300 s window)',
  ),
  {
    key: 'apiMinReplicas',
    flag: 'api-min-replicas',
    kind: 'integer',
    description: 'Fewest API pods (HPA minimum)',
    defaultValue: () => 1,
    parse: integer(1, 50),
    prompt: 'API replicas: minimum',
  },
  {
    key: 'apiMaxReplicas',
    flag: 'api-max-replicas',
    kind: 'integer',
    description: 'Most API pods (HPA maximum)',
    defaultValue: () => 5,
    parse: integer(1, 100, (n, a) =>
      a.apiMinReplicas !== undefined && n < a.apiMinReplicas ? `must be at least the API minimum (${a.apiMinReplicas}), got ${n}` : undefined,
    ),
    prompt: 'API replicas: maximum',
  },
  {
    key: 'apiCpuTarget',
    flag: 'api-cpu-target',
    kind: 'integer',
    description: "Average CPU utilisation (% of requests) the API's HPA aims for",
    defaultValue: () => 70,
    parse: integer(10, 100),
    prompt: 'API CPU target (% of requested CPU)',
  },
  scalingRulesSpec('apiScaleUp', 'api-scale-up', 'Scale-up rules of the API\'s HPA, e.g. "window=0s,2pods/15s"'),
  scalingRulesSpec('apiScaleDown', 'api-scale-down', 'Scale-down rules of the API\'s HPA, e.g. "window=60s,1pods/30s" (default: a 300 s window)'),
  {
    key: 'redisReplicas',
    flag: 'redis-replicas',
    kind: 'integer',
    description: 'Redis pods, each with a Sentinel (3 tolerates losing one; 1 = no failover)',
    defaultValue: () => 3,
    parse: integer(1, 7),
    prompt: 'Redis replicas (each with a Sentinel)',
  },
  {
    key: 'redisWaitReplicas',
    flag: 'redis-wait-replicas',
    kind: 'integer',
    description:
      'Redis replicas that must hold a task before the API accepts it (Redis WAIT): 1 loses no accepted task when a failover promotes a replica; 0 answers once the master has it',
    defaultValue: () => 0,
    applies: (a) => (a.redisReplicas ?? 3) >= 2,
    parse: integer(0, 6, (n, a) =>
      a.redisReplicas !== undefined && n > a.redisReplicas - 1
        ? `must be at most ${a.redisReplicas - 1} (the Redis replicas besides the master), got ${n}`
        : undefined,
    ),
    prompt: 'Redis replicas that must hold a task before the API accepts it (0: the master alone)',
  },
  {
    key: 'redisPersistence',
    flag: 'redis-persistence',
    kind: 'boolean',
    description: 'Keep Redis data (AOF) on PersistentVolumes (--no-redis-persistence for throwaway clusters)',
    defaultValue: () => true,
    parse: parseBoolean,
    prompt: 'Keep Redis data on PersistentVolumes?',
  },
  {
    key: 'storageClass',
    flag: 'storage-class',
    kind: 'string',
    description:
      "StorageClass of the lab's PersistentVolumes (Redis's, and Loki's with monitoring); default: the cluster's default StorageClass. Pre-flight checks that it exists",
    // Loki's volume follows Redis persistence (values/render.ts): without it there is no claim to class.
    applies: (a) => a.redisPersistence !== false,
    parse(raw) {
      const text = String(raw).trim()
      if (!DNS_NAME.test(text))
        throw new Error(
          `"${text.slice(0, 80)}" is not a StorageClass name (lower-case letters, digits, '-' and '.', e.g. standard); kubectl get storageclass lists them`,
        )
      return text
    },
    prompt: "StorageClass for the PersistentVolumes (empty: the cluster's default)",
  },
  {
    key: 'monitoring',
    flag: 'monitoring',
    kind: 'boolean',
    description: 'Install Prometheus, Alertmanager, Grafana, Loki and Alloy (--no-monitoring skips them)',
    defaultValue: () => true,
    parse: parseBoolean,
    prompt: 'Install monitoring (Prometheus, Alertmanager, Grafana, Loki, Alloy)?',
  },
  {
    key: 'expose',
    flag: 'expose',
    kind: 'choice',
    choices: ['LoadBalancer', 'NodePort', 'Ingress'],
    description: 'How the API is exposed: LoadBalancer (minikube tunnel, clouds), NodePort, or Ingress (with --ingress-host)',
    defaultValue: () => 'LoadBalancer',
    parse(raw) {
      const text = String(raw).trim()
      const match = ['LoadBalancer', 'NodePort', 'Ingress'].find((c) => c.toLowerCase() === text.toLowerCase())
      if (!match) throw new Error(`must be LoadBalancer, NodePort or Ingress, got "${text.slice(0, 40)}"`)
      return match
    },
    prompt: 'How should the API be exposed?',
  },
  {
    key: 'ingressHost',
    flag: 'ingress-host',
    kind: 'string',
    description: 'Host name of the API Ingress (with --expose Ingress), e.g. keda-lab.example.com',
    applies: (a) => a.expose === 'Ingress',
    parse(raw) {
      const text = String(raw).trim().toLowerCase()
      if (!DNS_NAME.test(text)) throw new Error(`"${text.slice(0, 60)}" is not a DNS host name (e.g. keda-lab.example.com)`)
      return text
    },
    label: 'ingress host',
    missingHint: 'pass --ingress-host or set KEDA_LAB_INGRESS_HOST (e.g. keda-lab.127.0.0.1.nip.io), or choose --expose LoadBalancer',
    prompt: 'Ingress host name for the API',
  },
  {
    key: 'image',
    flag: 'image',
    kind: 'string',
    description: 'Image to run (e.g. ghcr.io/you/keda-lab:0.1.0); default: build it into the cluster (minikube/kind)',
    parse(raw) {
      const text = String(raw).trim()
      if (!IMAGE_REF.test(text)) throw new Error(`"${text.slice(0, 80)}" is not an image reference (e.g. ghcr.io/you/keda-lab:0.1.0)`)
      return text
    },
    prompt: 'Image (empty: build it into the cluster)',
  },
  {
    key: 'imagePullSecret',
    flag: 'image-pull-secret',
    kind: 'string',
    description:
      'Secret (kubernetes.io/dockerconfigjson) in the app namespace with the credentials to pull the image from a private registry; pre-flight checks the image with them',
    parse(raw) {
      const text = String(raw).trim()
      if (!DNS_LABEL.test(text)) throw new Error(`"${text.slice(0, 80)}" is not a Secret name (lower-case letters, digits and '-', e.g. regcred)`)
      return text
    },
    prompt: 'Image pull secret',
    prompted: false,
  },
]

/** Every install answer: a flag, a KEDA_LAB_* variable, a --values key and a prompt. */
export const OPTION_SPECS: readonly OptionSpec[] = SPECS.map((spec) => ({...spec, env: `KEDA_LAB_${spec.flag.toUpperCase().replaceAll('-', '_')}`}))

/** Cross-field rules that a single validator cannot see (checked after every answer is known). */
function crossCheck(a: InstallAnswers): string[] {
  const problems: string[] = []
  if (a.workerMinReplicas === 0 && !a.scaleToZero) problems.push('--worker-min-replicas 0 needs --scale-to-zero (KEDA only drops to zero workers with it)')
  return problems
}

/** What the prompt layer offers (src/ui/prompts.ts implements it with @inquirer/prompts). */
export interface Prompter {
  /** Free text; `validate` returns true or the message shown under the prompt. */
  input(options: {message: string; default?: string; validate: (value: string) => Promise<true | string> | true | string}): Promise<string>
  password(options: {message: string; validate: (value: string) => Promise<true | string> | true | string}): Promise<string>
  confirm(options: {message: string; default: boolean}): Promise<boolean>
  select(options: {message: string; choices: readonly string[]; default?: string}): Promise<string>
}

export interface ResolveInput {
  /** Parsed oclif flags (undefined = not given). */
  flags: Record<string, unknown>
  env: NodeJS.ProcessEnv
  /** Contents of the --values file, already parsed (keys: flag names or camelCase keys). */
  valuesFile?: Record<string, unknown>
  /** Prompt for what is still missing (TTY, not --yes, not --json). */
  prompter?: Prompter
  /** The Telegram token already stored in the cluster (second run): used before asking again. */
  existingTelegramToken?: string
  /** `render` needs no secret: the token is neither asked nor required. */
  withoutSecrets?: boolean
  /** Checks a token typed at the prompt (getMe); returns an error message or undefined. */
  checkTelegramToken?: (token: string) => Promise<string | undefined>
}

export interface ResolvedOptions {
  answers: InstallAnswers
  sources: Record<AnswerKey, AnswerSource | undefined>
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

/** Reads a key of the --values file under its flag name or camelCase name. */
function fromValuesFile(file: Record<string, unknown> | undefined, spec: OptionSpec): Raw | undefined {
  if (!file) return undefined
  const value = file[spec.flag] ?? file[camel(spec.flag)] ?? file[spec.key]
  if (value === undefined || value === null) return undefined
  return value as Raw
}

/** Every key a --values file may hold. */
export function valuesFileKeys(): string[] {
  return OPTION_SPECS.map((s) => s.flag)
}

/** Rejects unknown keys in a --values file (a typo must not silently fall back to a default). */
export function checkValuesFileKeys(file: Record<string, unknown>, path: string): void {
  const known = new Set(OPTION_SPECS.flatMap((s) => [s.flag, camel(s.flag), s.key]))
  const unknown = Object.keys(file).filter((k) => !known.has(k))
  if (unknown.length > 0) {
    throw new ConfigError(
      `${path}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`,
      `use the flag names: ${valuesFileKeys().join(', ')}`,
    )
  }
}

function describeSource(spec: OptionSpec, source: AnswerSource): string {
  if (source === 'flag') return `--${spec.flag}`
  if (source === 'env') return spec.env
  if (source === 'values') return `${spec.flag} in the --values file`
  return spec.flag
}

/**
 * Resolves every answer by precedence, prompting only when a prompter is given. Problems are
 * collected and thrown together as one ConfigError with one line per missing or invalid value.
 * Secret values never enter a message.
 */
export async function resolveInstallOptions(input: ResolveInput): Promise<ResolvedOptions> {
  const answers: Partial<InstallAnswers> = {}
  const sources = {} as Record<AnswerKey, AnswerSource | undefined>
  const problems: string[] = []
  const set = (key: AnswerKey, value: unknown, source: AnswerSource) => {
    ;(answers as Record<string, unknown>)[key] = value
    sources[key] = source
  }

  for (const spec of OPTION_SPECS) {
    if (spec.applies && !spec.applies(answers)) continue
    if (spec.kind === 'secret' && input.withoutSecrets) continue
    const candidates: [AnswerSource, Raw | undefined][] = [
      ['flag', input.flags[spec.flag] as Raw | undefined],
      ['env', input.env[spec.env] === '' ? undefined : input.env[spec.env]],
      ['values', fromValuesFile(input.valuesFile, spec)],
    ]
    const given = candidates.find((candidate): candidate is [AnswerSource, Raw] => candidate[1] !== undefined)
    if (given) {
      const [source, raw] = given
      try {
        set(spec.key, spec.parse(raw, answers), source)
      } catch (error) {
        // Parse messages quote the bad value, except the secret's (it never enters a message).
        problems.push(`${describeSource(spec, source)}: ${(error as Error).message}`)
      }
      continue
    }
    if (spec.key === 'telegramToken' && input.existingTelegramToken) {
      set(spec.key, input.existingTelegramToken, 'cluster')
      continue
    }
    if (input.prompter && spec.prompted !== false) {
      try {
        const value = await ask(spec, answers, input.prompter, input)
        if (spec.key === 'telegramToken' && value === undefined) {
          // An empty token at the prompt means "no Telegram alerts": the webhook is turned off.
          set('webhook', false, 'prompt')
          continue
        }
        if (value !== undefined) set(spec.key, value, 'prompt')
      } catch (error) {
        if (error instanceof Error && error.name === 'ExitPromptError') {
          throw new ConfigError(
            'install cancelled at the prompt: nothing was changed',
            'run `keda-lab install` again, or pass every answer as a flag with --yes',
          )
        }
        throw error
      }
      continue
    }
    const fallback = spec.defaultValue?.(answers)
    if (fallback !== undefined) {
      set(spec.key, fallback, 'default')
      continue
    }
    if (spec.missingHint) problems.push(`missing ${spec.label ?? spec.flag}: ${spec.missingHint}`)
  }

  if (answers.webhook === false) {
    delete answers.telegramToken
    answers.telegramChatIds = []
  }
  answers.telegramChatIds ??= []
  if (problems.length === 0) problems.push(...crossCheck(answers as InstallAnswers))
  const [onlyProblem, ...moreProblems] = problems
  if (onlyProblem !== undefined) {
    throw new ConfigError(
      moreProblems.length === 0 ? onlyProblem : `${problems.length} install options are missing or invalid:\n  ${problems.join('\n  ')}`,
      'give or correct the value named above (flag, KEDA_LAB_* variable or --values file); `keda-lab install --help` lists them',
    )
  }
  return {answers: answers as InstallAnswers, sources}
}

/** Asks one question; the prompt's validate uses the spec's own parser. */
async function ask(spec: OptionSpec, answers: Partial<InstallAnswers>, prompter: Prompter, input: ResolveInput): Promise<unknown> {
  const fallback = spec.defaultValue?.(answers)
  const validateWith = (value: string): true | string => {
    try {
      spec.parse(value, answers)
      return true
    } catch (error) {
      return (error as Error).message
    }
  }
  switch (spec.kind) {
    case 'boolean':
      return prompter.confirm({message: spec.prompt, default: Boolean(fallback)})
    case 'choice':
      return prompter.select({message: spec.prompt, choices: spec.choices, default: String(fallback)})
    case 'secret': {
      const token = await prompter.password({
        message: `${spec.prompt} — empty: no Telegram alerts`,
        async validate(value) {
          if (value.trim() === '') return true
          const format = validateWith(value)
          if (format !== true) return format
          const problem = await input.checkTelegramToken?.(value.trim())
          return problem ?? true
        },
      })
      return token.trim() === '' ? undefined : spec.parse(token, answers)
    }
    default: {
      const optional = fallback === undefined && !spec.missingHint
      const text = await prompter.input({
        message: spec.prompt,
        default: fallback === undefined ? undefined : String(fallback),
        validate: (value) => (optional && value.trim() === '' ? true : validateWith(value)),
      })
      if (optional && text.trim() === '') return undefined
      return spec.parse(text, answers)
    }
  }
}
