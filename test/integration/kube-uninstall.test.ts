/**
 * uninstall() in-process on the real client-node against the fake Kubernetes API, with the real
 * Helm 3 answering `helm list`, and a virtual clock: the wait for namespaces is bounded and reports
 * progress, a cancelled confirmation changes nothing.
 */
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {createKube, type Kube} from '../../src/adapters/kube/index.js'
import {createReleaseManager, type ReleaseManager} from '../../src/lab/uninstall/releases.js'
import {uninstall} from '../../src/lab/uninstall/run.js'
import {type FakeKubeApi, startFakeKubeApi} from '../fakes/kube-api.js'
import {repoRoot} from '../helpers/cli.js'

let api: FakeKubeApi
let dir: string
let kube: Kube
let releases: ReleaseManager
let virtualNow: number
const clock = {sleep: async (ms: number) => void (virtualNow += ms), now: () => virtualNow}

beforeEach(async () => {
  const helm = join(repoRoot, '.tools/helm3/helm')
  if (!existsSync(helm)) throw new Error('.tools/helm3/helm is missing: run scripts/fetch-tools.sh (or .ci/run)')
  api = await startFakeKubeApi()
  dir = mkdtempSync(join(tmpdir(), 'kube-uninstall-'))
  const kubeconfig = api.writeKubeconfig(dir)
  kube = await createKube({kubeconfig})
  releases = createReleaseManager({bin: helm, env: {KUBECONFIG: kubeconfig, HELM_CACHE_HOME: join(dir, 'c'), HELM_CONFIG_HOME: join(dir, 'g')}})
  virtualNow = 0
})

afterEach(async () => {
  await api.close()
  rmSync(dir, {recursive: true, force: true})
})

const options = {namespace: 'keda', monitoringNamespace: 'keda-monitoring', purge: false, force: false, timeoutMs: 30_000, pollMs: 500}

describe('uninstall (in-process)', () => {
  it('waits for a slow namespace with progress every 5 s, and reports it removed', async () => {
    api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'keda-monitoring'}, spec: {finalizers: ['kubernetes', 'example.com/slow']}})
    // A third-party finalizer that its controller clears after 12 s of (virtual) time.
    api.onReconcile((a) => {
      const ns = a.get('v1', 'Namespace', 'keda-monitoring')
      if (ns?.metadata.deletionTimestamp && virtualNow >= 12_000 && ns.spec.finalizers.includes('example.com/slow')) {
        a.put({...ns, spec: {finalizers: ns.spec.finalizers.filter((f: string) => f !== 'example.com/slow')}})
      }
    })
    const log: string[] = []
    const report = await uninstall(options, {kube, releases, log: (l) => log.push(l), confirm: async () => true, ...clock})
    expect(log).toEqual([
      'Deleting namespace keda-monitoring',
      'Waiting for namespaces to disappear: keda-monitoring still Terminating (5s)',
      'Waiting for namespaces to disappear: keda-monitoring still Terminating (10s)',
    ])
    expect(report.namespaces).toEqual([
      {name: 'keda', status: 'absent'},
      {name: 'keda-monitoring', status: 'removed'},
    ])
    expect(report.ok).toBe(true)
  })

  it('gives up after the timeout and reports the namespace stuck (without --force nothing is patched)', async () => {
    api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'keda'}, spec: {finalizers: ['kubernetes', 'example.com/never']}})
    const report = await uninstall({...options, timeoutMs: 8000}, {kube, releases, log: () => {}, confirm: async () => true, ...clock})
    expect(virtualNow).toBeGreaterThanOrEqual(8000)
    expect(virtualNow).toBeLessThan(9000)
    expect(report.namespaces[0]).toEqual({
      name: 'keda',
      status: 'stuck',
      blockers: ['namespace spec.finalizers: example.com/never'],
      hint: '`keda-lab uninstall --force` clears these finalizers (skipping the clean-up they stand for)',
    })
    expect(report.ok).toBe(false)
    expect(api.requests.filter((r) => r.method === 'PATCH' || r.path.endsWith('/finalize'))).toEqual([])
  })

  it('a declined confirmation changes nothing', async () => {
    api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'keda'}})
    let shown: unknown
    await expect(
      uninstall(options, {
        kube,
        releases,
        log: () => {},
        confirm: async (plan) => {
          shown = plan
          return false
        },
        ...clock,
      }),
    ).rejects.toThrow('Uninstall cancelled: nothing was removed.')
    expect(shown).toEqual({releases: [], namespaces: [{name: 'keda', phase: 'Active'}], pvcs: []})
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([])
  })

  it('never deletes a system namespace, even when --namespace names it', async () => {
    api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'default'}})
    const report = await uninstall({...options, namespace: 'default'}, {kube, releases, log: () => {}, confirm: async () => true, ...clock})
    expect(report.namespaces[0]).toEqual({name: 'default', status: 'kept', reason: 'default is a system namespace'})
    expect(api.get('v1', 'Namespace', 'default')).toBeDefined()
  })
})
