/**
 * Pure parts of the Kubernetes adapter, the fake API, uninstall and doctor: quantities, selectors,
 * merge patches, helm list parsing and release order, namespace condition parsing, ownership of
 * cluster-scoped objects, and the report text.
 */
import {describe, expect, it} from 'vitest'

import {helmCommands} from '../../src/adapters/helm.js'
import {type ObjectSummary, parseCpuMillis, parseMemoryBytes} from '../../src/adapters/kube/index.js'
import {describeBlockers, parseResource, resourcesFromConditions} from '../../src/lab/uninstall/blockers.js'
import {formatUninstallReport} from '../../src/lab/uninstall/format.js'
import {CRD_NAMESPACE_ANNOTATION, CRD_RELEASE_ANNOTATION} from '../../src/lab/crd-records.js'
import {owningRelease} from '../../src/lab/uninstall/leftovers.js'
import {labReleases, parseHelmList, UNINSTALL_ORDER} from '../../src/lab/uninstall/releases.js'
import {describePlan} from '../../src/lab/uninstall/run.js'
import {applyMergePatch, matchesSelector, pluralOf} from '../fakes/kube-api.js'

const summary = (name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): ObjectSummary => ({
  name,
  labels,
  annotations,
  finalizers: [],
  conditions: [],
})

describe('quantities', () => {
  it('parses CPU to millicores', () => {
    expect([parseCpuMillis('4'), parseCpuMillis('3800m'), parseCpuMillis('0.5'), parseCpuMillis('250000000n'), parseCpuMillis(undefined)]).toEqual([
      4000, 3800, 500, 250, 0,
    ])
  })
  it('parses memory to bytes', () => {
    expect([parseMemoryBytes('8Gi'), parseMemoryBytes('16318948Ki'), parseMemoryBytes('512M'), parseMemoryBytes('1e9')]).toEqual([
      8 * 2 ** 30,
      16_318_948 * 1024,
      512e6,
      1e9,
    ])
  })
})

describe('fake API helpers', () => {
  it('matches label selectors like the API server', () => {
    const labels = {app: 'keda', tier: 'operator'}
    expect(matchesSelector(labels, 'app=keda,tier==operator')).toBe(true)
    expect(matchesSelector(labels, 'app!=keda')).toBe(false)
    expect(matchesSelector(labels, 'app in (keda, other),!missing')).toBe(true)
    expect(matchesSelector(labels, 'tier notin (operator)')).toBe(false)
    expect(matchesSelector(labels, 'missing')).toBe(false)
    expect(matchesSelector(labels, '')).toBe(true)
  })
  it('applies RFC 7386 merge patches (null deletes)', () => {
    expect(applyMergePatch({metadata: {name: 'a', finalizers: ['x'], labels: {k: 'v'}}}, {metadata: {finalizers: null, labels: {j: 'w'}}})).toEqual({
      metadata: {name: 'a', labels: {k: 'v', j: 'w'}},
    })
    expect(applyMergePatch({a: [1, 2]}, {a: [3]})).toEqual({a: [3]})
  })
  it('names plurals the way the API does', () => {
    expect(['StorageClass', 'APIService', 'ScaledObject', 'Ingress', 'NetworkPolicy', 'Endpoints'].map(pluralOf)).toEqual([
      'storageclasses',
      'apiservices',
      'scaledobjects',
      'ingresses',
      'networkpolicies',
      'endpoints',
    ])
  })
})

describe('releases', () => {
  it('uninstalls in reverse install order, KEDA last', () => {
    expect(UNINSTALL_ORDER).toEqual(['keda-lab', 'alloy', 'loki', 'kube-prometheus-stack', 'redis-ha', 'keda'])
  })
  it('keeps only the lab releases, each in the namespace keda-lab puts it in', () => {
    const all = [
      {name: 'keda', namespace: 'keda'},
      {name: 'keda', namespace: 'platform'}, // someone else's KEDA: never ours
      {name: 'loki', namespace: 'keda-monitoring'},
      {name: 'loki', namespace: 'keda'}, // wrong namespace for loki
      {name: 'keda-lab', namespace: 'keda'},
      {name: 'unrelated', namespace: 'keda'},
    ]
    expect(labReleases(all, 'keda', 'keda-monitoring')).toEqual([
      {name: 'keda-lab', namespace: 'keda'},
      {name: 'loki', namespace: 'keda-monitoring'},
      {name: 'keda', namespace: 'keda'},
    ])
  })
  it('builds the same helm command lines for Helm 3 and 4, with the context when given', () => {
    expect(helmCommands('helm', 'minikube').list().args).toEqual([
      'list',
      '--all-namespaces',
      '--deployed',
      '--failed',
      '--pending',
      '--uninstalling',
      '--output',
      'json',
      '--kube-context',
      'minikube',
    ])
    expect(helmCommands('helm').uninstall({name: 'loki', namespace: 'mon'}).args).toEqual(['uninstall', 'loki', '--namespace', 'mon', '--timeout', '5m'])
  })
  it('parses helm list JSON and rejects anything else with one clear line', () => {
    expect(parseHelmList('[]')).toEqual([])
    expect(parseHelmList('[{"name":"keda","namespace":"keda","revision":"2","status":"deployed","chart":"keda-2.18.1","app_version":"2.18.1"}]')).toEqual([
      {name: 'keda', namespace: 'keda', revision: '2', status: 'deployed', chart: 'keda-2.18.1'},
    ])
    expect(() => parseHelmList('')).toThrow(/could not read the output of `helm list -o json`/)
    expect(() => parseHelmList('{"a":1}')).toThrow(/did not print a list/)
  })
})

describe('stuck namespaces', () => {
  it('reads the remaining resources from the namespace controller conditions (core resources end with a dot)', () => {
    const conditions = [
      {
        type: 'NamespaceContentRemaining',
        status: 'True',
        message: 'Some resources are remaining: persistentvolumeclaims. has 1 resource instances, scaledobjects.keda.sh has 2 resource instances',
      },
      {
        type: 'NamespaceFinalizersRemaining',
        status: 'True',
        message: 'Some content in the namespace has finalizers remaining: finalizer.keda.sh in 2 resource instances',
      },
    ]
    expect(resourcesFromConditions(conditions)).toEqual(['persistentvolumeclaims', 'scaledobjects.keda.sh'])
    expect(resourcesFromConditions([{type: 'NamespaceContentRemaining', status: 'False', message: 'All content successfully deleted'}])).toEqual([])
    expect(parseResource('scaledobjects.keda.sh')).toEqual({group: 'keda.sh', plural: 'scaledobjects'})
    expect(parseResource('pods.')).toEqual({group: '', plural: 'pods'})
  })
  it('describes blockers: conditions, objects with their finalizers, and spec finalizers once the content is gone', () => {
    const base = {
      namespace: 'keda',
      phase: 'Terminating',
      conditions: [
        {
          type: 'NamespaceDeletionDiscoveryFailure',
          status: 'True',
          message: 'Discovery failed for some groups: external.metrics.k8s.io/v1beta1: the server is currently unable to handle the request',
        },
      ],
    }
    expect(
      describeBlockers({
        ...base,
        specFinalizers: ['kubernetes'],
        objects: [{resource: 'scaledobjects.keda.sh', name: 'w', finalizers: ['finalizer.keda.sh']}],
        unavailableApiServices: [{name: 'v1beta1.external.metrics.k8s.io', message: 'FailedDiscoveryCheck: connection refused'}],
      }),
    ).toEqual([
      'NamespaceDeletionDiscoveryFailure: Discovery failed for some groups: external.metrics.k8s.io/v1beta1: the server is currently unable to handle the request',
      'APIService v1beta1.external.metrics.k8s.io is unavailable (FailedDiscoveryCheck: connection refused)',
      'scaledobjects.keda.sh/w (finalizers: finalizer.keda.sh)',
    ])
    expect(describeBlockers({...base, conditions: [], specFinalizers: ['example.com/hold'], objects: [], unavailableApiServices: []})).toEqual([
      'namespace spec.finalizers: example.com/hold',
    ])
  })
})

describe('cluster-scoped leftovers', () => {
  it("attributes objects to releases by Helm's annotations or install's CRD record first, then labels; never by API group", () => {
    const own = (o: ObjectSummary) => owningRelease(o, 'keda', 'keda-monitoring')
    expect(own(summary('keda-operator', {}, {'meta.helm.sh/release-name': 'keda', 'meta.helm.sh/release-namespace': 'keda'}))).toBe('keda')
    expect(
      own(
        summary(
          'their-keda',
          {'app.kubernetes.io/part-of': 'keda-operator'},
          {'meta.helm.sh/release-name': 'keda', 'meta.helm.sh/release-namespace': 'platform'},
        ),
      ),
    ).toBeUndefined()
    expect(own(summary('alloy', {}, {'meta.helm.sh/release-name': 'alloy', 'meta.helm.sh/release-namespace': 'keda-monitoring'}))).toBe('alloy')
    expect(own(summary('x', {release: 'kube-prometheus-stack'}))).toBe('kube-prometheus-stack')
    expect(own(summary('x', {'app.kubernetes.io/instance': 'loki'}))).toBe('loki')
    const record = (release: string, namespace: string) => ({[CRD_RELEASE_ANNOTATION]: release, [CRD_NAMESPACE_ANNOTATION]: namespace})
    expect(own(summary('podlogs.monitoring.grafana.com', {}, record('alloy', 'keda-monitoring')))).toBe('alloy')
    expect(own(summary('scaledjobs.keda.sh', {}, record('keda', 'keda')))).toBe('keda')
    // Another lab's record (other namespace), or a release that is not the lab's: not ours.
    expect(own(summary('scaledjobs.keda.sh', {}, record('keda', 'platform')))).toBeUndefined()
    expect(own(summary('widgets.example.com', {}, record('widgets', 'keda')))).toBeUndefined()
    // No record, no labels: the API group alone says nothing about who brought it.
    expect(own(summary('prometheuses.monitoring.coreos.com'))).toBeUndefined()
    expect(own(summary('certificates.cert-manager.io'))).toBeUndefined()
    expect(own(summary('cluster-admin'))).toBeUndefined()
  })
})

describe('uninstall text', () => {
  it('describes the plan before confirming', () => {
    const plan = {
      releases: [
        {name: 'keda-lab', namespace: 'keda'},
        {name: 'keda', namespace: 'keda'},
      ],
      namespaces: [{name: 'keda', phase: 'Active'}],
      pvcs: ['keda/data-redis-ha-server-0'],
    }
    expect(describePlan(plan, {purge: false})).toEqual([
      'Helm releases to remove, in this order: keda-lab (keda), keda (keda)',
      'Namespaces to delete: keda',
      'PersistentVolumeClaims kept (use --purge to delete them): keda/data-redis-ha-server-0',
    ])
    expect(describePlan({releases: [], namespaces: [], pvcs: []}, {purge: true})).toEqual([
      'No keda-lab Helm release is installed.',
      'No keda-lab namespace exists.',
    ])
  })
  it('reports every outcome with √ / ‼ / × and the fix', () => {
    const lines = formatUninstallReport(
      {
        releases: [{name: 'keda', namespace: 'keda'}],
        namespaces: [
          {
            name: 'keda',
            status: 'stuck',
            blockers: ['scaledobjects.keda.sh/w (finalizers: finalizer.keda.sh)'],
            hint: '`keda-lab uninstall --force` clears these finalizers (skipping the clean-up they stand for)',
          },
          {name: 'keda-monitoring', status: 'forced', cleared: {namespace: 'keda-monitoring', clearedObjects: ['pods/p'], clearedNamespaceFinalizers: []}},
        ],
        pvcs: {kept: [], deleted: ['keda/data-redis-ha-server-0']},
        leftovers: {
          found: [{kind: 'ClusterRole', name: 'keda-operator', release: 'keda'}],
          removed: [{kind: 'ClusterRole', name: 'keda-operator', release: 'keda'}],
          terminating: [
            {name: 'scaledobjects.keda.sh', state: 'InstanceDeletionInProgress: CustomResource deletion is in progress', failed: false},
            {name: 'podlogs.monitoring.grafana.com', failed: false},
          ],
        },
        ok: false,
      },
      {purge: true},
    )
    expect(lines).toEqual([
      '√ Removed Helm releases: keda (keda)',
      '× Namespace keda is stuck in Terminating, blocked by:',
      '    scaledobjects.keda.sh/w (finalizers: finalizer.keda.sh)',
      '    hint: `keda-lab uninstall --force` clears these finalizers (skipping the clean-up they stand for)',
      '√ Namespace keda-monitoring removed after clearing finalizers (--force): pods/p',
      '√ Deleted PersistentVolumeClaims: keda/data-redis-ha-server-0',
      '√ Deleted cluster-scoped leftovers: ClusterRole keda-operator',
      '‼ Deleted, but not yet gone when --timeout ran out (the API server deletes their objects first; it goes on by itself):',
      '    CustomResourceDefinition scaledobjects.keda.sh (InstanceDeletionInProgress: CustomResource deletion is in progress)',
      '    CustomResourceDefinition podlogs.monitoring.grafana.com',
    ])
  })
})
