/**
 * Pod Security admission of the real API server: in a namespace labelled
 * pod-security.kubernetes.io/enforce=restricted, every pod of the app chart (API, worker, webhook)
 * is admitted; a control with one container allowed to escalate privileges is refused, which
 * shows the check can fail.
 */
import {describe, expect, it} from 'vitest'

import {CHART_DIR, helmBinary, runHelm} from '../helpers/helm.js'
import {notYet, waitFor} from '../helpers/processes.js'
import {applyCrds, kedaCrds} from './crds.js'
import {createNamespace, useCluster} from './harness.js'
import {getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {namespace: false})
const RESTRICTED = {'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest'}

interface Deployment {
  metadata: {name: string}
  spec: {replicas?: number}
  status: {readyReplicas?: number; conditions?: {type: string; status: string; reason?: string; message?: string}[]}
}
interface EventList {
  items: {reason: string; message: string; involvedObject: {kind: string; name: string}}[]
}

async function installApp(ns: string, extra: string[]): Promise<void> {
  await createNamespace(cluster.kubeconfig, ns, RESTRICTED)
  const result = await runHelm(
    3,
    [
      'upgrade',
      '--install',
      'keda-lab',
      CHART_DIR,
      '--namespace',
      ns,
      '--kubeconfig',
      cluster.kubeconfig,
      '--set',
      'secrets.create=true',
      '--set',
      'secrets.telegramBotToken=123456789:AAH-pod-security-test-token-00000000',
      '--set',
      'webhook.telegram.chatIds={42}',
      '--set',
      'monitoring.enabled=false',
      ...extra,
    ],
    120_000,
  )
  expect(result.exitCode, result.stderr).toBe(0)
}

const podRefusals = async (ns: string) =>
  ((await getJson<EventList>(cluster.kubeconfig, `/api/v1/namespaces/${ns}/events`))?.items ?? []).filter(
    (e) => e.reason === 'FailedCreate' && e.message.includes('violates PodSecurity'),
  )

describe('Pod Security admission (restricted) on the real API server', () => {
  it('admits every pod of the app chart: API, worker and webhook all run', async () => {
    expect(helmBinary(3)).toBeTruthy()
    await applyCrds(cluster.kubeconfig, await kedaCrds())
    const ns = 'psa-restricted'
    await installApp(ns, ['--set', 'worker.autoscaling.minReplicaCount=1'])
    const names = ['keda-lab-api', 'keda-lab-worker', 'keda-lab-webhook']
    await waitFor(
      async () => {
        const refused = await podRefusals(ns)
        if (refused.length > 0) throw new Error(`Pod Security refused: ${refused.map((e) => e.message).join('; ')}`)
        for (const name of names) {
          const d = await getJson<Deployment>(cluster.kubeconfig, `/apis/apps/v1/namespaces/${ns}/deployments/${name}`)
          if ((d?.status.readyReplicas ?? 0) < 1) return notYet(`${name}: ${d?.status.readyReplicas ?? 0} ready`)
        }
        return true
      },
      {timeoutMs: 120_000, intervalMs: 1000, what: 'every app pod admitted and running'},
    )
  }, 240_000)

  it('refuses a pod that breaks the profile (control: the admission really judges these pods)', async () => {
    const ns = 'psa-control'
    await installApp(ns, ['--set', 'securityContext.allowPrivilegeEscalation=true'])
    const refused = await waitFor(
      async () => {
        const events = await podRefusals(ns)
        return events.length > 0 ? events : notYet('no FailedCreate event yet')
      },
      {timeoutMs: 120_000, intervalMs: 1000, what: 'Pod Security to refuse the pods'},
    )
    expect(refused.map((e) => e.message).join('\n')).toContain('allowPrivilegeEscalation != false')
  }, 240_000)
})
