/**
 * A recognised policy linter on the app chart: the manifests `keda-lab render` writes with the
 * default answers (what `keda-lab install` applies) are scored by the real kube-score, built from
 * its Go module by scripts/build-kube-tools.sh. No CRITICAL or WARNING finding is allowed except
 * the exceptions below, each scoped to one check and the objects it names, each justified; an
 * exception the chart no longer needs fails too, so the list cannot silently outgrow the chart.
 * A deliberately bad manifest, run through the same check, shows that it can fail.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {builtToolDir, VERSIONS} from '../cluster/control-plane.js'
import {runCli} from '../helpers/cli.js'
import {helmBinary, parseManifests} from '../helpers/helm.js'
import {runTracked} from '../helpers/processes.js'

/** One check that may fail on the named objects (`Kind/name`), and no others. */
interface PolicyException {
  check: string
  objects: string[]
}

/**
 * The only findings the chart keeps. Each says why the check's advice does not fit here; fix the
 * chart rather than add to this list when the advice does fit.
 */
const POLICY_EXCEPTIONS: PolicyException[] = [
  {
    // `Always` would have the kubelet pull keda-lab's image from a registry, but `keda-lab install`
    // builds it inside minikube or loads it into kind (it is in no registry): every pod would end
    // in ErrImagePull. The policy is install's choice (src/lab/install/plan.ts appImage/splitImage):
    // IfNotPresent for a pinned tag, Always for an image given without one.
    check: 'container-image-pull-policy',
    objects: ['Deployment/keda-lab-api', 'Deployment/keda-lab-worker', 'Deployment/keda-lab-webhook'],
  },
  {
    // The worker's count belongs to KEDA: its ScaledObject (min 1 by default, the install answer
    // workerMinReplicas) creates the HPA at run time, which kube-score does not see in the
    // manifests. A `replicas` field would be reset on every upgrade (render.test.ts pins its absence).
    check: 'deployment-replicas',
    objects: ['Deployment/keda-lab-worker'],
  },
  {
    // One webhook replica by default: its only client is Alertmanager, which retries a failed
    // notification, so a pod restart or a drain delays a Telegram message rather than losing it;
    // rollouts start the new pod before stopping the old one. webhook.replicaCount raises it
    // (replicas share Telegram's polling lease through Redis).
    check: 'deployment-replicas',
    objects: ['Deployment/keda-lab-webhook'],
  },
  {
    // The API's fewest replicas is the install answer apiMinReplicas (default 1): the lab targets
    // one-node clusters (minikube, kind), where a second replica shares the node and so buys no
    // protection from a node failure, only a second pod's CPU and memory. The HPA adds replicas
    // under load; install --api-min-replicas 2 keeps two.
    check: 'horizontalpodautoscaler-replicas',
    objects: ['HorizontalPodAutoscaler/keda-lab-api'],
  },
  {
    // These policies guard redis-ha's pods (Redis/Sentinel and HAProxy), which the redis-ha release
    // installs beside this chart: they match no pod of this chart by design
    // (network-policy.test.ts checks their selectors against redis-ha's pod labels).
    check: 'networkpolicy-targets-pod',
    objects: ['NetworkPolicy/keda-lab-redis', 'NetworkPolicy/keda-lab-haproxy'],
  },
]

/** Optional kube-score checks turned on: the chart satisfies them, and should keep doing so. */
const OPTIONAL_CHECKS = ['container-seccomp-profile', 'container-ports-check']

/** kube-score's grades (scorecard.Grade): at or below WARNING is a finding. */
const GRADE = {CRITICAL: 1, WARNING: 5} as const

/** A CRITICAL or WARNING result of one check on one object. */
interface PolicyFinding {
  check: string
  object: string
  grade: 'CRITICAL' | 'WARNING'
  summaries: string[]
}

interface ScoredObject {
  type_meta: {kind: string}
  object_meta: {name: string}
  checks: {check: {id: string}; grade: number; skipped: boolean; comments: {summary: string}[] | null}[]
}

function kubeScoreBinary(): string {
  return join(builtToolDir('kube-score'), 'kube-score')
}

/** Scores `manifests` (multi-document YAML) with the real kube-score; returns every object it scored. */
async function kubeScore(manifests: string): Promise<ScoredObject[]> {
  const minor = VERSIONS.kube.split('.').slice(0, 2).join('.') // the control plane's Kubernetes, e.g. v1.34
  const args = ['score', '--output-format', 'json', '--kubernetes-version', minor, ...OPTIONAL_CHECKS.flatMap((c) => ['--enable-optional-test', c]), '-']
  const result = await runTracked(kubeScoreBinary(), args, {input: manifests, timeoutMs: 60_000})
  // 0 = nothing CRITICAL, 1 = something CRITICAL; anything else is kube-score failing to run.
  if (result.exitCode !== 0 && result.exitCode !== 1) throw new Error(`kube-score exited ${result.exitCode}: ${result.stderr.slice(0, 2000)}`)
  return JSON.parse(result.stdout) as ScoredObject[]
}

/** The findings kube-score reports, and which of them `exceptions` do not cover. */
async function policyLint(manifests: string, exceptions: PolicyException[] = POLICY_EXCEPTIONS) {
  const scored = await kubeScore(manifests)
  const findings: PolicyFinding[] = []
  for (const object of scored) {
    for (const result of object.checks) {
      if (result.skipped || result.grade > GRADE.WARNING) continue
      findings.push({
        check: result.check.id,
        object: `${object.type_meta.kind}/${object.object_meta.name}`,
        grade: result.grade <= GRADE.CRITICAL ? 'CRITICAL' : 'WARNING',
        summaries: (result.comments ?? []).map((c) => c.summary),
      })
    }
  }
  const excepted = (f: PolicyFinding) => exceptions.some((e) => e.check === f.check && e.objects.includes(f.object))
  return {
    scored: scored.map((o) => `${o.type_meta.kind}/${o.object_meta.name}`),
    findings,
    unexcepted: findings.filter((f) => !excepted(f)),
  }
}

const describeFinding = (f: PolicyFinding) => `${f.grade} ${f.check} on ${f.object}: ${f.summaries.join('; ')}`

let dir: string
let manifests: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keda-lab-policy-lint-'))
  // `keda-lab render` with nothing but the one answer the defaults lack (the webhook is on by
  // default and needs a chat id), the real Helm on PATH, and no KEDA_LAB_* variable leaking in.
  const env: NodeJS.ProcessEnv = {PATH: `${dirname(helmBinary(3))}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir}
  for (const key of Object.keys(process.env)) if (key.startsWith('KEDA_LAB_')) env[key] = ''
  const rendered = await runCli(['render', '--output', join(dir, 'out'), '--telegram-chat-id', '42'], {env, timeoutMs: 120_000})
  if (rendered.code !== 0) throw new Error(`keda-lab render failed (exit ${rendered.code}): ${rendered.stderr}`)
  manifests = readFileSync(join(dir, 'out', 'manifests', 'keda-lab.yaml'), 'utf8')
}, 150_000)

afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('kube-score on the app chart as keda-lab render renders it', () => {
  it('finds nothing CRITICAL or WARNING beyond the justified exceptions, and every exception is still needed', async () => {
    const {scored, findings, unexcepted} = await policyLint(manifests)

    // kube-score really read the chart: every object of a kind it scores is in its report.
    const scoredKinds = new Set(['Deployment', 'Service', 'NetworkPolicy', 'PodDisruptionBudget', 'HorizontalPodAutoscaler'])
    const expected = parseManifests(manifests)
      .filter((o) => scoredKinds.has(o.kind))
      .map((o) => `${o.kind}/${o.metadata.name}`)
    expect(expected).toContain('Deployment/keda-lab-webhook')
    expect(scored.sort()).toEqual(expect.arrayContaining(expected.sort()))

    expect(unexcepted.map(describeFinding)).toEqual([])

    const stale = POLICY_EXCEPTIONS.flatMap((e) =>
      e.objects.filter((object) => !findings.some((f) => f.check === e.check && f.object === object)).map((object) => `${e.check} on ${object}`),
    )
    expect(stale, 'exceptions kube-score no longer reports: remove them').toEqual([])
  })
})

describe('the same check on a deliberately bad manifest', () => {
  // A Service-backed Deployment with no resources, no securityContext, no probes and a `latest`
  // image, named like the chart's API so that the API's exceptions apply to it.
  const bad = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: keda-lab-api, namespace: keda}
spec:
  replicas: 1
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
        - name: api
          image: keda-lab:latest
          imagePullPolicy: IfNotPresent
          ports: [{name: http, containerPort: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: bad, namespace: keda}
spec:
  selector: {app: bad}
  ports: [{port: 80, targetPort: http}]
`

  it('reports what is wrong with it, and the exceptions hide only their own check on their own objects', async () => {
    const {findings, unexcepted} = await policyLint(bad)
    const reported = new Set(unexcepted.map((f) => `${f.grade} ${f.check}`))
    for (const expected of [
      'CRITICAL container-resources',
      'CRITICAL container-security-context-user-group-id',
      'CRITICAL container-security-context-readonlyrootfilesystem',
      'CRITICAL container-image-tag',
      'CRITICAL container-ephemeral-storage-request-and-limit',
      'CRITICAL pod-networkpolicy',
      'CRITICAL pod-probes',
      'WARNING container-seccomp-profile',
      'WARNING deployment-replicas',
    ]) {
      expect(reported, `${expected} in ${[...reported].join(', ')}`).toContain(expected)
    }
    // The pull-policy finding is there, and excepted only because the object is the chart's API.
    expect(findings.map((f) => `${f.check} ${f.object}`)).toContain('container-image-pull-policy Deployment/keda-lab-api')
    expect(unexcepted.map((f) => f.check)).not.toContain('container-image-pull-policy')
    const withoutExceptions = await policyLint(bad, [])
    expect(withoutExceptions.unexcepted.map((f) => f.check)).toContain('container-image-pull-policy')
  })
})
