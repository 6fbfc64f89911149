import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {detectClusterKind, runTool, ToolError} from '../../src/adapters/cluster-tools.js'
import {parseHelmVersion} from '../../src/adapters/helm.js'
import {createTelegram} from '../../src/adapters/telegram.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import {loadValuesTemplates, redisAntiAffinity, renderValues} from '../../src/lab/values/render.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {freePort} from '../helpers/processes.js'
import {type FakeTelegram, startFakeTelegram} from '../fakes/telegram.js'

const TOKEN = '123456789:AAH-test_token_for_keda_lab_unit_0123456'

describe('helm adapter', () => {
  it('reads the major version from `helm version --short`', () => {
    expect(parseHelmVersion('v3.17.3+ge4da497\n')).toEqual({major: 3, version: 'v3.17.3+ge4da497'})
    expect(parseHelmVersion('v4.1.4+g05fa379')).toEqual({major: 4, version: 'v4.1.4+g05fa379'})
    expect(() => parseHelmVersion('v2.17.0')).toThrow('helm v2.17.0 is not supported: keda-lab needs Helm 3 or 4')
    expect(() => parseHelmVersion('garbage')).toThrow(/could not read helm's version/)
  })
})

describe('runTool', () => {
  it('a missing program says where to get it', async () => {
    await expect(runTool({bin: 'helm', args: ['version']}, {env: {PATH: '/nonexistent'}})).rejects.toThrow(
      'helm not found: install it from https://helm.sh/docs/intro/install/',
    )
    await expect(runTool({bin: 'minikube', args: []}, {env: {PATH: '/nonexistent'}})).rejects.toThrow(
      'minikube not found: install it from https://minikube.sigs.k8s.io/docs/start/',
    )
  })

  it('a failing program gives its exit code and the tail of its stderr', async () => {
    const script = 'for i in $(seq 1 12); do echo "line $i" >&2; done; exit 3'
    const error = (await runTool({bin: 'sh', args: ['-c', script]}).catch((e) => e)) as ToolError
    expect(error).toBeInstanceOf(ToolError)
    expect(error.toolExitCode).toBe(3)
    expect(error.stderrTail.split('\n')).toEqual(['line 5', 'line 6', 'line 7', 'line 8', 'line 9', 'line 10', 'line 11', 'line 12'])
    const lines: string[] = []
    expect(await runTool({bin: 'sh', args: ['-c', 'echo out; echo err >&2']}, {onLine: (l) => lines.push(l)})).toBe('out')
    expect(lines.sort()).toEqual(['err', 'out'])
  })

  it('an abort stops the child and is reported as an interruption', async () => {
    const controller = new AbortController()
    let pid = 0
    // The shell prints its pid and becomes `sleep 30`; the abort comes once it is surely running.
    const pending = runTool(
      {bin: 'sh', args: ['-c', 'echo $$; exec sleep 30']},
      {
        signal: controller.signal,
        onLine: (line) => {
          pid = Number(line)
          controller.abort()
        },
      },
    )
    const error = (await pending.catch((e) => e)) as ToolError
    expect(error).toBeInstanceOf(ToolError)
    expect(error.interrupted).toBe(true)
    // Killed, not waited for: the process is gone although its sleep had 30 s to go.
    expect(pid).toBeGreaterThan(0)
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/)
  })
})

describe('detectClusterKind', () => {
  it('recognises minikube, kind and others', () => {
    expect(detectClusterKind('minikube', [{name: 'minikube', labels: {'minikube.k8s.io/name': 'minikube'}}])).toEqual({kind: 'minikube', name: 'minikube'})
    expect(detectClusterKind('lab-profile', [{name: 'lab', labels: {'minikube.k8s.io/name': 'lab'}}])).toEqual({kind: 'minikube', name: 'lab'})
    expect(detectClusterKind('kind-dev', [{name: 'dev-control-plane', labels: {}}])).toEqual({kind: 'kind', name: 'dev'})
    expect(
      detectClusterKind('admin@dev', [
        {name: 'dev-control-plane', labels: {}},
        {name: 'dev-worker', labels: {}},
        {name: 'dev-worker2', labels: {}},
      ]),
    ).toEqual({kind: 'kind', name: 'dev'})
    expect(detectClusterKind('gke_proj_zone_c', [{name: 'gke-pool-1', labels: {}}])).toEqual({kind: 'other'})
  })
})

describe('telegram getMe check (fake Bot API)', () => {
  let telegram: FakeTelegram
  beforeAll(async () => {
    telegram = await startFakeTelegram({token: TOKEN, username: 'lab_bot'})
  })
  afterAll(async () => telegram.close())

  it('valid, invalid and unreachable, never echoing the token', async () => {
    const client = createTelegram({apiUrl: telegram.url})
    expect(await client.checkToken(TOKEN)).toEqual({status: 'valid', username: 'lab_bot'})
    const invalid = await client.checkToken('999999:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB')
    expect(invalid.status).toBe('invalid')
    const port = await freePort()
    const down = await createTelegram({apiUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000}).checkToken(TOKEN)
    expect(down.status).toBe('unreachable')
    expect(JSON.stringify([invalid, down])).not.toContain('BBBBBBBB')
    expect(JSON.stringify(down)).not.toContain(TOKEN)
  })
})

const {telegramToken: _unused, ...answersWithoutToken} = sampleAnswers
const answers: InstallAnswers = answersWithoutToken

describe('values rendering', () => {
  it('anti-affinity is hard only when every replica can get its own node', () => {
    expect(redisAntiAffinity(1, 3)).toMatchObject({hard: false, note: expect.stringContaining('one node')})
    expect(redisAntiAffinity(2, 3)).toMatchObject({hard: false, note: expect.stringContaining('2 nodes for 3 Redis replicas')})
    expect(redisAntiAffinity(3, 3)).toEqual({hard: true})
    expect(redisAntiAffinity(undefined, 3)).toEqual({hard: true})
  })

  it('sets the computed keys and keeps the documentation comments', async () => {
    const templates = await loadValuesTemplates(new URL('../..', import.meta.url).pathname)
    const image = {repository: 'keda-lab', tag: '0.1.0', pullPolicy: 'IfNotPresent' as const}
    const files = Object.fromEntries(
      renderValues(
        {answers: {...answers, redisReplicas: 5, redisPersistence: false}, appNamespace: 'a', monitoringNamespace: 'm', nodeCount: 1, image},
        templates,
      ).map((f) => [f.name, f.content]),
    )
    const redis = parse(files['redis-ha']!)
    expect(redis).toMatchObject({replicas: 5, hardAntiAffinity: false, persistentVolume: {enabled: false}, sentinel: {quorum: 3}})
    expect(redis.redis.config.appendonly).toBe('no')
    expect(files['redis-ha']).toContain('# -- (computed) Hard anti-affinity')
    expect(parse(files.loki!).singleBinary.persistence.enabled).toBe(false)
    expect(redis.persistentVolume.storageClass).toBeUndefined()

    // --storage-class reaches every persistent volume the charts make (Redis's and Loki's), only with persistence on.
    const classed = Object.fromEntries(
      renderValues({answers: {...answers, storageClass: 'fast-ssd'}, appNamespace: 'a', monitoringNamespace: 'm', image}, templates).map((f) => [
        f.name,
        f.content,
      ]),
    )
    expect(parse(classed['redis-ha']!).persistentVolume).toMatchObject({enabled: true, storageClass: 'fast-ssd'})
    expect(parse(classed.loki!).singleBinary.persistence).toMatchObject({enabled: true, storageClass: 'fast-ssd'})
    expect(files.alloy).not.toContain('@@')
    const app = parse(files['keda-lab']!)
    expect(app.worker.autoscaling).toEqual({minReplicaCount: 1, maxReplicaCount: 10, tasksPerReplica: 2, scaleToZero: false, behavior: {}})
    expect(app.redis.auth).toEqual({enabled: true, existingSecret: 'keda-lab-secrets', passwordKey: 'redis-password'})
    expect(app.monitoring).toEqual({enabled: true, namespace: 'm'})

    const noWebhook = Object.fromEntries(
      renderValues({answers: {...answers, webhook: false, telegramChatIds: []}, appNamespace: 'a', monitoringNamespace: 'm', image}, templates).map((f) => [
        f.name,
        f.content,
      ]),
    )
    const am = parse(noWebhook['kube-prometheus-stack']!).alertmanager
    expect(am.config.receivers).toEqual([{name: 'null'}])
    expect(am.config.route.receiver).toBe('null')
    expect(am.alertmanagerSpec.secrets).toEqual([])
    expect(parse(noWebhook['keda-lab']!).webhook.enabled).toBe(false)
  })
})
