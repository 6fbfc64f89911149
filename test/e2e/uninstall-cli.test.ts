/**
 * `keda-lab uninstall` as a user runs it (the real CLI in a subprocess) when the cluster does not
 * answer: a kubeconfig pointing at a closed loopback port. No cluster and no stand-in of one is
 * involved; everything that needs a cluster runs on the real control plane (test/cluster/).
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {freePort} from '../../src/lab/dev/net.js'
import {repoRoot, runCli} from '../helpers/cli.js'

let dir: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uninstall-e2e-'))
})

afterEach(() => {
  rmSync(dir, {recursive: true, force: true})
})

describe('keda-lab uninstall', () => {
  // Without a terminal and without --yes (the plan printed, nothing asked, not one write sent, as
  // the API server's audit log shows) and helm missing from PATH: on the real control plane in
  // test/cluster/clean-cluster.test.ts.

  // The release order with KEDA's finalizer released by the real KEDA operator, the kept claim, the
  // leftovers and `--purge --json`: on the real control plane in test/cluster/uninstall-keda.test.ts.

  // Namespaces really stuck in Terminating (an object finalizer, a spec finalizer, a dangling
  // APIService), --force and --purge: on the real namespace controller in test/cluster/uninstall-stuck.test.ts.

  it('the cluster unreachable: one clear error and its fix, exit 4, no stack trace', async () => {
    // A free loopback port nobody listens on: the connection is refused.
    const server = `http://127.0.0.1:${await freePort()}`
    const kubeconfig = join(dir, 'kubeconfig')
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{name: closed, cluster: {server: ${server}}}]
users: [{name: closed, user: {token: unused}}]
contexts: [{name: closed, context: {cluster: closed, user: closed}}]
current-context: closed
`,
    )
    const down = await runCli(['uninstall', '--yes'], {
      env: {KUBECONFIG: kubeconfig, PATH: `${join(repoRoot, '.tools/helm3')}:${process.env.PATH}`, HELM_CONFIG_HOME: join(dir, 'helm-config')},
      timeoutMs: 60_000,
    })
    expect(down.code).toBe(4) // EXIT_NO_CLUSTER
    const [error, fix, ...rest] = down.stderr.trim().split('\n')
    expect(error).toMatch(
      new RegExp(`^Error: Cannot reach the Kubernetes API at ${server.replaceAll('.', '\\.')} \\(context closed\\) to read the server version: `),
    )
    expect(fix).toBe('Fix: Check that the cluster is running (`kubectl cluster-info`; `minikube status`) or pick another --context.')
    expect(rest).toEqual([])
  })

  // A failing helm uninstall (the API server refusing a deletion): test/cluster/uninstall-helm-fails.test.ts.
})
