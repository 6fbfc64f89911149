/**
 * `secrets.create=true` keeps generated secrets across upgrades through Helm's `lookup`. `lookup`
 * only sees a cluster with `--dry-run=server`, so the real Helm 3 and Helm 4 render against the
 * loopback fake Kubernetes API (test/fakes/kube-api.ts) holding an existing Secret: the rendered
 * Secret must carry the existing values, not new random ones, unless a value is given explicitly.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type FakeKubeApi, type KubeObject, startFakeKubeApi} from '../fakes/kube-api.js'
import {CHART_DIR, type HelmMajor, parseManifests, runHelm} from '../helpers/helm.js'

const EXISTING = {
  'redis-password': 'redis-password-from-the-first-install',
  'webhook-token': 'webhook-token-from-the-first-install',
  'telegram-bot-token': '123456789:AAExampleExampleExampleExampleExam1',
}
const b64 = (value: string): string => Buffer.from(value).toString('base64')

let api: FakeKubeApi
let dir: string
let kubeconfig: string

beforeAll(async () => {
  api = await startFakeKubeApi()
  dir = await mkdtemp(join(tmpdir(), 'keda-lab-lookup-'))
  kubeconfig = api.writeKubeconfig(dir)
  api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'keda'}} as KubeObject)
  api.put({
    apiVersion: 'v1',
    kind: 'Secret',
    // As the first `helm install` left it: owned by the release (Helm 4 checks ownership).
    metadata: {
      name: 'keda-lab-secrets',
      namespace: 'keda',
      labels: {'app.kubernetes.io/managed-by': 'Helm'},
      annotations: {'meta.helm.sh/release-name': 'keda-lab', 'meta.helm.sh/release-namespace': 'keda'},
    },
    data: Object.fromEntries(Object.entries(EXISTING).map(([k, v]) => [k, b64(v)])),
  } as KubeObject)
})

afterAll(async () => {
  await api?.close()
  if (dir) await rm(dir, {recursive: true, force: true})
})

async function renderAgainstCluster(major: HelmMajor, set: string[]): Promise<Record<string, string>> {
  const result = await runHelm(major, [
    'template',
    'keda-lab',
    CHART_DIR,
    '--namespace',
    'keda',
    '--kubeconfig',
    kubeconfig,
    '--dry-run=server',
    // The fake serves no OpenAPI document, and its discovery lacks the policy and
    // networking groups: those objects are switched off, they play no part in lookup.
    '--disable-openapi-validation',
    '--set',
    'secrets.create=true,networkPolicy.enabled=false,api.pdb.enabled=false,worker.pdb.enabled=false,webhook.pdb.enabled=false',
    ...set.flatMap((s) => ['--set', s]),
  ])
  expect(result.exitCode, result.stderr).toBe(0)
  const secret = parseManifests(result.stdout).find((o) => o.kind === 'Secret')
  expect(secret).toBeDefined()
  return Object.fromEntries(Object.entries(secret?.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))
}

describe.each([3, 4] as HelmMajor[])('secrets.create on upgrade with Helm %i (lookup against a fake API server)', (major) => {
  it('keeps the existing generated values instead of generating new ones', async () => {
    expect(await renderAgainstCluster(major, [])).toEqual(EXISTING)
    // The chart really asked the API server for the Secret.
    expect(api.requests.some((r) => r.method === 'GET' && r.path.endsWith('/namespaces/keda/secrets/keda-lab-secrets'))).toBe(true)
  })

  it('lets an explicitly given value replace the kept one', async () => {
    const data = await renderAgainstCluster(major, ['secrets.redisPassword=rotated-redis-password'])
    expect(data['redis-password']).toBe('rotated-redis-password')
    expect(data['webhook-token']).toBe(EXISTING['webhook-token'])
  })
})
