/**
 * The uninstall confirmation in a real pseudo-terminal (Python's pty module): the plan is shown,
 * "n" cancels with nothing removed, "y" proceeds. Real Helm 3 on PATH, fake Kubernetes API.
 */
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {type FakeKubeApi, startFakeKubeApi} from '../fakes/kube-api.js'
import {repoRoot} from '../helpers/cli.js'
import {runCliInPty} from '../helpers/pty.js'

let api: FakeKubeApi
let dir: string

beforeEach(async () => {
  if (!existsSync(join(repoRoot, '.tools/helm3/helm'))) throw new Error('.tools/helm3/helm is missing: run scripts/fetch-tools.sh (or .ci/run)')
  api = await startFakeKubeApi()
  dir = mkdtempSync(join(tmpdir(), 'uninstall-pty-'))
  api.put({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'keda-monitoring'}})
})

afterEach(async () => {
  await api.close()
  rmSync(dir, {recursive: true, force: true})
})

async function answer(send: string): Promise<{code: number | null; transcript: string}> {
  return runCliInPty(['uninstall', '--timeout', '10'], [{expect: String.raw`Remove keda-lab from context fake\?`, send}], {
    env: {
      KUBECONFIG: api.writeKubeconfig(dir),
      PATH: `${join(repoRoot, '.tools/helm3')}:${process.env.PATH}`,
      HELM_CACHE_HOME: join(dir, 'helm-cache'),
      HELM_CONFIG_HOME: join(dir, 'helm-config'),
    },
    timeoutMs: 90_000,
  })
}

describe('keda-lab uninstall in a terminal', () => {
  it('"n" cancels and removes nothing', async () => {
    const {code, transcript} = await answer('n\r')
    expect(transcript).toContain('Namespaces to delete: keda-monitoring')
    expect(transcript).toContain('Error: Uninstall cancelled: nothing was removed.')
    expect(code).toBe(1)
    expect(api.get('v1', 'Namespace', 'keda-monitoring')).toBeDefined()
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([])
  })

  it('"y" proceeds', async () => {
    const {code, transcript} = await answer('y\r')
    expect(transcript).toContain('√ Namespace keda-monitoring removed')
    expect(code).toBe(0)
    expect(api.get('v1', 'Namespace', 'keda-monitoring')).toBeUndefined()
  })
})
