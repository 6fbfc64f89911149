/**
 * The control plane's metrics API for real: kwok's simulated usage, scraped by the real
 * metrics-server behind APIService v1beta1.metrics.k8s.io, read through the API server's aggregator
 * and by the real `kubectl top` (test/cluster/metrics-api.ts, set up by control-plane.ts).
 */
import {execFile} from 'node:child_process'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {describe, expect, it} from 'vitest'

import {helmBinary} from '../helpers/helm.js'
import {notYet, waitFor} from '../helpers/processes.js'
import {adminRequest, NODE_NAME} from './control-plane.js'
import {setSimulatedUsage, useCluster} from './harness.js'
import {getJson} from './kube-test-helpers.js'
import {METRICS_API_SERVICE} from './metrics-api.js'

const cluster = useCluster(import.meta.url)
const kubectl = join(helmBinary(4), '..', 'kubectl')
const run = promisify(execFile)

interface PodMetrics {
  items: {metadata: {name: string}; containers: {name: string; usage: {cpu: string; memory: string}}[]}[]
}

/** millicores of a metrics API quantity ('250m', '249912345n', '1'). */
function millicores(q: string): number {
  const m = /^(\d+(?:\.\d+)?)([num]?)$/.exec(q)
  if (!m) throw new Error(`unexpected CPU quantity ${q}`)
  const scale = {n: 1e-6, u: 1e-3, m: 1, '': 1000}[m[2] as 'n' | 'u' | 'm' | '']
  return Number(m[1]) * scale
}

/** bytes of a metrics API memory quantity ('96Mi', '98304Ki', '100663296'). */
function bytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q)
  if (!m) throw new Error(`unexpected memory quantity ${q}`)
  return Number(m[1]) * {Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, '': 1}[(m[2] ?? '') as 'Ki' | 'Mi' | 'Gi' | '']
}

async function deployment(name: string, replicas: number): Promise<void> {
  const res = await adminRequest(cluster.kubeconfig, 'POST', `/apis/apps/v1/namespaces/${cluster.namespace}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name},
    spec: {
      replicas,
      selector: {matchLabels: {app: name}},
      template: {
        metadata: {labels: {app: name}},
        spec: {containers: [{name, image: 'keda-lab:test', resources: {requests: {cpu: '100m', memory: '64Mi'}}}]},
      },
    },
  })
  expect(res.status, res.body).toBe(201)
}

/** CPU (millicores) and memory (bytes) of each pod of the namespace whose name starts with `prefix`, once metrics-server has them all. */
async function podUsage(prefix: string, count: number, what: string, accept: (cpu: number) => boolean): Promise<{cpu: number; memory: number}[]> {
  return waitFor(
    async () => {
      const list = await getJson<PodMetrics>(cluster.kubeconfig, `/apis/metrics.k8s.io/v1beta1/namespaces/${cluster.namespace}/pods`)
      const pods = (list?.items ?? []).filter((p) => p.metadata.name.startsWith(prefix))
      const usage = pods.map((p) => ({cpu: millicores(p.containers[0]?.usage.cpu ?? '0'), memory: bytes(p.containers[0]?.usage.memory ?? '0')}))
      if (usage.length !== count || !usage.every((u) => accept(u.cpu))) return notYet(`pods' usage: ${JSON.stringify(usage)}`)
      return usage
    },
    {timeoutMs: 90_000, intervalMs: 1000, what},
  )
}

describe('metrics API (metrics-server on kwok usage)', () => {
  it('is registered and Available on the control plane', async () => {
    const api = await getJson<{status: {conditions: {type: string; status: string}[]}}>(
      cluster.kubeconfig,
      `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_API_SERVICE}`,
    )
    expect(api?.status.conditions.find((c) => c.type === 'Available')?.status).toBe('True')
  })

  it("reports a workload's simulated CPU and memory per pod, follows a change, and kubectl top shows it", async () => {
    await deployment('busy', 2)
    await deployment('idle', 1)
    await setSimulatedUsage(cluster.kubeconfig, {namespace: cluster.namespace, deployment: 'busy', cpu: '250m', memory: '96Mi'})
    // kwok integrates CPU seconds between scrapes: the rate comes out within a few percent of the setting.
    const busy = await podUsage('busy-', 2, 'both busy pods at ~250m', (cpu) => Math.abs(cpu - 250) < 25)
    expect(busy.map((u) => u.memory)).toEqual([96 * 1024 ** 2, 96 * 1024 ** 2])
    // The namespace's other pods report the small baseline, not the workload's usage.
    const idle = await podUsage('idle-', 1, 'the idle pod at its baseline', (cpu) => cpu < 10)
    expect(idle[0]?.memory).toBe(16 * 1024 ** 2)

    await setSimulatedUsage(cluster.kubeconfig, {namespace: cluster.namespace, deployment: 'busy', cpu: 0.6, memory: '96Mi'})
    await podUsage('busy-', 2, 'both busy pods at ~600m after the change', (cpu) => Math.abs(cpu - 600) < 60)

    const env = {...process.env, KUBECONFIG: cluster.kubeconfig}
    const top = await run(kubectl, ['top', 'pod', '-n', cluster.namespace, '--no-headers'], {env})
    const rows = top.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
    expect(rows.filter((r) => r[0]?.startsWith('busy-')).map((r) => r[2])).toEqual(['96Mi', '96Mi'])
    for (const r of rows.filter((r) => r[0]?.startsWith('busy-'))) expect(Math.abs(Number.parseInt(r[1] ?? '', 10) - 600)).toBeLessThan(60)

    const nodes = await waitFor(
      async () => {
        const out = await run(kubectl, ['top', 'node', '--no-headers'], {env}).catch((e: {stderr?: string}) => ({stdout: '', stderr: e.stderr ?? ''}))
        return out.stdout.includes(NODE_NAME) ? out.stdout : notYet(`kubectl top node: ${out.stdout}${out.stderr}`)
      },
      {timeoutMs: 60_000, intervalMs: 1000, what: 'kubectl top node to list the kwok node'},
    )
    // The node's CPU is the sum of its pods' (at least the two busy ones).
    const nodeCpu = Number.parseInt(nodes.trim().split(/\s+/)[1] ?? '', 10)
    expect(nodeCpu).toBeGreaterThanOrEqual(1100)
  }, 240_000)
})
