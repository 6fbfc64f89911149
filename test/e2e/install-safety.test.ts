/**
 * What install must never do: change anything under --dry-run, print or write a secret, or leave a
 * Ctrl-C unexplained. Real CLI subprocess, fake tools on PATH, fake Kubernetes API.
 */
import {once} from 'node:events'

import {afterEach, describe, expect, it} from 'vitest'

import {CHARTS} from '../../src/lab/charts.js'
import {cliEntry, repoRoot, runCli} from '../helpers/cli.js'
import {spawnTracked, waitFor} from '../helpers/processes.js'
import {BASE_ARGS, type Lab, secretData, startLab, TEST_TOKEN} from './install-harness.js'

let lab: Lab | undefined
afterEach(async () => {
  await lab?.close()
  lab = undefined
})

/** True for the only requests a read-only run may send: reads and access reviews (which change nothing). */
const readOnly = (q: {method: string; path: string}) => q.method === 'GET' || (q.method === 'POST' && q.path.includes('selfsubjectaccessreviews'))

describe('keda-lab install safety', () => {
  it('--dry-run prints every command and rendered file and changes nothing', async () => {
    lab = await startLab({kind: 'minikube', metricsApi: false})
    const r = await runCli(['install', ...BASE_ARGS, '--dry-run'], {env: lab.env, timeoutMs: 60_000})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    // Only the read-only version detection ran; no helm/minikube command that changes anything.
    expect(lab.calls().map((c) => `${c.bin} ${c.argv.join(' ')}`)).toEqual(['helm version --short'])
    // The fake API saw only reads (and SelfSubjectAccessReviews, which change nothing).
    expect(lab.api.requests.filter((q) => !readOnly(q))).toEqual([])
    expect(lab.api.get('v1', 'Namespace', 'keda')).toBeUndefined()
    expect(lab.writtenFiles()).toEqual([])

    expect(r.stdout).toContain('Plan (dry run: nothing below is executed)')
    expect(r.stdout).toContain(`$ helm repo add kedacore ${lab.chartRepo.repoUrl('kedacore')} --force-update`)
    expect(r.stdout).toContain('$ minikube addons enable metrics-server -p minikube')
    expect(r.stdout).toMatch(
      new RegExp(
        `\\$ helm upgrade --install redis-ha dandydeveloper/redis-ha --namespace keda --version ${CHARTS.redisHa.version.replaceAll('.', '\\.')} --values \\S+/values/redis-ha\\.yaml --wait --timeout 10m --atomic`,
      ),
    )
    expect(r.stdout).toMatch(/\$ \(cd \S+ && minikube image build -t keda-lab:0\.1\.0-\d{8}T\d{6} -p minikube \.\)/)
    expect(r.stdout).toContain(
      '• apply Secret keda/keda-lab-secrets: redis-password=******** (generated), telegram-bot-token=******** (given), webhook-token=******** (generated)',
    )
    expect(r.stdout).toContain('telegram-token: ******** (flag)')
    for (const file of ['keda', 'redis-ha', 'kube-prometheus-stack', 'loki', 'alloy', 'keda-lab'])
      expect(r.stdout).toMatch(new RegExp(`--- \\S+/values/${file}\\.yaml`))
    expect(r.stdout).toContain('url: http://keda-lab-webhook.keda.svc:8080/alerts')
    expect(r.stdout).not.toContain(TEST_TOKEN)
  })

  it('secrets never appear in stdout, stderr, the written files, the tool command lines or ConfigMaps', async () => {
    lab = await startLab({kind: 'minikube'})
    const outputs: string[] = []
    const first = await runCli(['install', ...BASE_ARGS], {env: lab.env, timeoutMs: 60_000})
    expect(first.code).toBe(0)
    outputs.push(first.stdout, first.stderr)
    const dry = await runCli(['install', '--yes', '--telegram-chat-id', '42', '--dry-run'], {env: lab.env, timeoutMs: 60_000})
    expect(dry.code).toBe(0)
    outputs.push(dry.stdout, dry.stderr)
    const failed = await runCli(['install', ...BASE_ARGS], {env: {...lab.env, FAKE_HELM_FAIL_ON: 'keda-lab'}, timeoutMs: 60_000})
    expect(failed.code).toBe(1)
    outputs.push(failed.stdout, failed.stderr)
    const json = await runCli(['install', ...BASE_ARGS, '--json'], {env: lab.env, timeoutMs: 60_000})
    expect(json.code).toBe(0)
    outputs.push(json.stdout, json.stderr)
    expect(JSON.parse(json.stdout).steps.map((s: {id: string}) => s.id)).toContain('application')

    const app = secretData(lab.api, 'keda', 'keda-lab-secrets')!
    const secrets = [TEST_TOKEN, app['redis-password']!, app['webhook-token']!, secretData(lab.api, 'keda-monitoring', 'keda-lab-grafana')!['admin-password']!]
    expect(secrets.every((s) => s.length >= 20)).toBe(true)

    const haystacks = [
      ...outputs.map((text, i) => ({where: `run output ${i}`, text})),
      ...lab.writtenFiles().map((f) => ({where: f.path, text: f.content})),
      {
        where: 'tool argv log',
        text: lab
          .calls()
          .map((c) => c.argv?.join(' '))
          .join('\n'),
      },
      ...lab.api.list('v1', 'ConfigMap').map((cm) => ({where: `ConfigMap ${cm.metadata.name}`, text: JSON.stringify(cm)})),
    ]
    expect(haystacks.length).toBeGreaterThan(8)
    for (const {where, text} of haystacks) for (const secret of secrets) expect(text.includes(secret), `${where} contains a secret`).toBe(false)
  })

  it('Ctrl-C stops the running helm, names the interrupted step and says how to recover', async () => {
    lab = await startLab({kind: 'minikube'})
    const child = spawnTracked(process.execPath, [cliEntry(), 'install', ...BASE_ARGS], {
      cwd: repoRoot,
      env: {...process.env, ...lab.env, NO_COLOR: '1', FAKE_HELM_HANG_ON: 'kube-prometheus-stack'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    let stdout = ''
    child.stderr!.on('data', (d) => (stderr += d))
    child.stdout!.on('data', (d) => (stdout += d))
    const hanging = await waitFor(() => lab!.calls().find((c) => c.event === 'hanging') as (ReturnType<Lab['calls']>[number] & {pid: number}) | undefined, {
      timeoutMs: 30_000,
      what: 'helm to hang',
    })
    child.kill('SIGINT')
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code).toBe(130)
    expect(stderr).toContain('Error: interrupted during step "Monitoring (kube-prometheus-stack, Loki, Alloy)"')
    expect(stderr).toContain('may be partly applied')
    expect(stderr).toMatch(/Fix: run `keda-lab install` again to retry .*`keda-lab uninstall`/)
    // The hung helm was stopped with the CLI, and nothing ran after it.
    await waitFor(
      () => {
        try {
          process.kill(hanging.pid, 0)
          return false
        } catch {
          return true
        }
      },
      {timeoutMs: 10_000, what: 'the fake helm to exit'},
    )
    expect(
      lab
        .calls()
        .filter((c) => !c.event && c.argv[0] === 'upgrade')
        .map((c) => c.argv[2]),
    ).toEqual(['keda', 'redis-ha', 'kube-prometheus-stack'])
    expect(stdout).not.toContain('keda-lab is installed')
  })
})
