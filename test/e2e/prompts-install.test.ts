/**
 * The interactive install driven in a real pseudo-terminal (Python's pty module): answers are typed,
 * wrong ones are rejected on the spot with their message, and the run proceeds (with --dry-run, so
 * it changes nothing). Fake Telegram answers getMe; fake Kubernetes API; fake helm on PATH.
 */
import {afterEach, describe, expect, it} from 'vitest'

import {type PtyStep, runCliInPty} from '../helpers/pty.js'
import {type Lab, startLab, TEST_TOKEN} from './install-harness.js'

async function drive(lab: Lab, args: string[], steps: PtyStep[]): Promise<{code: number | null; transcript: string}> {
  return runCliInPty(args, steps, {env: lab.env})
}

const CLEAR = '\u0015' // Ctrl-U: erase the typed line
const ENTER = '\r'

let lab: Lab | undefined
afterEach(async () => {
  await lab?.close()
  lab = undefined
})

// Each test starts the CLI in a terminal up to three times: on a loaded machine that alone can take minutes.
describe('keda-lab install in a terminal', {timeout: 300_000}, () => {
  it('asks every question, rejects wrong answers on the spot, and runs the plan with the answers', async () => {
    lab = await startLab({kind: 'minikube'})
    const {code, transcript} = await drive(
      lab,
      ['install', '--dry-run'],
      [
        {expect: 'Send alerts to Telegram\\?', send: ENTER},
        {expect: 'Telegram bot token', send: `not-a-token${ENTER}`},
        {expect: 'does not look like a bot token from @BotFather', send: `${CLEAR}987654321:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA${ENTER}`},
        // getMe against the fake Telegram: a well-formed token it does not know is rejected.
        {expect: 'Telegram rejected the token \\(401', send: `${CLEAR}${TEST_TOKEN}${ENTER}`},
        {expect: 'Telegram chat id\\(s\\) for alerts', send: `hello${ENTER}`},
        {expect: '"hello" is not a chat id', send: `${CLEAR}123456789${ENTER}`},
        {expect: 'Worker replicas: minimum', send: ENTER},
        {expect: 'Worker replicas: maximum', send: `0${ENTER}`},
        {expect: 'must be between 1 and 200, got 0', send: `${CLEAR}12${ENTER}`},
        {expect: 'Tasks per worker replica', send: ENTER},
        {expect: 'Scale workers to zero', send: ENTER},
        {expect: 'API replicas: minimum', send: `3${ENTER}`},
        {expect: 'API replicas: maximum', send: `2${ENTER}`},
        {expect: 'must be at least the API minimum \\(3\\), got 2', send: `${CLEAR}6${ENTER}`},
        {expect: 'API CPU target', send: ENTER},
        {expect: 'Redis replicas \\(each with a Sentinel\\)', send: ENTER},
        {expect: 'Redis replicas that must hold a task before the API accepts it', send: `3${ENTER}`},
        {expect: 'must be at most 2 \\(the Redis replicas besides the master\\), got 3', send: `${CLEAR}1${ENTER}`},
        {expect: 'Keep Redis data on PersistentVolumes\\?', send: `n${ENTER}`},
        {expect: 'Install monitoring', send: `n${ENTER}`},
        {expect: 'How should the API be exposed\\?', send: ENTER},
        {expect: 'Image \\(empty: build it into the cluster\\)', send: ENTER},
        {expect: 'Plan \\(dry run', timeout: 60},
      ],
    )
    expect(transcript).not.toContain('@@TIMEOUT')
    expect(code).toBe(0)
    expect(transcript).toContain('worker-max-replicas: 12 (prompt)')
    expect(transcript).toContain('api-min-replicas: 3 (prompt)')
    expect(transcript).toContain('api-max-replicas: 6 (prompt)')
    expect(transcript).toContain('redis-persistence: false (prompt)')
    expect(transcript).toContain('redis-wait-replicas: 1 (prompt)')
    expect(transcript).toContain('monitoring: false (prompt)')
    expect(transcript).toContain('telegram-chat-id: 123456789 (prompt)')
    expect(transcript).toContain('√ Telegram bot token (getMe): bot @keda_lab_test_bot')
    expect(transcript).toMatch(/maxReplicaCount: 12/)
    // The token was masked while typed and never printed afterwards.
    expect(transcript).not.toContain(TEST_TOKEN)
    // --dry-run: nothing but the version check ran.
    expect(lab.calls().map((c) => c.argv.join(' '))).toEqual(['version --short'])
  })

  it('an empty token at the prompt installs without the webhook; the metrics-server addon is offered; --yes in a terminal does not prompt', async () => {
    lab = await startLab({kind: 'minikube', metricsApi: false})
    const skip = await drive(
      lab,
      [
        'install',
        '--dry-run',
        '--worker-max-replicas',
        '4',
        '--no-monitoring',
        '--expose',
        'NodePort',
        '--image',
        'ghcr.io/acme/keda-lab:1.0.0',
        '--api-min-replicas',
        '1',
        '--api-max-replicas',
        '2',
        '--api-cpu-target',
        '60',
        '--redis-replicas',
        '1',
        '--no-redis-persistence',
        '--tasks-per-replica',
        '3',
        '--worker-min-replicas',
        '1',
        '--no-scale-to-zero',
      ],
      [
        {expect: 'Send alerts to Telegram\\?', send: ENTER},
        {expect: 'Telegram bot token', send: ENTER},
        {expect: 'metrics-server is missing \\(the API autoscaler needs it\\)', send: `n${ENTER}`, timeout: 30},
        {expect: 'Plan \\(dry run', timeout: 60},
      ],
    )
    expect(skip.transcript, skip.transcript.slice(-1500)).not.toContain('@@TIMEOUT')
    expect(skip.code).toBe(0)
    expect(skip.transcript).toContain('webhook: false (prompt)')
    expect(skip.transcript).toContain('- Telegram bot token (getMe): webhook off')
    expect(skip.transcript).not.toContain('Telegram chat id(s) for alerts')
    expect(skip.transcript).not.toContain('$ minikube addons enable metrics-server')

    const yes = await drive(lab, ['install', '--dry-run', '--yes', '--no-webhook'], [{expect: 'Plan \\(dry run', timeout: 60}])
    expect(yes.code).toBe(0)
    expect(yes.transcript).not.toMatch(/^\? /m)
    // --yes takes the default: enable the addon.
    expect(yes.transcript).toContain('$ minikube addons enable metrics-server -p minikube')
  })

  it('a real run in a terminal shows the live task list and ends with the access info', async () => {
    lab = await startLab({kind: 'minikube'})
    const {code, transcript} = await drive(
      lab,
      ['install', '--yes', '--telegram-token', TEST_TOKEN, '--telegram-chat-id', '7', '--no-monitoring'],
      [{expect: 'keda-lab is installed', timeout: 90}],
    )
    expect(transcript).not.toContain('@@TIMEOUT')
    expect(code).toBe(0)
    for (const title of [
      'Pre-flight checks (context minikube)',
      'Helm repositories',
      'Namespaces and Secrets',
      'Redis with Sentinels',
      'Application (keda-lab chart)',
      'Rollout',
    ]) {
      expect(transcript).toContain(`✔ ${title}`)
    }
    expect(transcript).toContain('√ Telegram bot token (getMe): bot @keda_lab_test_bot')
    expect(transcript).not.toContain(TEST_TOKEN)
    expect(
      lab
        .calls()
        .filter((c) => c.argv[0] === 'upgrade')
        .map((c) => c.argv[2]),
    ).toEqual(['keda', 'redis-ha', 'keda-lab'])
  })
})
