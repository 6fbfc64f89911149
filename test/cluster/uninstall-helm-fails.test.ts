/**
 * A `helm uninstall` that really fails, on the real API server (issue 15 §2: the failing-helm case of
 * test/e2e/uninstall-cli.test.ts moved off the fake API). A ValidatingAdmissionPolicy, scoped to this
 * file's namespace, refuses the deletion of redis-ha's StatefulSet, so real Helm 3's uninstall of
 * that release fails with the API server's refusal: uninstall stops there, names the release, shows
 * helm's error and what was already removed, and leaves KEDA's release alone.
 */
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {helmBinary, runHelm} from '../helpers/helm.js'
import {adminRequest} from './control-plane.js'
import {useCluster} from './harness.js'
import {getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url)
const ns = () => cluster.namespace
const policy = () => `${ns()}-keep-redis`
let dir: string

const must = async (method: string, path: string, body?: unknown) => {
  const res = await adminRequest(cluster.kubeconfig, method, path, body)
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`)
}

/** A one-object chart named `name` (the lab's release names; their content does not matter here). */
function chart(name: string, object: string): string {
  const path = join(dir, name)
  mkdirSync(join(path, 'templates'), {recursive: true})
  writeFileSync(join(path, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: 0.0.1\ndescription: test chart named as the lab's ${name} release\n`)
  writeFileSync(join(path, 'templates', 'object.yaml'), object)
  return path
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'uninstall-helm-fails-'))
  const statefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis-ha-server
spec:
  replicas: 0
  serviceName: redis-ha
  selector: {matchLabels: {app: redis-ha}}
  template:
    metadata: {labels: {app: redis-ha}}
    spec: {containers: [{name: redis, image: redis}]}
`
  const configMap = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`
  for (const [name, object] of [
    ['keda', configMap('keda-operator')],
    ['redis-ha', statefulSet],
    ['keda-lab', configMap('keda-lab-worker')],
  ] as const) {
    const r = await runHelm(3, ['install', name, chart(name, object), '-n', ns(), '--kubeconfig', cluster.kubeconfig], 120_000)
    if (r.exitCode !== 0) throw new Error(`helm install ${name}: ${r.stderr.slice(-500)}`)
  }
  await must('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: {name: policy()},
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {resourceRules: [{apiGroups: ['apps'], apiVersions: ['v1'], operations: ['DELETE'], resources: ['statefulsets']}]},
      validations: [{expression: "oldObject.metadata.name != 'redis-ha-server'", message: 'redis-ha-server is kept by the test'}],
    },
  })
  await must('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: {name: policy()},
    spec: {
      policyName: policy(),
      validationActions: ['Deny'],
      matchResources: {namespaceSelector: {matchLabels: {'kubernetes.io/metadata.name': ns()}}},
    },
  })
}, 300_000)

afterAll(async () => {
  await adminRequest(cluster.kubeconfig, 'DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${policy()}`).catch(() => undefined)
  await adminRequest(cluster.kubeconfig, 'DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${policy()}`).catch(() => undefined)
  rmSync(dir, {recursive: true, force: true})
})

describe('keda-lab uninstall when helm uninstall fails', () => {
  it("stops the run, names the release, shows helm's error and what was already removed; KEDA untouched", async () => {
    const env = {KUBECONFIG: cluster.kubeconfig, PATH: `${helmBinary(3).replace(/\/helm$/, '')}:${process.env.PATH}`}
    const r = await runCli(['uninstall', '--yes', '-n', ns(), '--monitoring-namespace', `${ns()}-mon`, '--timeout', '20'], {env, timeoutMs: 180_000})
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1)
    const [error, fix] = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('Error:') || l.startsWith('Fix:'))
    // Helm 3 reports the API server's refusal only with --debug; its own last line is what users see.
    expect(error).toBe(`Error: helm uninstall redis-ha (namespace ${ns()}) failed: failed to delete release: redis-ha`)
    // The refusal was real: the StatefulSet is still there.
    expect(await getJson(cluster.kubeconfig, `/apis/apps/v1/namespaces/${ns()}/statefulsets/redis-ha-server`)).toBeDefined()
    expect(fix).toBe(`Fix: Run \`keda-lab uninstall\` again (already removed: keda-lab); \`helm status redis-ha -n ${ns()}\` shows the release's state.`)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns()}/configmaps/keda-operator`)).toBeDefined()
    expect(await getJson(cluster.kubeconfig, `/api/v1/namespaces/${ns()}/secrets/sh.helm.release.v1.keda.v1`)).toBeDefined()
  }, 240_000)
})
