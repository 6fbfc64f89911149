/**
 * The non-interactive path: flags, KEDA_LAB_* variables and --values, their precedence, and one
 * clear line per missing or invalid value (never a prompt without a terminal, never a stack trace).
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {type Lab, startLab, TEST_TOKEN} from './install-harness.js'

let lab: Lab
beforeAll(async () => {
  lab = await startLab({kind: 'minikube'})
})
afterAll(async () => {
  await lab?.close()
})

const answerLine = (stdout: string, flag: string) =>
  stdout
    .split('\n')
    .find((l) => l.startsWith(`  ${flag}: `))
    ?.trim()

describe('keda-lab install options (no terminal)', () => {
  it('fails with one line per missing required value and changes nothing', async () => {
    const r = await runCli(['install'], {env: lab.env, timeoutMs: 30_000})
    expect(r.code).toBe(78)
    const lines = r.stderr.trim().split('\n')
    expect(lines[0]).toBe('Error: 2 install options are missing or invalid:')
    expect(lines[1]).toBe(
      '  missing Telegram bot token: pass --telegram-token or set KEDA_LAB_TELEGRAM_TOKEN (or --no-webhook to install without Telegram alerts)',
    )
    expect(lines[2]).toMatch(/^ {2}missing Telegram chat id: pass --telegram-chat-id or set KEDA_LAB_TELEGRAM_CHAT_ID/)
    expect(lines[3]).toMatch(/^Fix: /)
    expect(lines).toHaveLength(4)
    // Only read: helm's version, checked (with the cluster) before any answer is needed.
    expect(lab.calls().map((c) => c.argv.join(' '))).toEqual(['version --short'])

    const ingress = await runCli(['install', '--no-webhook', '--expose', 'ingress'], {env: lab.env, timeoutMs: 30_000})
    expect(ingress.code).toBe(78)
    expect(ingress.stderr.split('\n')[0]).toBe(
      'Error: missing ingress host: pass --ingress-host or set KEDA_LAB_INGRESS_HOST (e.g. keda-lab.127.0.0.1.nip.io), or choose --expose LoadBalancer',
    )
  })

  it('rejects invalid values naming the flag, variable or file key, with the same validators as the prompts', async () => {
    const file = join(lab.dir, 'bad.yaml')
    writeFileSync(file, 'redis-replicas: 9\n')
    const r = await runCli(['install', '--no-webhook', '--worker-max-replicas', 'lots', '--values', file, '--telegram-chat-id', '1'], {
      env: {...lab.env, KEDA_LAB_API_CPU_TARGET: '150'},
      timeoutMs: 30_000,
    })
    expect(r.code).toBe(78)
    expect(r.stderr).toContain('  --worker-max-replicas: must be a whole number between 1 and 200, got "lots"')
    expect(r.stderr).toContain('  KEDA_LAB_API_CPU_TARGET: must be between 10 and 100, got 150')
    expect(r.stderr).toContain('  redis-replicas in the --values file: must be between 1 and 7, got 9')
    expect(r.stderr).not.toMatch(/\n\s+at /)

    const cross = await runCli(['install', '--no-webhook', '--worker-min-replicas', '5', '--worker-max-replicas', '3'], {env: lab.env, timeoutMs: 30_000})
    expect(cross.stderr.split('\n')[0]).toBe('Error: --worker-max-replicas: must be at least the worker minimum (5), got 3')

    const token = await runCli(['install', '--telegram-token', 'not-a-token', '--telegram-chat-id', '1'], {env: lab.env, timeoutMs: 30_000})
    expect(token.stderr.split('\n')[0]).toBe(
      'Error: --telegram-token: does not look like a bot token from @BotFather (digits, a colon, then about 35 letters, digits, - or _)',
    )

    writeFileSync(file, 'worker-max: 3\nmonitoring: false\n')
    const unknown = await runCli(['install', '--values', file], {env: lab.env, timeoutMs: 30_000})
    expect(unknown.code).toBe(78)
    expect(unknown.stderr.split('\n')[0]).toContain('unknown option "worker-max"')
    expect(unknown.stderr).toContain('worker-max-replicas')
  })

  it('precedence: flag > environment > --values file > default', async () => {
    const file = join(lab.dir, 'lab.yaml')
    writeFileSync(
      file,
      ['worker-max-replicas: 7', 'apiCpuTarget: 55', 'monitoring: false', `telegram-token: "${TEST_TOKEN}"`, 'telegram-chat-id: [111, 222]', ''].join('\n'),
    )
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      runCli(['install', '--yes', '--dry-run', '--values', file, ...args], {env: {...lab.env, ...env}, timeoutMs: 30_000})

    const all = await run(['--worker-max-replicas', '9'], {KEDA_LAB_WORKER_MAX_REPLICAS: '8'})
    expect(all.code).toBe(0)
    expect(answerLine(all.stdout, 'worker-max-replicas')).toBe('worker-max-replicas: 9 (flag)')
    expect(all.stdout).toMatch(/maxReplicaCount: 9\n/)

    const env = await run([], {KEDA_LAB_WORKER_MAX_REPLICAS: '8', KEDA_LAB_MONITORING: 'true'})
    expect(answerLine(env.stdout, 'worker-max-replicas')).toBe('worker-max-replicas: 8 (env)')
    expect(answerLine(env.stdout, 'monitoring')).toBe('monitoring: true (env)')

    const values = await run([])
    expect(answerLine(values.stdout, 'worker-max-replicas')).toBe('worker-max-replicas: 7 (values)')
    expect(answerLine(values.stdout, 'api-cpu-target')).toBe('api-cpu-target: 55 (values)')
    expect(answerLine(values.stdout, 'monitoring')).toBe('monitoring: false (values)')
    expect(answerLine(values.stdout, 'telegram-chat-id')).toBe('telegram-chat-id: 111,222 (values)')
    expect(answerLine(values.stdout, 'telegram-token')).toBe('telegram-token: ******** (values)')
    expect(answerLine(values.stdout, 'tasks-per-replica')).toBe('tasks-per-replica: 2 (default)')
    expect(values.stdout).toContain('skipped: monitoring off (--no-monitoring)')
    expect(values.stdout).not.toContain(TEST_TOKEN)

    const noFlag = await run(['--monitoring'])
    expect(answerLine(noFlag.stdout, 'monitoring')).toBe('monitoring: true (flag)')
  })
})
