/**
 * `keda-lab uninstall` against namespaces that are really stuck in Terminating, on the real control
 * plane: the real namespace controller holds them and writes the conditions uninstall reads (issue 15
 * §2, the stuck cases of test/e2e/uninstall-cli.test.ts made real).
 * - An object with a finalizer nobody removes (a ScaledObject's `finalizer.keda.sh` with no KEDA
 *   running, as when KEDA was removed first) and a namespace spec finalizer nobody owns: named with
 *   their blockers, by uninstall and by doctor's terminating-namespaces check (a warning while fresh, a
 *   failure once older than its threshold); `--force` clears them (merge patch, then /finalize) and
 *   the namespaces go.
 * - KEDA's external-metrics APIService outliving KEDA, its Service without endpoints: once the
 *   namespace controller has deleted that Service with the rest of the namespace's content, the
 *   aggregator marks the APIService unavailable (ServiceNotFound), discovery fails and the controller
 *   cannot finish; named without `--purge`, deleted first with `--purge`, after which the namespace goes.
 *
 * A control plane of this file's own: an unavailable APIService blocks every namespace's deletion.
 */
import {afterAll, describe, expect, it} from 'vitest'

import {noStuckNamespace} from '../../src/lab/doctor/checks.js'
import {runCli} from '../helpers/cli.js'
import {helmBinary} from '../helpers/helm.js'
import {adminRequest} from './control-plane.js'
import {applyCrds, kedaCrds} from './crds.js'
import {createNamespace, useCluster} from './harness.js'
import {doctorContext, getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {dedicated: true, namespace: false})
const API_SERVICE = 'v1beta1.external.metrics.k8s.io'

const must = async (method: string, path: string, body?: unknown) => {
  const res = await adminRequest(cluster.kubeconfig, method, path, body)
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`)
}
const env = (): NodeJS.ProcessEnv => ({KUBECONFIG: cluster.kubeconfig, PATH: `${helmBinary(3).replace(/\/helm$/, '')}:${process.env.PATH}`})
const exists = async (ns: string) => (await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns}`)) !== undefined

afterAll(async () => {
  // Whatever a failed run left: the control plane is stopped with the file anyway.
  await adminRequest(cluster.kubeconfig, 'DELETE', `/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`).catch(() => undefined)
})

describe('uninstall with namespaces the real namespace controller cannot finish', () => {
  it('an object finalizer and a spec finalizer nobody removes: named with their blockers; --force clears them', async () => {
    await applyCrds(cluster.kubeconfig, await kedaCrds())
    await createNamespace(cluster.kubeconfig, 'stuck-app')
    // An earlier uninstall removed KEDA before the ScaledObject was released: the classic stuck namespace.
    await must('POST', '/apis/keda.sh/v1alpha1/namespaces/stuck-app/scaledobjects', {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: {name: 'keda-lab-worker', finalizers: ['finalizer.keda.sh']},
      spec: {scaleTargetRef: {name: 'keda-lab-worker'}, triggers: [{type: 'cpu', metricType: 'Utilization', metadata: {value: '50'}}]},
    })
    await must('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {name: 'stuck-mon'},
      spec: {finalizers: ['kubernetes', 'example.com/hold']},
    })
    const args = ['uninstall', '--yes', '-n', 'stuck-app', '--monitoring-namespace', 'stuck-mon']
    const stuck = await runCli([...args, '--timeout', '20'], {env: env(), timeoutMs: 180_000})
    expect(stuck.code, `${stuck.stdout}\n${stuck.stderr}`).toBe(1)
    // The real controller's own words.
    expect(stuck.stdout).toContain(
      [
        '× Namespace stuck-app is stuck in Terminating, blocked by:',
        '    NamespaceContentRemaining: Some resources are remaining: scaledobjects.keda.sh has 1 resource instances',
        '    NamespaceFinalizersRemaining: Some content in the namespace has finalizers remaining: finalizer.keda.sh in 1 resource instances',
        '    scaledobjects.keda.sh/keda-lab-worker (finalizers: finalizer.keda.sh)',
        '    hint: `keda-lab uninstall --force` clears these finalizers (skipping the clean-up they stand for)',
      ].join('\n'),
    )
    expect(stuck.stdout).toContain('× Namespace stuck-mon is stuck in Terminating, blocked by:\n    namespace spec.finalizers: example.com/hold')
    expect(stuck.stdout).toContain('- No keda-lab Helm release was installed')
    expect(await exists('stuck-app')).toBe(true)

    // doctor's check on the same namespaces, in-process: fresh, a warning (the deletion may still finish) …
    const doctor = await doctorContext(cluster.kubeconfig, {namespace: 'keda'})
    expect(await noStuckNamespace.run({...doctor, stuckAfterMs: 3_600_000})).toMatchObject({status: 'warn'})
    // … Terminating for longer than stuckAfterMs: a failure naming each one with what blocks it.
    const later = () => Date.now() + 10 * 60_000
    const failed = await noStuckNamespace.run({...doctor, now: later})
    expect(failed.status).toBe('fail')
    expect(failed.detail).toMatch(
      /^stuck-app \(Terminating for 6\d\ds; blocked by scaledobjects\.keda\.sh\/keda-lab-worker \(finalizers: finalizer\.keda\.sh\)\), stuck-mon \(Terminating for 6\d\ds; blocked by namespace spec\.finalizers: example\.com\/hold\)$/,
    )
    // Not the doctor's namespaces: how to clear a finalizer by hand; its own: uninstall --force.
    expect(failed.hint).toMatch(/^clear the finalizers of the objects listed: kubectl patch /)
    expect((await noStuckNamespace.run({...doctor, namespace: 'stuck-app', now: later})).hint).toBe(
      '`keda-lab uninstall --force` clears these finalizers (skipping the clean-up they stand for)',
    )

    const forced = await runCli([...args, '--force', '--timeout', '20'], {env: env(), timeoutMs: 180_000})
    expect(forced.code, `${forced.stdout}\n${forced.stderr}`).toBe(0)
    expect(forced.stdout).toContain('√ Namespace stuck-app removed after clearing finalizers (--force): scaledobjects.keda.sh/keda-lab-worker')
    expect(forced.stdout).toContain('√ Namespace stuck-mon removed after clearing finalizers (--force); namespace spec.finalizers example.com/hold')
    expect(await exists('stuck-app')).toBe(false)
    expect(await exists('stuck-mon')).toBe(false)
  }, 420_000)

  it('KEDA’s APIService outliving KEDA (its Service has no endpoints) keeps the namespace Terminating: named without --purge, deleted first with --purge', async () => {
    await createNamespace(cluster.kubeconfig, 'dangling')
    // What the KEDA chart leaves when its pods are gone: the Service without endpoints, and the APIService.
    await must('POST', '/api/v1/namespaces/dangling/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {name: 'keda-operator-metrics-apiserver'},
      spec: {selector: {app: 'keda-operator-metrics-apiserver'}, ports: [{name: 'https', port: 443, targetPort: 6443}]},
    })
    await must('POST', '/apis/apiregistration.k8s.io/v1/apiservices', {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: {name: API_SERVICE, labels: {'app.kubernetes.io/part-of': 'keda-operator'}},
      spec: {
        group: 'external.metrics.k8s.io',
        version: 'v1beta1',
        service: {name: 'keda-operator-metrics-apiserver', namespace: 'dangling', port: 443},
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    })
    const args = ['uninstall', '--yes', '-n', 'dangling', '--monitoring-namespace', 'dangling-mon']
    const stuck = await runCli([...args, '--timeout', '20'], {env: env(), timeoutMs: 180_000})
    expect(stuck.code, `${stuck.stdout}\n${stuck.stderr}`).toBe(1)
    expect(stuck.stdout).toContain('× Namespace dangling is stuck in Terminating, blocked by:')
    expect(stuck.stdout).toMatch(/ {4}NamespaceDeletionDiscoveryFailure: Discovery failed for some groups, 1 failing: .*external\.metrics\.k8s\.io\/v1beta1/)
    expect(stuck.stdout).toMatch(
      new RegExp(
        `    APIService ${API_SERVICE.replaceAll('.', '\\.')} is unavailable \\((ServiceNotFound|MissingEndpoints|EndpointsNotFound|FailedDiscoveryCheck)`,
      ),
    )
    expect(stuck.stdout).toContain(
      `    hint: the unavailable APIService ${API_SERVICE} stops the namespace controller: start what serves it again or \`kubectl delete apiservice ${API_SERVICE}\` if nothing should serve it`,
    )
    expect(stuck.stdout).toContain(`    APIService ${API_SERVICE} (from keda)`)
    expect(await exists('dangling')).toBe(true)

    const purged = await runCli([...args, '--purge', '--timeout', '60'], {env: env(), timeoutMs: 180_000})
    expect(purged.code, `${purged.stdout}\n${purged.stderr}`).toBe(0)
    expect(purged.stdout).toContain(`--purge: deleting APIService ${API_SERVICE} first (an unavailable APIService keeps namespaces in Terminating)`)
    expect(purged.stdout).toContain('√ Namespace dangling removed')
    expect(purged.stdout).toContain(`√ Deleted cluster-scoped leftovers: APIService ${API_SERVICE}`)
    expect(await exists('dangling')).toBe(false)
    expect(await getJson(cluster.kubeconfig, `/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`)).toBeUndefined()
  }, 420_000)
})
