import {describe, expect, it} from 'vitest'

import {ConfigError} from '../../src/errors.js'
import {checkValuesFileKeys, OPTION_SPECS, type Prompter, resolveInstallOptions} from '../../src/lab/install/options.js'

const TOKEN = '123456789:AAH-test_token_for_keda_lab_unit_0123456'

/** A prompter that answers from a script and records what it was asked and what its validators said. */
function scripted(answers: Record<string, string | boolean | string[]>) {
  const asked: string[] = []
  const rejected: {message: string; value: string; reason: string}[] = []
  const pick = (message: string) => {
    const key = Object.keys(answers).find((k) => message.includes(k))
    if (key === undefined) throw new Error(`unexpected prompt: ${message}`)
    asked.push(key)
    return answers[key]!
  }
  const typed = async (message: string, validate: (v: string) => Promise<true | string> | true | string) => {
    const values = [pick(message)].flat() as string[]
    for (const value of values) {
      const verdict = await validate(value)
      if (verdict === true) return value
      rejected.push({message, value, reason: verdict})
    }
    throw new Error(`no valid answer for ${message}`)
  }
  const prompter: Prompter = {
    input: ({message, validate}) => typed(message, validate),
    password: ({message, validate}) => typed(message, validate),
    confirm: async ({message}) => pick(message) as boolean,
    select: async ({message}) => pick(message) as string,
  }
  return {prompter, asked, rejected}
}

describe('resolveInstallOptions', () => {
  it('applies flag > env > values file > default and records the source of each answer', async () => {
    const {answers, sources} = await resolveInstallOptions({
      flags: {'worker-max-replicas': '9', webhook: false},
      env: {KEDA_LAB_WORKER_MAX_REPLICAS: '8', KEDA_LAB_API_MAX_REPLICAS: '4'},
      valuesFile: {'worker-max-replicas': 7, apiMaxReplicas: 3, 'api-cpu-target': 55, monitoring: false},
    })
    expect(answers.workerMaxReplicas).toBe(9)
    expect(sources.workerMaxReplicas).toBe('flag')
    expect(answers.apiMaxReplicas).toBe(4)
    expect(sources.apiMaxReplicas).toBe('env')
    expect(answers.apiCpuTarget).toBe(55)
    expect(sources.apiCpuTarget).toBe('values')
    expect(answers.monitoring).toBe(false)
    expect(answers.tasksPerReplica).toBe(2)
    expect(sources.tasksPerReplica).toBe('default')
    expect(answers.telegramToken).toBeUndefined()
    expect(answers.telegramChatIds).toEqual([])
  })

  it('reports every missing or invalid value at once, one line each, never quoting the token', async () => {
    const error = await resolveInstallOptions({
      flags: {'telegram-token': 'secret-but-wrong', 'redis-replicas': '0'},
      env: {KEDA_LAB_EXPOSE: 'ClusterIP'},
    }).catch((e) => e)
    expect(error).toBeInstanceOf(ConfigError)
    const lines = (error as Error).message.split('\n')
    expect(lines[0]).toBe('4 install options are missing or invalid:')
    expect(lines.slice(1).map((l) => l.trim())).toEqual([
      '--telegram-token: does not look like a bot token from @BotFather (digits, a colon, then about 35 letters, digits, - or _)',
      expect.stringMatching(/^missing Telegram chat id: /),
      '--redis-replicas: must be between 1 and 7, got 0',
      'KEDA_LAB_EXPOSE: must be LoadBalancer, NodePort or Ingress, got "ClusterIP"',
    ])
    expect((error as Error).message).not.toContain('secret-but-wrong')
  })

  it('keeps the token stored by an earlier install instead of asking again', async () => {
    const {answers, sources} = await resolveInstallOptions({
      flags: {'telegram-chat-id': '1,-1001234567890,@alerts_channel'},
      env: {},
      existingTelegramToken: TOKEN,
    })
    expect(answers.telegramToken).toBe(TOKEN)
    expect(sources.telegramToken).toBe('cluster')
    expect(answers.telegramChatIds).toEqual(['1', '-1001234567890', '@alerts_channel'])
  })

  it('prompts only for what is missing, validating each answer with the flag validator (and getMe)', async () => {
    const {prompter, asked, rejected} = scripted({
      'Send alerts': true,
      'bot token': ['nope', '111111:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', TOKEN],
      'chat id': ['x', '42'],
      'Worker replicas: minimum': '2',
      'Worker replicas: maximum': ['1', '6'],
      'Tasks per worker': '3',
      'Scale workers': false,
      'API replicas: minimum': '1',
      'API CPU target': '65',
      // (before 'Redis replicas': the first key the question contains answers it)
      'must hold a task': ['3', '1'],
      'Redis replicas': '3',
      'Keep Redis data': true,
      StorageClass: ['Fast_SSD', 'fast-ssd'],
      exposed: 'Ingress',
      'Ingress host': ['Not A Host!', 'lab.example.com'],
      Image: '',
    })
    const {answers, sources} = await resolveInstallOptions({
      flags: {'api-max-replicas': '4', monitoring: true},
      env: {},
      prompter,
      checkTelegramToken: async (token) => (token === TOKEN ? undefined : 'Telegram rejected the token (401 Unauthorized)'),
    })
    expect(asked).not.toContain('API replicas: maximum')
    expect(asked).not.toContain('Install monitoring')
    expect(rejected.map((r) => r.reason)).toEqual([
      expect.stringContaining('does not look like a bot token'),
      'Telegram rejected the token (401 Unauthorized)',
      '"x" is not a chat id (a number like 123456789 or -1001234567890, or @channelname)',
      'must be at least the worker minimum (2), got 1',
      'must be at most 2 (the Redis replicas besides the master), got 3',
      expect.stringContaining('"Fast_SSD" is not a StorageClass name'),
      '"not a host!" is not a DNS host name (e.g. keda-lab.example.com)',
    ])
    expect(answers).toMatchObject({
      telegramToken: TOKEN,
      workerMinReplicas: 2,
      workerMaxReplicas: 6,
      apiMaxReplicas: 4,
      apiCpuTarget: 65,
      redisWaitReplicas: 1,
      expose: 'Ingress',
      ingressHost: 'lab.example.com',
      storageClass: 'fast-ssd',
    })
    expect(answers.image).toBeUndefined()
    expect(sources.apiMaxReplicas).toBe('flag')
    expect(sources.workerMaxReplicas).toBe('prompt')
  })

  it('worker minimum 0 needs scale to zero', async () => {
    await expect(resolveInstallOptions({flags: {webhook: false, 'worker-min-replicas': '0'}, env: {}})).rejects.toThrow(
      '--worker-min-replicas 0 needs --scale-to-zero',
    )
    const ok = await resolveInstallOptions({flags: {webhook: false, 'worker-min-replicas': '0', 'scale-to-zero': true}, env: {}})
    expect(ok.answers.workerMinReplicas).toBe(0)
  })

  it('the replica acknowledgement applies only with replicas to acknowledge, and at most all of them', async () => {
    const base = {webhook: false}
    expect((await resolveInstallOptions({flags: {...base, 'redis-wait-replicas': '2'}, env: {}})).answers.redisWaitReplicas).toBe(2)
    expect((await resolveInstallOptions({flags: base, env: {KEDA_LAB_REDIS_WAIT_REPLICAS: '1'}})).answers.redisWaitReplicas).toBe(1)
    expect((await resolveInstallOptions({flags: base, env: {}})).answers.redisWaitReplicas).toBe(0)
    await expect(resolveInstallOptions({flags: {...base, 'redis-replicas': '2', 'redis-wait-replicas': '2'}, env: {}})).rejects.toThrow(
      'must be at most 1 (the Redis replicas besides the master), got 2',
    )
    // One Redis pod has no replica to wait for: the question does not apply.
    expect((await resolveInstallOptions({flags: {...base, 'redis-replicas': '1'}, env: {}})).answers.redisWaitReplicas).toBeUndefined()
  })

  it('--storage-class: from flag, env or --values file; only with persistence (the claims it names exist only then)', async () => {
    const base = {webhook: false}
    expect((await resolveInstallOptions({flags: {...base, 'storage-class': 'fast'}, env: {}})).answers.storageClass).toBe('fast')
    const env = await resolveInstallOptions({flags: base, env: {KEDA_LAB_STORAGE_CLASS: 'gp3'}})
    expect([env.answers.storageClass, env.sources.storageClass]).toEqual(['gp3', 'env'])
    const file = await resolveInstallOptions({flags: base, env: {}, valuesFile: {'storage-class': 'local-path'}})
    expect([file.answers.storageClass, file.sources.storageClass]).toEqual(['local-path', 'values'])
    expect((await resolveInstallOptions({flags: base, env: {}})).answers.storageClass).toBeUndefined()
    const off = await resolveInstallOptions({flags: {...base, 'redis-persistence': false, 'storage-class': 'fast'}, env: {}})
    expect(off.answers.storageClass).toBeUndefined()
    await expect(resolveInstallOptions({flags: {...base, 'storage-class': 'Not/A Class'}, env: {}})).rejects.toThrow(
      '--storage-class: "Not/A Class" is not a StorageClass name',
    )
  })

  it('render mode needs no token', async () => {
    const {answers} = await resolveInstallOptions({flags: {'telegram-chat-id': '5'}, env: {}, withoutSecrets: true})
    expect(answers.webhook).toBe(true)
    expect(answers.telegramToken).toBeUndefined()
  })

  it('every answer has a flag and a KEDA_LAB_ variable; unknown --values keys are rejected', () => {
    for (const spec of OPTION_SPECS) expect(spec.env).toBe(`KEDA_LAB_${spec.flag.toUpperCase().replace(/-/g, '_')}`)
    expect(() => checkValuesFileKeys({'worker-max-replicas': 1, workerMinReplicas: 1}, 'f')).not.toThrow()
    expect(() => checkValuesFileKeys({replicas: 1}, 'f')).toThrow('f: unknown option "replicas"')
  })
})
