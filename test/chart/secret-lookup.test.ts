/**
 * `secrets.create=true` keeps generated secrets across upgrades through Helm's `lookup`. `lookup`
 * only sees a cluster with `--dry-run=server`, so the real Helm 3 and Helm 4 render the chart as
 * shipped (NetworkPolicies and PodDisruptionBudgets on, OpenAPI validation on) against the REAL API
 * server (test/cluster/control-plane.ts) holding an existing Secret: the rendered Secret must carry
 * the existing values, not new random ones, unless a value is given explicitly.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {adminRequest} from '../cluster/control-plane.js'
import {applyCrds, kedaCrds} from '../cluster/crds.js'
import {useCluster} from '../cluster/harness.js'
import {CHART_DIR, type HelmMajor, parseManifests, runHelm} from '../helpers/helm.js'

const EXISTING = {
  'redis-password': 'redis-password-from-the-first-install',
  'webhook-token': 'webhook-token-from-the-first-install',
  'telegram-bot-token': '123456789:AAExampleExampleExampleExampleExam1',
}
const b64 = (value: string): string => Buffer.from(value).toString('base64')

const cluster = useCluster(import.meta.url)

beforeAll(async () => {
  // The app chart needs KEDA's kinds served (its ScaledObject): the CRDs KEDA's chart installs.
  await applyCrds(cluster.kubeconfig, await kedaCrds())
  const res = await adminRequest(cluster.kubeconfig, 'POST', `/api/v1/namespaces/${cluster.namespace}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    // As the first `helm install` left it: owned by the release (Helm 4 checks ownership).
    metadata: {
      name: 'keda-lab-secrets',
      labels: {'app.kubernetes.io/managed-by': 'Helm'},
      annotations: {'meta.helm.sh/release-name': 'keda-lab', 'meta.helm.sh/release-namespace': cluster.namespace},
    },
    data: Object.fromEntries(Object.entries(EXISTING).map(([k, v]) => [k, b64(v)])),
  })
  if (res.status !== 201) throw new Error(`creating the Secret failed: ${res.status} ${res.body.slice(0, 300)}`)
}, 120_000)

const validate = (major: HelmMajor) => (major === 3 ? ['--validate'] : [])

async function renderAgainstCluster(major: HelmMajor, set: string[]): Promise<Record<string, string>> {
  const result = await runHelm(
    major,
    [
      'template',
      'keda-lab',
      CHART_DIR,
      '--namespace',
      cluster.namespace,
      '--kubeconfig',
      cluster.kubeconfig,
      '--dry-run=server',
      // The chart as shipped: NetworkPolicies and PDBs on; Helm validates against the server (Helm 3
      // needs --validate for that, and for the server's capabilities; Helm 4 does both with --dry-run=server).
      ...validate(major),
      '--set',
      'secrets.create=true',
      ...set.flatMap((s) => ['--set', s]),
    ],
    120_000,
  )
  expect(result.exitCode, result.stderr).toBe(0)
  const objects = parseManifests(result.stdout)
  // The objects the fake API could not serve are really rendered, and were validated.
  expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['NetworkPolicy', 'PodDisruptionBudget', 'ScaledObject']))
  const secret = objects.find((o) => o.kind === 'Secret')
  expect(secret).toBeDefined()
  return Object.fromEntries(Object.entries(secret?.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))
}

describe.each([3, 4] as HelmMajor[])('secrets.create on upgrade with Helm %i (lookup against the real API server)', (major) => {
  it('keeps the existing generated values instead of generating new ones', async () => {
    expect(await renderAgainstCluster(major, [])).toEqual(EXISTING)
    // Control: without the Secret in the cluster, lookup finds nothing and new values are generated.
    const elsewhere = await runHelm(
      major,
      [
        'template',
        'keda-lab',
        CHART_DIR,
        '--namespace',
        'default',
        '--kubeconfig',
        cluster.kubeconfig,
        '--dry-run=server',
        ...validate(major),
        '--set',
        `secrets.create=true,secrets.telegramBotToken=${EXISTING['telegram-bot-token']}`,
      ],
      120_000,
    )
    expect(elsewhere.exitCode, elsewhere.stderr).toBe(0)
    const fresh = parseManifests(elsewhere.stdout).find((o) => o.kind === 'Secret')?.data as Record<string, string>
    expect(Buffer.from(fresh['redis-password'] ?? '', 'base64').toString()).not.toBe(EXISTING['redis-password'])
  })

  it('lets an explicitly given value replace the kept one', async () => {
    const data = await renderAgainstCluster(major, ['secrets.redisPassword=rotated-redis-password'])
    expect(data['redis-password']).toBe('rotated-redis-password')
    expect(data['webhook-token']).toBe(EXISTING['webhook-token'])
  })
})
