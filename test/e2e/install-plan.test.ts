/**
 * `keda-lab install` run as a user runs it: the real CLI in a subprocess, the fake helm/minikube/kind/
 * docker programs first on PATH (they record their argv), the REAL @kubernetes/client-node talking to
 * the loopback fake Kubernetes API, and the fake Telegram Bot API for getMe.
 */
import {startOciRegistry} from '../helpers/oci-registry.js'
import {parse} from 'yaml'
import {afterEach, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {BASE_ARGS, type Lab, secretData, startLab, TEST_TOKEN} from './install-harness.js'

let lab: Lab | undefined
afterEach(async () => {
  await lab?.close()
  lab = undefined
})

const cmd = (c: {bin: string; argv: string[]}) => `${c.bin} ${c.argv.join(' ')}`
const upgrades = (l: Lab) =>
  l
    .calls()
    .filter((c) => c.bin === 'helm' && c.argv[0] === 'upgrade')
    .map((c) => c.argv[2])

describe('keda-lab install (fake helm/minikube, fake Kubernetes API)', () => {
  it('runs the plan in order, creates the Secrets before the releases, writes the values files, and prints the access info', async () => {
    lab = await startLab({kind: 'minikube', metricsApi: false})
    const r = await runCli(['install', ...BASE_ARGS], {env: lab.env, timeoutMs: 60_000})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)

    const calls = lab.calls().map(cmd)
    expect(calls[0]).toBe('helm version --short')
    expect(calls.slice(1, 7)).toEqual([
      // The harness points every pinned repository at its loopback chart repository (KEDA_LAB_CHART_REPO).
      `helm repo add kedacore ${lab.chartRepo.repoUrl('kedacore')} --force-update`,
      `helm repo add dandydeveloper ${lab.chartRepo.repoUrl('dandydeveloper')} --force-update`,
      `helm repo add prometheus-community ${lab.chartRepo.repoUrl('prometheus-community')} --force-update`,
      `helm repo add grafana-community ${lab.chartRepo.repoUrl('grafana-community')} --force-update`,
      `helm repo add grafana ${lab.chartRepo.repoUrl('grafana')} --force-update`,
      'helm repo update kedacore dandydeveloper prometheus-community grafana-community grafana',
    ])
    expect(calls[7]).toBe('minikube addons enable metrics-server -p minikube')
    expect(upgrades(lab)).toEqual(['keda', 'redis-ha', 'kube-prometheus-stack', 'loki', 'alloy', 'keda-lab'])
    const order = lab.calls().map((c) => (c.bin === 'minikube' ? `minikube ${c.argv[0]}` : c.argv[2]))
    expect(order.indexOf('minikube image')).toBeGreaterThan(order.indexOf('alloy'))
    expect(order.indexOf('minikube image')).toBeLessThan(order.indexOf('keda-lab'))
    const app = lab.calls().find((c) => c.argv[2] === 'keda-lab')!
    expect(app.argv).toEqual(expect.arrayContaining(['--namespace', 'keda', '--timeout', '5m']))
    // keda-lab waits for the app's pods itself: no helm --wait on a LoadBalancer address that may never come.
    expect(app.argv.filter((a) => /^--(wait|atomic|rollback-on-failure)/.test(a))).toEqual([])
    expect(app.argv[3]).toMatch(/templates\/chart\/keda-lab$/)
    const build = lab.calls().find((c) => c.bin === 'minikube' && c.argv[0] === 'image')!
    expect(build.argv).toEqual(['image', 'build', '-t', expect.stringMatching(/^keda-lab:0\.1\.0-\d{8}T\d{6}$/), '-p', 'minikube', '.'])

    // Secrets exist (created through the Kubernetes API before any release) and agree with each other.
    const app1 = secretData(lab.api, 'keda', 'keda-lab-secrets')!
    expect(app1['telegram-bot-token']).toBe(TEST_TOKEN)
    expect(app1['redis-password']).toMatch(/^[\w-]{32}$/)
    expect(secretData(lab.api, 'keda-monitoring', 'keda-lab-webhook-token')!.token).toBe(app1['webhook-token'])
    expect(secretData(lab.api, 'keda-monitoring', 'keda-lab-grafana')!['admin-password']).toMatch(/^[\w-]{32}$/)
    const secretWrites = lab.api.requests.filter((q) => q.path.includes('/secrets') && q.method !== 'GET')
    const firstSecretWrite = lab.api.requests.indexOf(secretWrites[0]!)
    expect(firstSecretWrite).toBeGreaterThan(0)
    expect(lab.api.get('v1', 'Namespace', 'keda')).toBeDefined()

    const files = lab.writtenFiles().map((f) => f.path.replace(lab!.outputDir, ''))
    expect(files.sort()).toEqual([
      '/values/alloy.yaml',
      '/values/keda-lab.yaml',
      '/values/keda.yaml',
      '/values/kube-prometheus-stack.yaml',
      '/values/loki.yaml',
      '/values/redis-ha.yaml',
    ])
    const redis = lab.writtenFiles().find((f) => f.path.endsWith('redis-ha.yaml'))!.content
    expect(redis).toContain('hardAntiAffinity: false') // one node
    expect(r.stdout).toContain('anti-affinity relaxed')

    expect(r.stdout).toContain('minikube tunnel')
    expect(r.stdout).toContain("kubectl get secret keda-lab-grafana -n keda-monitoring -o jsonpath='{.data.admin-password}' | base64 -d")
    expect(r.stdout).toContain('keda-lab doctor')
    expect(r.stdout).toContain('keda-lab uninstall')
  })

  it('a second run upgrades in place and keeps the generated secrets (token read back from the cluster)', async () => {
    lab = await startLab({kind: 'minikube'})
    const first = await runCli(['install', ...BASE_ARGS], {env: lab.env, timeoutMs: 60_000})
    expect(first.code).toBe(0)
    const before = {app: secretData(lab.api, 'keda', 'keda-lab-secrets'), grafana: secretData(lab.api, 'keda-monitoring', 'keda-lab-grafana')}

    // No token this time: the one stored by the first run is reused.
    const second = await runCli(['install', '--yes', '--telegram-chat-id', '123456789'], {env: lab.env, timeoutMs: 60_000})
    expect(second.stderr).toBe('')
    expect(second.code).toBe(0)
    expect(second.stdout).toContain('Release "keda-lab" has been upgraded')
    expect(second.stdout).toContain('redis-password: kept')
    expect(secretData(lab.api, 'keda', 'keda-lab-secrets')).toEqual(before.app)
    expect(secretData(lab.api, 'keda-monitoring', 'keda-lab-grafana')).toEqual(before.grafana)
    expect(upgrades(lab)).toEqual([
      'keda',
      'redis-ha',
      'kube-prometheus-stack',
      'loki',
      'alloy',
      'keda-lab',
      'keda',
      'redis-ha',
      'kube-prometheus-stack',
      'loki',
      'alloy',
      'keda-lab',
    ])
  })

  it('Helm 4 gets --rollback-on-failure and --wait=watcher instead of --atomic and --wait', async () => {
    lab = await startLab({kind: 'minikube'})
    const r = await runCli(['install', ...BASE_ARGS, '--no-monitoring'], {env: {...lab.env, FAKE_HELM_VERSION: 'v4.1.4+g05fa379'}, timeoutMs: 60_000})
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('Helm 4')
    const ups = lab.calls().filter((c) => c.argv[0] === 'upgrade')
    expect(ups.length).toBe(3)
    // The third-party releases; the app release has no wait at all (keda-lab waits for its pods).
    for (const u of ups.filter((c) => c.argv[2] !== 'keda-lab')) {
      expect(u.argv).toContain('--rollback-on-failure')
      expect(u.argv).toContain('--wait=watcher')
      expect(u.argv).not.toContain('--atomic')
      expect(u.argv).not.toContain('--wait')
    }
  })

  it('reuses an existing KEDA (CRD present): no keda release, no kedacore repo, and says so', async () => {
    lab = await startLab({kind: 'minikube', kedaCrd: true})
    const r = await runCli(['install', ...BASE_ARGS, '--no-monitoring'], {env: lab.env, timeoutMs: 60_000})
    expect(r.code).toBe(0)
    expect(upgrades(lab)).toEqual(['redis-ha', 'keda-lab'])
    expect(lab.calls().some((c) => c.argv.includes('kedacore'))).toBe(false)
    expect(r.stdout).toContain('a KEDA that keda-lab did not install runs in namespace keda-system: reusing it')
    expect(r.stdout).toMatch(/monitoring off \(--no-monitoring\)/)
    // The app's Redis NetworkPolicy must let that KEDA in.
    const app = parse(lab.writtenFiles().find((f) => f.path.endsWith('keda-lab.yaml'))!.content)
    expect(app.networkPolicy).toEqual({keda: {namespace: 'keda-system'}})
  })

  it('a failing step stops the run with its name, the stderr tail and a hint', async () => {
    lab = await startLab({kind: 'minikube'})
    const r = await runCli(['install', ...BASE_ARGS], {env: {...lab.env, FAKE_HELM_FAIL_ON: 'redis-ha'}, timeoutMs: 60_000})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Error: step "Redis with Sentinels (dandydeveloper/redis-ha 4.38.0)" failed: helm upgrade --install failed (exit code 1)')
    expect(r.stderr).toContain('  | Error: UPGRADE FAILED: resource not ready, name: redis-ha-server, kind: StatefulSet, status: InProgress')
    expect(r.stderr).toContain('  | context deadline exceeded')
    expect(r.stderr).toMatch(/Fix: kubectl get pods,pvc -n keda -l app=redis-ha.*run `keda-lab install` again to retry.*`keda-lab uninstall`/)
    expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    expect(upgrades(lab)).toEqual(['keda', 'redis-ha']) // nothing after the failed step
  })

  it('kind: docker build then kind load before the app; another cluster pulls the published image once its registry says it exists', async () => {
    lab = await startLab({kind: 'kind', nodes: 3})
    const r = await runCli(['install', ...BASE_ARGS, '--no-monitoring', '--expose', 'NodePort'], {env: lab.env, timeoutMs: 60_000})
    expect(r.code).toBe(0)
    const seq = lab
      .calls()
      .filter((c) => c.bin !== 'helm' || c.argv[0] === 'upgrade')
      .map(cmd)
    expect(seq.slice(-3)).toEqual([
      expect.stringMatching(/^docker build -t keda-lab:0\.1\.0-\d{8}T\d{6} \.$/),
      expect.stringMatching(/^kind load docker-image keda-lab:0\.1\.0-\d{8}T\d{6} --name lab$/),
      expect.stringMatching(/^helm upgrade --install keda-lab /),
    ])
    const redis = lab.writtenFiles().find((f) => f.path.endsWith('redis-ha.yaml'))!.content
    expect(redis).toContain('hardAntiAffinity: true') // 3 nodes for 3 replicas
    await lab.close()

    lab = await startLab({kind: 'other', nodes: 2})
    // Another cluster pulls the published image, checked first against a real registry (the mirror).
    const registry = await startOciRegistry()
    try {
      const env = {...lab.env, KEDA_LAB_REGISTRY_MIRROR: `http://${registry.host}`}
      const missing = await runCli(['install', ...BASE_ARGS, '--no-monitoring'], {env, timeoutMs: 60_000})
      expect(missing.code, missing.stderr).toBe(1)
      expect(missing.stdout).toMatch(/× application image: ghcr\.io\/keda-lab\/keda-lab:0\.1\.0 does not exist: .* \(404\) \(asked http:\/\/127\.0\.0\.1:\d+\)/)
      expect(missing.stdout).toContain('(asked http://127.0.0.1')
      expect(missing.stdout).toContain('no image of this keda-lab version is published under that name')
      expect(missing.stderr).toMatch(
        /^Fix: build and push the image yourself and pass it: docker build -t <registry>\/<you>\/keda-lab:<tag> \S+ && docker push .*, then install --image <registry>\/<you>\/keda-lab:<tag>; or install on minikube\/kind/m,
      )
      expect(lab.calls().map(cmd)).toEqual(['helm version --short'])

      await registry.push('keda-lab/keda-lab', '0.1.0')
      const other = await runCli(['install', ...BASE_ARGS, '--no-monitoring'], {env, timeoutMs: 60_000})
      expect(other.code, other.stderr).toBe(0)
      expect(other.stdout).toMatch(/√ application image: ghcr\.io\/keda-lab\/keda-lab:0\.1\.0 exists \(sha256:/)
      expect(other.stdout).toContain('pulling ghcr.io/keda-lab/keda-lab:0.1.0, the published image of keda-lab 0.1.0')
      expect(lab.writtenFiles().find((f) => f.path.endsWith('keda-lab.yaml'))!.content).toMatch(/repository: ghcr.io\/keda-lab\/keda-lab\n\s+tag: 0.1.0/)

      await registry.push('acme/keda-lab', '0.1.0')
      const withImage = await runCli(['install', ...BASE_ARGS, '--no-monitoring', '--image', 'ghcr.io/acme/keda-lab:0.1.0'], {env, timeoutMs: 60_000})
      expect(withImage.code, withImage.stderr).toBe(0)
      expect(withImage.stdout).toContain('using ghcr.io/acme/keda-lab:0.1.0 from its registry')
      expect(lab.calls().some((c) => c.bin === 'docker' || c.bin === 'minikube')).toBe(false)
      expect(lab.writtenFiles().find((f) => f.path.endsWith('keda-lab.yaml'))!.content).toMatch(/repository: ghcr.io\/acme\/keda-lab\n\s+tag: 0.1.0/)
    } finally {
      await registry.stop()
    }

    // Offline (the registry does not answer): a warning that says why, and the install goes on.
    const offline = await runCli(['install', ...BASE_ARGS, '--no-monitoring', '--dry-run'], {env: lab.env, timeoutMs: 60_000})
    expect(offline.code, offline.stderr).toBe(0)
    expect(offline.stdout).toMatch(
      /‼ application image: could not check ghcr\.io\/keda-lab\/keda-lab:0\.1\.0: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
    )
  })

  it('a failing pre-flight names every fatal problem with its fix and changes nothing; an unreachable cluster too', async () => {
    lab = await startLab({kind: 'minikube', cpu: '1', memory: '2Gi', defaultStorageClass: false})
    const r = await runCli(['install', ...BASE_ARGS], {env: lab.env, timeoutMs: 60_000})
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('× StorageClass (Redis and Loki persistence): no StorageClass at all')
    expect(r.stdout).toMatch(/× CPU and memory for the chosen profile: allocatable 1 CPU, 2\.0 GiB; \S+ CPU, \S+ GiB requested at minimum replicas/)
    expect(r.stderr).toMatch(
      /^Error: pre-flight failed: StorageClass \(Redis and Loki persistence\) \(no StorageClass at all\); CPU and memory for the chosen profile/m,
    )
    expect(r.stderr).toContain('nothing was changed')
    expect(lab.calls().map((c) => c.argv.join(' '))).toEqual(['version --short'])
    expect(lab.api.requests.filter((q) => q.method !== 'GET' && !q.path.includes('selfsubjectaccessreviews'))).toEqual([])

    await lab.api.close()
    const down = await runCli(['install', ...BASE_ARGS], {env: lab.env, timeoutMs: 60_000})
    expect(down.code).toBe(4) // EXIT_NO_CLUSTER
    expect(down.stdout).toMatch(/× cluster reachable: context minikube \(http:\/\/127\.0\.0\.1:\d+\)/)
    expect(down.stderr).toMatch(/^Error: pre-flight failed: cluster reachable/m)
    expect(down.stderr).toContain('minikube start')
    expect(down.stderr).not.toMatch(/\n\s+at /)
  })
})
