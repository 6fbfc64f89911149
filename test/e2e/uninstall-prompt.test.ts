/**
 * The uninstall confirmation in a real pseudo-terminal (Python's pty module): the plan is shown,
 * "n" cancels with nothing removed, "y" proceeds. Real Helm 3 on PATH, the real API server and its
 * namespace controller (the suite's shared control plane: test/cluster/harness.ts).
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {adminRequest} from '../cluster/control-plane.js'
import {createNamespace, useCluster} from '../cluster/harness.js'
import {getJson} from '../cluster/kube-test-helpers.js'
import {helmBinary} from '../helpers/helm.js'
import {runCliInPty} from '../helpers/pty.js'

const cluster = useCluster(import.meta.url, {namespace: false})
const suffix = randomBytes(3).toString('hex')
/** The app namespace does not exist; the monitoring namespace does: the plan deletes only it. */
const APP_NS = `uninstall-prompt-app-${suffix}`
const MON_NS = `uninstall-prompt-mon-${suffix}`

let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'uninstall-pty-'))
  await createNamespace(cluster.kubeconfig, MON_NS)
})

afterAll(async () => {
  await adminRequest(cluster.kubeconfig, 'DELETE', `/api/v1/namespaces/${MON_NS}`).catch(() => undefined)
  rmSync(dir, {recursive: true, force: true})
})

interface Namespace {
  metadata: {resourceVersion: string; deletionTimestamp?: string}
  status: {phase: string}
}
const namespace = () => getJson<Namespace>(cluster.kubeconfig, `/api/v1/namespaces/${MON_NS}`)

async function answer(send: string): Promise<{code: number | null; transcript: string}> {
  return runCliInPty(
    ['uninstall', '-n', APP_NS, '--monitoring-namespace', MON_NS, '--timeout', '60'],
    [{expect: String.raw`Remove keda-lab from context \S+\?`, send}],
    {
      env: {
        KUBECONFIG: cluster.kubeconfig,
        PATH: `${helmBinary(3).replace(/\/helm$/, '')}:${process.env.PATH}`,
        HELM_CACHE_HOME: join(dir, 'helm-cache'),
        HELM_CONFIG_HOME: join(dir, 'helm-config'),
        HELM_DATA_HOME: join(dir, 'helm-data'),
      },
      timeoutMs: 150_000,
    },
  )
}

describe('keda-lab uninstall in a terminal', () => {
  it('"n" cancels and removes nothing', async () => {
    const before = await namespace()
    const {code, transcript} = await answer('n\r')
    expect(transcript).toContain(`Namespaces to delete: ${MON_NS}`)
    expect(transcript).toContain('Error: Uninstall cancelled: nothing was removed.')
    expect(code).toBe(1)
    // Untouched: not being deleted, and not even written to (a delete would set deletionTimestamp and a new resourceVersion).
    const after = await namespace()
    expect(after?.metadata.deletionTimestamp).toBeUndefined()
    expect(after?.status.phase).toBe('Active')
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion)
  }, 180_000)

  it('"y" proceeds: the namespace controller removes the namespace', async () => {
    const {code, transcript} = await answer('y\r')
    expect(transcript).toContain(`√ Namespace ${MON_NS} removed`)
    expect(code).toBe(0)
    expect(await namespace()).toBeUndefined()
  }, 180_000)
})
