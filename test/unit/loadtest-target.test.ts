import {describe, expect, it} from 'vitest'

import type {Kube} from '../../src/adapters/kube/index.js'
import {isKedaLabError} from '../../src/errors.js'
import {describeTarget, parseTargetUrl, resolveTarget, type TargetDeps} from '../../src/lab/loadtest/target.js'
import type {DevState} from '../../src/status/dev-state.js'

/**
 * Target discovery's choices, with its edges passed in: the dev state files, the cluster (only the
 * two calls it makes before a port-forward: the API Service and the LoadBalancers), reachability.
 * The port-forward itself is the tunnel's (test/unit/status-tunnel.test.ts and the cluster tests).
 */

const dev: DevState = {pid: 4242, apiUrl: 'http://127.0.0.1:8123', queue: 'tasks', startedAt: '2026-12-07T01:00:00.000Z', workers: ['worker-1'], decisions: []}

function kube(service: {type: string} | undefined, lbAddresses: string[] = []): Kube {
  return {
    contextName: 'lab',
    getService: async (_ns: string, name: string) =>
      service && {name, type: service.type, selector: {app: 'api'}, ports: [{name: 'http', port: 80, targetPort: 8000}]},
    listLoadBalancers: async () => [{namespace: 'keda', name: 'keda-lab-api', addresses: lbAddresses}],
  } as unknown as Kube
}

const deps = (overrides: Partial<TargetDeps> = {}): TargetDeps => ({
  findDevStates: () => [],
  createKube: async () => {
    throw new Error('no kubeconfig')
  },
  reachable: async () => true,
  ...overrides,
})

async function failure(promise: Promise<unknown>): Promise<{message: string; exitCode: number}> {
  try {
    await promise
  } catch (error) {
    if (isKedaLabError(error)) return {message: error.message, exitCode: error.exitCode}
    throw error
  }
  throw new Error('expected a failure')
}

describe('load test target discovery', () => {
  it('--target wins, normalised; a bad URL is refused before anything', async () => {
    const t = await resolveTarget({url: 'http://127.0.0.1:8000/', namespace: 'keda'}, deps({findDevStates: () => [dev]}))
    expect(t.target).toEqual({url: 'http://127.0.0.1:8000', source: 'flag', reason: 'given with --target'})
    expect(describeTarget(t.target)).toBe('Target: http://127.0.0.1:8000 — given with --target')
    expect(() => parseTargetUrl('localhost:8000')).toThrow(/only http:\/\/ and https:\/\/ URLs/)
    expect(() => parseTargetUrl('nonsense')).toThrow(/--target nonsense is not a URL/)
    expect(() => parseTargetUrl('http://127.0.0.1:8000/?x=1')).toThrow(/without a query/)
  })

  it('--target with --watch cluster: the given URL, and the cluster of the context/namespace for the watcher; no cluster is exit 3', async () => {
    const k = kube(undefined)
    const t = await resolveTarget(
      {url: 'http://127.0.0.1:8000', namespace: 'lab-ns', watch: 'cluster'},
      deps({findDevStates: () => [dev], createKube: async () => k}),
    )
    expect(t.target).toEqual({url: 'http://127.0.0.1:8000', source: 'flag', reason: 'given with --target; scaling watched in namespace lab-ns (context lab)'})
    expect(t.kube).toBe(k)
    expect(t.namespace).toBe('lab-ns')
    expect(t.dev).toBeUndefined()
    const f = await failure(resolveTarget({url: 'http://127.0.0.1:8000', namespace: 'lab-ns', watch: 'cluster'}, deps()))
    expect(f).toEqual({message: '--watch cluster: no cluster to watch (no kubeconfig)', exitCode: 3})
  })

  it('else the running keda-lab dev, found through its state file', async () => {
    const t = await resolveTarget({namespace: 'keda'}, deps({findDevStates: () => [dev]}))
    expect(t.target).toEqual({url: dev.apiUrl, source: 'dev', reason: `the keda-lab dev running on this machine (pid 4242, started ${dev.startedAt})`})
    expect(t.dev).toBe(dev)
  })

  it("else the installed lab's LoadBalancer address, when it answers", async () => {
    const t = await resolveTarget({namespace: 'keda'}, deps({createKube: async () => kube({type: 'LoadBalancer'}, ['127.0.0.7'])}))
    expect(t.target).toEqual({url: 'http://127.0.0.7:80', source: 'cluster-lb', reason: 'the LoadBalancer address of Service keda/keda-lab-api (context lab)'})
    expect(t.namespace).toBe('keda')
  })

  it('no target at all: exit 3 saying how to get one', async () => {
    expect(await failure(resolveTarget({namespace: 'keda'}, deps()))).toEqual({
      message: 'no target: no --target, no keda-lab dev running on this machine, and no cluster (no kubeconfig)',
      exitCode: 3,
    })
    expect(await failure(resolveTarget({namespace: 'lab'}, deps({createKube: async () => kube(undefined)})))).toEqual({
      message: 'no target: no --target, no keda-lab dev running on this machine, and keda-lab is not installed in namespace lab',
      exitCode: 3,
    })
  })
})
