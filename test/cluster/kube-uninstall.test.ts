/**
 * uninstall() in-process on the real client-node (createKube) against the real API server and its
 * real namespace controller, with the real Helm 3 answering `helm list`, on the real clock (issue 15
 * §2: test/integration/kube-uninstall.test.ts moved off the fake API and its virtual clock):
 * - a slow namespace, held by an object's finalizer that the test removes once uninstall has reported
 *   its progress twice: progress about every 5 s, then reported removed;
 * - a spec finalizer nobody owns and a short timeout: the wait gives up and names the namespace stuck,
 *   and without --force nothing is patched or finalized;
 * - a declined confirmation changes nothing; a system namespace is never deleted.
 *
 * The shared control plane: every namespace here is this file's own (a random suffix), and uninstall
 * only reads outside them without --purge.
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createKube, type Kube} from '../../src/adapters/kube/index.js'
import {createReleaseManager, type ReleaseManager} from '../../src/lab/uninstall/releases.js'
import {type UninstallDeps, uninstall} from '../../src/lab/uninstall/run.js'
import {helmBinary} from '../helpers/helm.js'
import {adminRequest} from './control-plane.js'
import {createNamespace, useCluster} from './harness.js'
import {getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {namespace: false})
const base = `kube-uninstall-${randomBytes(3).toString('hex')}`
let dir: string
let kube: Kube
let releases: ReleaseManager

const must = async (method: string, path: string, body?: unknown, contentType?: string) => {
  const res = await adminRequest(cluster.kubeconfig, method, path, body, contentType)
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`)
  return res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {}
}

/** The adapter, recording the name of every method uninstall calls on it. */
function recording(inner: Kube, calls: string[]): Kube {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls.push(String(prop))
        return value.apply(target, args)
      }
    },
  })
}
// The adapter's reads; anything else changes the cluster.
const isRead = (method: string) => /^(get|list)[A-Z]|^(serverVersion|canI|apiServiceAvailable)$/.test(method)

const deps = (calls: string[], extra: Partial<UninstallDeps> = {}): UninstallDeps => ({
  kube: recording(kube, calls),
  releases,
  log: () => {},
  confirm: async () => true,
  ...extra,
})

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kube-uninstall-'))
  kube = await createKube({kubeconfig: cluster.kubeconfig})
  releases = createReleaseManager({
    bin: helmBinary(3),
    env: {KUBECONFIG: cluster.kubeconfig, HELM_CACHE_HOME: join(dir, 'c'), HELM_CONFIG_HOME: join(dir, 'g')},
  })
})

afterAll(async () => {
  // Whatever a failed run left holding a namespace: the object finalizer, the spec finalizer.
  await adminRequest(
    cluster.kubeconfig,
    'PATCH',
    `/api/v1/namespaces/${base}-slow/configmaps/slow`,
    {metadata: {finalizers: null}},
    'application/merge-patch+json',
  ).catch(() => undefined)
  const never = await getJson<{spec: {finalizers?: string[]}}>(cluster.kubeconfig, `/api/v1/namespaces/${base}-never`).catch(() => undefined)
  if (never) {
    await adminRequest(cluster.kubeconfig, 'PUT', `/api/v1/namespaces/${base}-never/finalize`, {...never, spec: {finalizers: []}}).catch(() => undefined)
  }
  for (const ns of [`${base}-slow`, `${base}-never`, `${base}-declined`]) {
    await adminRequest(cluster.kubeconfig, 'DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined)
  }
  if (dir) rmSync(dir, {recursive: true, force: true})
})

const options = (namespace: string, monitoringNamespace: string) => ({
  namespace,
  monitoringNamespace,
  purge: false,
  force: false,
  timeoutMs: 120_000,
  pollMs: 500,
})

describe('uninstall (in-process) against the real API server', () => {
  it('waits for a slow namespace with progress every 5 s, and reports it removed', async () => {
    const slow = `${base}-slow`
    await createNamespace(cluster.kubeconfig, slow)
    await must('POST', `/api/v1/namespaces/${slow}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {name: 'slow', finalizers: ['example.com/slow']},
    })
    // The object's controller, played by the test: it lets go after the second progress line.
    let released: Promise<unknown> | undefined
    const release = async () => {
      const cm = await getJson<{metadata: {deletionTimestamp?: string; finalizers?: string[]}}>(
        cluster.kubeconfig,
        `/api/v1/namespaces/${slow}/configmaps/slow`,
      )
      await must('PATCH', `/api/v1/namespaces/${slow}/configmaps/slow`, {metadata: {finalizers: null}}, 'application/merge-patch+json')
      return cm?.metadata
    }
    const log: string[] = []
    const progress = /^Waiting for namespaces to disappear: (\S+) still Terminating \((\d+)s\)$/
    const report = await uninstall(
      options(`${base}-app`, slow),
      deps([], {
        log: (line) => {
          log.push(line)
          if (!released && log.filter((l) => progress.test(l)).length === 2) released = release()
        },
      }),
    )
    // The namespace controller had marked the object for deletion; only its finalizer held it.
    expect(await released).toEqual(expect.objectContaining({deletionTimestamp: expect.any(String), finalizers: ['example.com/slow']}))
    expect(log[0]).toBe(`Deleting namespace ${slow}`)
    const waits = log.slice(1).map((l) => progress.exec(l))
    expect(waits.length, log.join('\n')).toBeGreaterThanOrEqual(2)
    expect(
      waits.every((m) => m?.[1] === slow),
      log.join('\n'),
    ).toBe(true)
    const seconds = waits.map((m) => Number(m?.[2]))
    expect(seconds[0]).toBeGreaterThanOrEqual(5)
    for (const [i, s] of seconds.entries()) if (i > 0) expect(s - (seconds[i - 1] ?? 0), log.join('\n')).toBeGreaterThanOrEqual(5)
    expect(report.namespaces).toEqual([
      {name: `${base}-app`, status: 'absent'},
      {name: slow, status: 'removed'},
    ])
    expect(report.ok).toBe(true)
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${slow}`)).toBeUndefined()
  }, 180_000)

  it('gives up after the timeout and reports the namespace stuck (without --force nothing is patched)', async () => {
    const never = `${base}-never`
    await must('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {name: never},
      spec: {finalizers: ['kubernetes', 'example.com/never']},
    })
    const calls: string[] = []
    const report = await uninstall({...options(never, `${base}-never-mon`), timeoutMs: 8000}, deps(calls))
    expect(report.namespaces[0]).toEqual({
      name: never,
      status: 'stuck',
      blockers: ['namespace spec.finalizers: example.com/never'],
      hint: '`keda-lab uninstall --force` clears these finalizers (skipping the clean-up they stand for)',
    })
    expect(report.ok).toBe(false)
    // One deletion, then reads only: no merge patch, no /finalize.
    expect(calls.filter((c) => !isRead(c))).toEqual(['deleteNamespace'])
    const ns = await getJson<{metadata: {deletionTimestamp?: string}; spec: {finalizers?: string[]}}>(cluster.kubeconfig, `/api/v1/namespaces/${never}`)
    expect(ns?.metadata.deletionTimestamp).toEqual(expect.any(String))
    expect(ns?.spec.finalizers).toEqual(['example.com/never'])
  }, 120_000)

  it('a declined confirmation changes nothing', async () => {
    const declined = `${base}-declined`
    await createNamespace(cluster.kubeconfig, declined)
    const calls: string[] = []
    let shown: unknown
    await expect(
      uninstall(
        options(declined, `${base}-declined-mon`),
        deps(calls, {
          confirm: async (plan) => {
            shown = plan
            return false
          },
        }),
      ),
    ).rejects.toThrow('Uninstall cancelled: nothing was removed.')
    expect(shown).toEqual({releases: [], namespaces: [{name: declined, phase: 'Active'}], pvcs: []})
    expect(calls.length).toBeGreaterThan(0)
    expect(calls.filter((c) => !isRead(c))).toEqual([])
    const ns = await getJson<{metadata: {deletionTimestamp?: string}; status: {phase: string}}>(cluster.kubeconfig, `/api/v1/namespaces/${declined}`)
    expect(ns?.metadata.deletionTimestamp).toBeUndefined()
    expect(ns?.status.phase).toBe('Active')
  }, 60_000)

  it('never deletes a system namespace, even when --namespace names it', async () => {
    const calls: string[] = []
    const report = await uninstall(options('default', `${base}-default-mon`), deps(calls))
    expect(report.namespaces).toEqual([
      {name: 'default', status: 'kept', reason: 'default is a system namespace'},
      {name: `${base}-default-mon`, status: 'absent'},
    ])
    expect(calls).not.toContain('deleteNamespace')
    const ns = await getJson<{metadata: {deletionTimestamp?: string}}>(cluster.kubeconfig, '/api/v1/namespaces/default')
    expect(ns).toBeDefined()
    expect(ns?.metadata.deletionTimestamp).toBeUndefined()
  }, 60_000)
})
