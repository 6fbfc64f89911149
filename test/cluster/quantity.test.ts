/**
 * keda-lab's quantity parser against the real API server: each quantity is sent in a ResourceQuota
 * (server-side dry run: validated, defaulted and canonicalised, not stored) and what the API server
 * answers is compared with what src/adapters/kube/quantity.ts makes of it (a ResourceList is rounded up to a millicore, so: the same millicores) for the
 * input and for the server's canonical form, and a rejection wherever the server rejects.
 */
import {describe, expect, it} from 'vitest'

import {parseCpuMillis, parseQuantity} from '../../src/adapters/kube/quantity.js'
import {adminRequest} from './control-plane.js'
import {useCluster} from './harness.js'

const cluster = useCluster(import.meta.url)

const ACCEPTED = [
  '250u',
  '2k',
  '1E9',
  '1e9',
  '1E',
  '1e-3',
  '1e+3',
  '0.1n',
  '1e-10',
  '100u',
  '0.1m',
  '1.5',
  '1.',
  '.5',
  '+1',
  '1500m',
  '2000m',
  '1000',
  '1500',
  '0.5Gi',
  '1.5Ki',
  '1024',
  '1023Ki',
  '16318948Ki',
  '8Gi',
  '512M',
  '1T',
  '1P',
  '0',
  '0m',
  '0.000000001',
  '12345678901234',
  '1.0000000001',
  '3Ei',
  'm',
  '.',
  '+',
  'Ki',
  'e3',
  '0.5m',
  '1 ',
  ' 1',
]
const REJECTED = ['1x', '1e', '1KI', '1ki', '1.5.3', '1e1.5', '1b', '--1', '8GB']

/** The API server's canonical form of `quantity` (its 4xx message when it refuses it). */
async function canonical(namespace: string, quantity: string): Promise<{value?: string; refused?: string}> {
  const res = await adminRequest(cluster.kubeconfig, 'POST', `/api/v1/namespaces/${namespace}/resourcequotas?dryRun=All`, {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: {name: 'q'},
    spec: {hard: {'requests.cpu': quantity}},
  })
  if (res.status >= 400 && res.status < 500) return {refused: res.body}
  if (res.status !== 201) throw new Error(`POST ResourceQuota (${quantity}): ${res.status} ${res.body.slice(0, 300)}`)
  const value = (JSON.parse(res.body) as {spec?: {hard?: Record<string, string>}}).spec?.hard?.['requests.cpu']
  return {value}
}

describe('quantities as the API server parses them', () => {
  it('each accepted quantity has the value of its canonical form', async () => {
    const rows: string[] = []
    for (const q of ACCEPTED) {
      const answer = await canonical(cluster.namespace, q)
      expect(answer.refused, `the API server refused ${q}`).toBeUndefined()
      const server = answer.value ?? ''
      rows.push(`${q} -> ${server}`)
      // A ResourceList value is rounded up to a millicore by the API server (SetDefaults_ResourceList),
      // which is what parseCpuMillis does (MilliValue rounds up): same millis for input and canonical form.
      expect(parseCpuMillis(server), `${q} (canonical ${server})`).toBe(parseCpuMillis(q))
      expect(parseQuantity(server).nanos % 1_000_000n, `${server} is whole millis`).toBe(0n)
    }
    console.log(`API server canonical forms: ${rows.join(', ')}`)
  })

  it('what the API server refuses, the parser refuses', async () => {
    for (const q of REJECTED) {
      const answer = await canonical(cluster.namespace, q)
      expect(answer.refused, `the API server accepted ${q} as ${answer.value}`).toBeDefined()
      expect(() => parseQuantity(q), q).toThrow(/is not a Kubernetes quantity/)
    }
  })
})
