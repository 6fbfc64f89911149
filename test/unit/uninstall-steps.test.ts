/**
 * The pieces `uninstall` is made of, each on its own: which namespaces are kept and why, and the
 * release removal (order, the wait for KEDA to release the ScaledObjects, the error of a failed
 * `helm uninstall`). The whole run against an API server is in test/cluster/kube-uninstall.test.ts
 * and test/cluster/.
 */
import {describe, expect, it} from 'vitest'

import type {Kube, ObjectSummary, ResourceRef} from '../../src/adapters/kube/index.js'
import {KedaLabError} from '../../src/errors.js'
import {CRD_REQUEUE_ANNOTATION, crdsStillThere, requeueFailedCrdDeletions} from '../../src/lab/uninstall/leftovers.js'
import type {HelmRelease} from '../../src/lab/uninstall/releases.js'
import {keptNamespace, removeReleases} from '../../src/lab/uninstall/run.js'

describe('keptNamespace', () => {
  const keep = new Map([['keda', 'data-redis-ha-server-0, data-redis-ha-server-1']])

  it('a namespace that does not exist is absent', () => {
    expect(keptNamespace('monitoring', ['keda'], keep)).toEqual({name: 'monitoring', status: 'absent'})
  })

  it('a system namespace is kept, whatever --namespace said', () => {
    expect(keptNamespace('kube-system', ['kube-system'], new Map())).toEqual({name: 'kube-system', status: 'kept', reason: 'kube-system is a system namespace'})
  })

  it('a namespace with claims is kept, naming them and the flag that deletes them', () => {
    const outcome = keptNamespace('keda', ['keda'], keep)
    expect(outcome).toMatchObject({name: 'keda', status: 'kept'})
    expect(outcome?.status === 'kept' && outcome.reason).toBe(
      'it holds PersistentVolumeClaims (data-redis-ha-server-0, data-redis-ha-server-1); `keda-lab uninstall --purge` deletes them and the namespace',
    )
  })

  it('any other existing namespace is to be deleted (undefined)', () => {
    expect(keptNamespace('monitoring', ['keda', 'monitoring'], keep)).toBeUndefined()
  })
})

describe('removeReleases', () => {
  /** A run whose kube answers from `scaled` ([ScaledObjects, ScaledJobs] per poll, the last repeats). */
  function harness(scaled: number[][], failOn?: string) {
    const lines: string[] = []
    const uninstalled: string[] = []
    const asked: string[] = []
    let poll = 0
    const kube = {
      async listObjects(ref: ResourceRef): Promise<ObjectSummary[]> {
        asked.push(`${ref.plural}/${ref.namespace}`)
        const counts = scaled[Math.min(poll, scaled.length - 1)] ?? [0, 0]
        const n = ref.plural === 'scaledobjects' ? (counts[0] ?? 0) : (counts[1] ?? 0)
        return Array.from({length: n}, (_, i) => ({name: `so-${i}`, labels: {}, annotations: {}, finalizers: ['finalizer.keda.sh'], conditions: []}))
      },
    }
    const waits: boolean[] = []
    const run = {
      kube,
      log: (line: string) => lines.push(line),
      // Polls like waitUntil, without a clock: at most five tries.
      async wait(done: () => Promise<boolean>, opts?: {onWait?: (s: number) => void | Promise<void>}) {
        for (let i = 0; i < 5; i++, poll++) {
          if (await done()) {
            waits.push(true)
            return true
          }
          await opts?.onWait?.(i * 5)
        }
        waits.push(false)
        return false
      },
    }
    const manager = {
      async uninstall(release: HelmRelease) {
        if (release.name === failOn) {
          throw Object.assign(new KedaLabError('helm failed'), {stderrTail: 'Error: uninstall: Release not loaded: keda: release: not found'})
        }
        uninstalled.push(release.name)
      },
    }
    return {run, manager, lines, uninstalled, asked, waits}
  }
  const releases: HelmRelease[] = [
    {name: 'keda-lab', namespace: 'keda'},
    {name: 'redis-ha', namespace: 'keda'},
    {name: 'keda', namespace: 'keda'},
  ]

  it('removes in the order given and, before KEDA goes, waits until no ScaledObject or ScaledJob is left', async () => {
    const h = harness([
      [1, 0],
      [0, 1],
      [0, 0],
    ])
    const removed = await removeReleases(releases, h.manager, h.run)
    expect(removed).toEqual(releases.map(({name, namespace}) => ({name, namespace})))
    expect(h.uninstalled).toEqual(['keda-lab', 'redis-ha', 'keda'])
    expect(h.waits).toEqual([true])
    // Both kinds on every poll (what is left is named if the wait runs out).
    expect(h.asked).toEqual(['scaledobjects/keda', 'scaledjobs/keda', 'scaledobjects/keda', 'scaledjobs/keda', 'scaledobjects/keda', 'scaledjobs/keda'])
    expect(h.lines).toContain('Waiting for KEDA to release the ScaledObjects in keda (0s)')
    expect(h.lines[0]).toBe('Removing Helm release keda-lab (namespace keda)')
  })

  it('says so when KEDA has not released them within --timeout, naming them, and goes on', async () => {
    const h = harness([[1, 1]])
    const removed = await removeReleases(releases, h.manager, h.run)
    expect(removed.map((r) => r.name)).toEqual(['keda-lab', 'redis-ha', 'keda'])
    expect(h.waits).toEqual([false])
    expect(h.lines).toContain(
      '‼ KEDA did not release scaledobjects/so-0, scaledjobs/so-0 within --timeout; removing KEDA anyway (their finalizer then stays until --force)',
    )
  })

  it('does not wait for KEDA when KEDA is not among the releases (a reused KEDA keeps running)', async () => {
    const h = harness([[3, 3]])
    await removeReleases(
      releases.filter((r) => r.name !== 'keda'),
      h.manager,
      h.run,
    )
    expect(h.waits).toEqual([])
    expect(h.asked).toEqual([])
  })

  it("a failed helm uninstall stops with helm's own line and what was already removed", async () => {
    const h = harness([[0, 0]], 'keda')
    const error = await removeReleases(releases, h.manager, h.run).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KedaLabError)
    expect((error as KedaLabError).message).toBe('helm uninstall keda (namespace keda) failed: uninstall: Release not loaded: keda: release: not found')
    expect((error as KedaLabError).hint).toBe(
      "Run `keda-lab uninstall` again (already removed: keda-lab, redis-ha); `helm status keda -n keda` shows the release's state.",
    )
  })
})

describe('CRDs deleted with --purge', () => {
  const crd = (name: string, terminating?: {status: string; reason: string; message: string}): ObjectSummary => ({
    name,
    labels: {},
    annotations: {},
    finalizers: ['customresourcecleanup.apiextensions.k8s.io'],
    deletionTimestamp: '2026-12-07T06:35:19Z',
    conditions: terminating
      ? [
          {type: 'Established', status: 'True'},
          {type: 'Terminating', ...terminating},
        ]
      : [],
  })
  const patches: {name: string; patch: unknown}[] = []
  const kube = {
    listObjects: async () => [
      crd('scaledobjects.keda.sh', {status: 'True', reason: 'InstanceDeletionFailed', message: 'could not list instances: storage is (re)initializing'}),
      crd('scaledjobs.keda.sh', {status: 'True', reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress'}),
      crd('podlogs.monitoring.grafana.com'),
      crd('someone-elses.example.com'),
    ],
    mergePatchObject: async (_ref: ResourceRef, name: string, patch: unknown) => {
      patches.push({name, patch})
    },
  } as unknown as Kube

  it('names those still there with the finalizer’s last word, and only those asked about', async () => {
    expect(await crdsStillThere(kube, ['scaledobjects.keda.sh', 'scaledjobs.keda.sh', 'podlogs.monitoring.grafana.com', 'gone.keda.sh'])).toEqual([
      {name: 'scaledobjects.keda.sh', state: 'InstanceDeletionFailed: could not list instances: storage is (re)initializing', failed: true},
      {name: 'scaledjobs.keda.sh', state: 'InstanceDeletionInProgress: CustomResource deletion is in progress', failed: false},
      {name: 'podlogs.monitoring.grafana.com', state: undefined, failed: false},
    ])
  })

  it('queues again only a deletion that failed, by touching an annotation', async () => {
    const left = await crdsStillThere(kube, ['scaledobjects.keda.sh', 'scaledjobs.keda.sh'])
    expect(await requeueFailedCrdDeletions(kube, left, new Date('2026-12-07T06:36:00Z'))).toEqual(['scaledobjects.keda.sh'])
    expect(patches).toEqual([{name: 'scaledobjects.keda.sh', patch: {metadata: {annotations: {[CRD_REQUEUE_ANNOTATION]: '2026-12-07T06:36:00.000Z'}}}}])
  })
})
