/**
 * The pieces planInstall is made of, each on its own: the image, the release action, and one
 * builder per step. The whole plan (step order, values, Helm 3/4, dry-run text) is tested in
 * test/unit/install-plan.test.ts; here each builder's own decisions.
 */
import {describe, expect, it} from 'vitest'

import type {ToolCommand} from '../../src/adapters/cluster-tools.js'
import {helmCommands} from '../../src/adapters/helm.js'
import {repositorySources} from '../../src/lab/chart-sources.js'
import {
  type Action,
  applicationStep,
  imageStep,
  kedaStep,
  metricsServerStep,
  monitoringStep,
  namespacesStep,
  planImage,
  type PlanStep,
  redisStep,
  releaseAction,
  repositoriesStep,
  rolloutStep,
} from '../../src/lab/install/plan.js'
import type {SecretSpec} from '../../src/lab/install/secrets.js'

const helm = helmCommands('helm', 'lab')
const line = (c: ToolCommand) => [...(c.cwd ? [`(cd ${c.cwd})`] : []), c.bin, ...c.args].join(' ')
const lines = (step: PlanStep) => step.actions.flatMap((a) => (a.type === 'run' ? [line(a.command)] : []))
const release = releaseAction({helm, major: 4, chartSources: repositorySources(), valuesDir: '/out/values'})
const imageDeps = {version: '1.2.3', dockerfileExists: true, publishedImage: 'ghcr.io/o/keda-lab:1.2.3'}

describe('planImage', () => {
  it('builds into minikube/kind with a per-run tag, pulls the published image elsewhere, and --image wins', () => {
    const built = planImage(undefined, {...imageDeps, buildId: '20261207T040000', facts: {cluster: {kind: 'kind', name: 'k'}}})
    expect(built).toEqual({
      source: {kind: 'build'},
      builtTag: 'keda-lab:1.2.3-20261207T040000',
      values: {repository: 'keda-lab', tag: '1.2.3-20261207T040000', pullPolicy: 'IfNotPresent'},
    })
    const pulled = planImage(undefined, {...imageDeps, facts: {cluster: {kind: 'other'}}})
    expect(pulled.source).toEqual({kind: 'published', ref: 'ghcr.io/o/keda-lab:1.2.3'})
    expect(pulled.values).toEqual({repository: 'ghcr.io/o/keda-lab', tag: '1.2.3', pullPolicy: 'IfNotPresent'})
    const flag = planImage('r.example/me/app', {...imageDeps, facts: {cluster: {kind: 'minikube'}}})
    expect(flag.source).toEqual({kind: 'flag', ref: 'r.example/me/app'})
    // No tag: latest, pulled every time.
    expect(flag.values).toEqual({repository: 'r.example/me/app', tag: 'latest', pullPolicy: 'Always'})
  })
})

describe('releaseAction', () => {
  it('upgrade --install from the chart source with its values file, CRDs recorded; claims watched only when persistent', () => {
    const plain = release('loki', 'loki', 'mon', '10m')
    const persistent = release('redisHa', 'redis-ha', 'keda', '10m', true)
    if (plain.type !== 'run' || persistent.type !== 'run') throw new Error('a release is a run action')
    expect(line(plain.command)).toMatch(
      /^helm upgrade --install loki grafana-community\/loki --namespace mon --version \S+ --values \/out\/values\/loki\.yaml /,
    )
    expect(plain.recordCrds && line(plain.recordCrds.manifest)).toBe('helm get manifest loki --namespace mon --kube-context lab')
    expect(plain.recordCrds && line(plain.recordCrds.showCrds)).toMatch(/^helm show crds grafana-community\/loki --version \S+$/)
    expect(plain.watchClaims).toBeUndefined()
    expect(persistent.watchClaims).toEqual({namespace: 'keda'})
  })
})

describe('step builders', () => {
  it('repositories: add each, update once; none needed is a skipped step', () => {
    const step = repositoriesStep(helm, new Map([['kedacore', 'https://kedacore.github.io/charts']]))
    expect(lines(step)).toEqual(['helm repo add kedacore https://kedacore.github.io/charts --force-update', 'helm repo update kedacore'])
    const none = repositoriesStep(helm, new Map())
    expect(none.actions).toEqual([])
    expect(none.skipped).toBe('every chart comes from the --charts folder')
  })

  it('namespaces: the app namespace with Pod Security labels, the monitoring one only when separate, then the Secrets', () => {
    const secret = {namespace: 'keda', name: 'keda-lab-secrets'} as SecretSpec
    const both = namespacesStep('keda', 'mon', [secret])
    expect(both.actions.map((a: Action) => (a.type === 'namespace' ? `ns/${a.name}` : a.type === 'secret' ? `secret/${a.secret.name}` : a.type))).toEqual([
      'ns/keda',
      'ns/mon',
      'secret/keda-lab-secrets',
    ])
    const [app] = both.actions
    expect(app?.type === 'namespace' && app.labels['pod-security.kubernetes.io/warn']).toBe('restricted')
    expect(namespacesStep('keda', 'keda', []).actions).toHaveLength(1)
    expect(namespacesStep('keda', undefined, []).actions).toHaveLength(1)
  })

  it('metrics-server: only on minikube without the metrics API, and only when agreed', () => {
    expect(metricsServerStep({kind: 'minikube', name: 'p'}, false, true).flatMap(lines)).toEqual(['minikube addons enable metrics-server -p p'])
    expect(metricsServerStep({kind: 'minikube'}, true, true)).toEqual([])
    expect(metricsServerStep({kind: 'minikube'}, false, false)).toEqual([])
    expect(metricsServerStep({kind: 'kind'}, false, true)).toEqual([])
  })

  it("keda: keda-lab's release, or skipped naming the foreign KEDA's namespace", () => {
    expect(lines(kedaStep(release, 'keda', undefined, false))).toEqual([expect.stringMatching(/^helm upgrade --install keda kedacore\/keda --namespace keda /)])
    const reused = kedaStep(release, 'keda', 'platform', true)
    expect(reused.actions).toEqual([])
    expect(reused.skipped).toBe('a KEDA that keda-lab did not install runs in namespace platform: reusing it (a second KEDA would break both)')
  })

  it("redis: the values' notes first, then what persistence means and which StorageClass", () => {
    const on = redisStep(release, 'keda', {redisPersistence: true, storageClass: 'fast'}, ['one node: relaxed'])
    expect(on.notes).toEqual(['one node: relaxed', 'persistence on: AOF on a PersistentVolume per replica, StorageClass fast (--storage-class)'])
    expect(on.actions[0]?.type === 'run' && on.actions[0].watchClaims).toEqual({namespace: 'keda'})
    const off = redisStep(release, 'keda', {redisPersistence: false}, [])
    expect(off.notes).toEqual(['persistence off: Redis data is lost when its pods restart'])
    expect(off.actions[0]?.type === 'run' && off.actions[0].watchClaims).toBeUndefined()
  })

  it('monitoring: three releases in the monitoring namespace (Loki persistent like Redis, noting its class), or skipped', () => {
    const on = monitoringStep(release, 'mon', {monitoring: true, redisPersistence: true})
    expect(lines(on).map((c) => c.split(' ')[3])).toEqual(['kube-prometheus-stack', 'loki', 'alloy'])
    expect(on.notes).toEqual(["Loki's chunks on a PersistentVolume, the cluster's default StorageClass"])
    expect(monitoringStep(release, 'mon', {monitoring: true, redisPersistence: false}).notes).toEqual([])
    expect(on.actions.map((a) => (a.type === 'run' ? a.watchClaims?.namespace : undefined))).toEqual([undefined, 'mon', undefined])
    const off = monitoringStep(release, 'mon', {monitoring: false, redisPersistence: true})
    expect(off.actions).toEqual([])
    expect(off.skipped).toBe('monitoring off (--no-monitoring)')
  })

  it('image: minikube image build, or docker build + kind load, or skipped saying what is pulled and why', () => {
    const deps = {version: '1.2.3', packageRoot: '/pkg'}
    const build = planImage(undefined, {...imageDeps, facts: {cluster: {kind: 'kind'}}})
    expect(lines(imageStep(build, {kind: 'minikube', name: 'p'}, deps))).toEqual(['(cd /pkg) minikube image build -t keda-lab:1.2.3 -p p .'])
    expect(lines(imageStep(build, {kind: 'kind', name: 'k'}, deps))).toEqual([
      '(cd /pkg) docker build -t keda-lab:1.2.3 .',
      'kind load docker-image keda-lab:1.2.3 --name k',
    ])
    const published = imageStep(planImage(undefined, {...imageDeps, facts: {cluster: {kind: 'other'}}}), {kind: 'other'}, deps)
    expect(published.skipped).toBe(
      'pulling ghcr.io/o/keda-lab:1.2.3, the published image of keda-lab 1.2.3 (keda-lab builds its image only into minikube or kind; --image to run another)',
    )
    const noDockerfile = planImage(undefined, {...imageDeps, dockerfileExists: false, facts: {cluster: {kind: 'kind'}}})
    expect(imageStep(noDockerfile, {kind: 'kind'}, deps).skipped).toMatch(/\(no Dockerfile to build from; --image to run another\)$/)
  })

  it('application: the app chart without --wait; rollout: waits for the release by its instance label', () => {
    const [app] = lines(applicationStep(helm, 3, '/pkg/templates/chart/keda-lab', 'keda', '/out/values'))
    expect(app).toBe(
      'helm upgrade --install keda-lab /pkg/templates/chart/keda-lab --namespace keda --values /out/values/keda-lab.yaml --timeout 5m --kube-context lab',
    )
    expect(rolloutStep('keda').actions).toEqual([
      {type: 'rollout', namespace: 'keda', labelSelector: 'app.kubernetes.io/instance=keda-lab', timeoutSeconds: 300},
    ])
  })
})
