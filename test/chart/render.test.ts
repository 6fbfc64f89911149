/**
 * The application chart rendered by the real Helm 3 and Helm 4 for the default values and every
 * option; each rendered object validated against the Kubernetes / KEDA / prometheus-operator
 * schemas (kubernetes-models), and the semantics that matter asserted on top.
 */
import {describe, expect, it} from 'vitest'

import {helmLint, type HelmMajor, type K8sObject, renderChart} from '../helpers/helm.js'
import {checkScalingModifiers, validateObject} from './k8s-validate.js'
import {unknownFields} from './strict-fields.js'

type Env = {name: string; value?: string; valueFrom?: {secretKeyRef?: {name: string; key: string}; fieldRef?: {fieldPath: string}}}
type Container = {
  name: string
  command?: string[]
  env?: Env[]
  ports?: {name: string; containerPort: number}[]
  securityContext?: Record<string, unknown>
  resources?: {requests?: Record<string, string>; limits?: Record<string, string>}
  livenessProbe?: {httpGet?: {path: string; port: string}}
  readinessProbe?: {httpGet?: {path: string; port: string}}
  volumeMounts?: {name: string; mountPath: string}[]
}
type PodSpec = {
  containers: Container[]
  securityContext?: Record<string, unknown>
  volumes?: {name: string; emptyDir?: unknown}[]
  terminationGracePeriodSeconds?: number
  automountServiceAccountToken?: boolean
  serviceAccountName?: string
}
type Trigger = {name: string; type: string; metadata: Record<string, string>; authenticationRef?: {name: string}}

function all(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((object) => object.kind === kind)
}

function one(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name)
  if (!found) {
    const names = all(objects, kind).map((object) => object.metadata.name)
    throw new Error(`no ${kind} named ${name} (have: ${names.join(', ') || 'none'})`)
  }
  return found
}

function podSpec(deployment: K8sObject): PodSpec {
  return (deployment.spec as {template: {spec: PodSpec}}).template.spec
}

function container(objects: K8sObject[], name: string): Container {
  const spec = podSpec(one(objects, 'Deployment', `keda-lab-${name}`))
  const found = spec.containers.find((c) => c.name === name)
  if (!found) throw new Error(`no container ${name}`)
  return found
}

function env(c: Container, name: string): Env | undefined {
  return c.env?.find((e) => e.name === name)
}

function triggers(objects: K8sObject[]): Trigger[] {
  return (one(objects, 'ScaledObject', 'keda-lab-worker').spec as {triggers: Trigger[]}).triggers
}

/** Invariants every rendering must satisfy, whatever the options. */
function checkInvariants(objects: K8sObject[]): void {
  // Every object validates against its schema (an unknown kind throws), and has no field its
  // schema does not know (validate() alone lets typos through).
  for (const object of objects) {
    validateObject(object)
    expect(unknownFields(object)).toEqual([])
  }

  // Names are unique per kind and namespace (two templates fighting over one object is a bug).
  const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`)
  expect(new Set(keys).size).toBe(keys.length)

  /** The webhook reads the lab (webhook.clusterStatus.enabled): its ServiceAccount and Role are rendered. */
  const clusterStatusOn = (objs: K8sObject[]) => objs.some((o) => o.kind === 'Role' && o.metadata.name.endsWith('-webhook-status'))
  for (const deployment of all(objects, 'Deployment')) {
    const spec = podSpec(deployment)
    expect(spec.securityContext).toMatchObject({runAsNonRoot: true, seccompProfile: {type: 'RuntimeDefault'}})
    // Only the webhook talks to the Kubernetes API (/status reads the lab), with its own read-only ServiceAccount.
    if (deployment.metadata.name.endsWith('-webhook') && clusterStatusOn(objects)) {
      expect(spec.automountServiceAccountToken).toBe(true)
      expect(spec.serviceAccountName).toBe(deployment.metadata.name)
    } else expect(spec.automountServiceAccountToken).toBe(false)
    expect(spec.volumes).toContainEqual(expect.objectContaining({name: 'tmp', emptyDir: expect.anything()}))
    for (const c of spec.containers) {
      expect(c.securityContext, `${c.name} securityContext`).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: {drop: ['ALL']},
        seccompProfile: {type: 'RuntimeDefault'},
      })
      expect(c.volumeMounts).toContainEqual({name: 'tmp', mountPath: '/tmp'})
      expect(c.resources?.requests?.cpu, `${c.name} cpu request`).toBeTruthy()
      expect(c.resources?.requests?.memory).toBeTruthy()
      expect(c.resources?.limits?.memory).toBeTruthy()
      expect(c.livenessProbe, `${c.name} liveness`).toBeDefined()
      expect(c.readinessProbe, `${c.name} readiness`).toBeDefined()
      expect(c.command).toEqual(['keda-lab', 'serve', c.name])
      // Secrets never inline: every password/token variable comes from a secretKeyRef.
      for (const variable of c.env ?? []) {
        if (/PASSWORD|TOKEN|SECRET/.test(variable.name)) {
          expect(variable.value, `${c.name} ${variable.name} must not be a literal`).toBeUndefined()
          expect(variable.valueFrom?.secretKeyRef?.name, `${c.name} ${variable.name}`).toBeTruthy()
        }
      }
    }
  }

  // The worker ScaledObject: what the KEDA models cannot check, checked here.
  const scaledObject = one(objects, 'ScaledObject', 'keda-lab-worker')
  checkScalingModifiers(scaledObject)
  expect((scaledObject.spec as {scaleTargetRef: {name: string}}).scaleTargetRef.name).toBe('keda-lab-worker')
  expect(podSpec(one(objects, 'Deployment', 'keda-lab-worker')).terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60)
  // KEDA owns the worker count: a `replicas` field would reset it on every upgrade.
  expect((one(objects, 'Deployment', 'keda-lab-worker').spec as {replicas?: number}).replicas).toBeUndefined()
}

interface Scenario {
  values: Record<string, unknown>
  check(objects: K8sObject[]): void
}

const SCENARIOS: Record<string, Scenario> = {
  'default values (Sentinel, LoadBalancer, monitoring, NetworkPolicies)': {
    values: {},
    check(objects) {
      const api = one(objects, 'Service', 'keda-lab-api')
      expect(api.spec).toMatchObject({type: 'LoadBalancer', ports: [{name: 'http', port: 80, targetPort: 'http'}]})
      // The public Service carries the API port only; metrics have their own ClusterIP Service.
      expect((api.spec as {ports: unknown[]}).ports).toHaveLength(1)
      expect(one(objects, 'Service', 'keda-lab-api-metrics').spec).toMatchObject({type: 'ClusterIP', ports: [{port: 9001}]})
      expect(one(objects, 'Service', 'keda-lab-worker-metrics').spec).toMatchObject({type: 'ClusterIP', ports: [{port: 9002}]})
      expect(one(objects, 'HorizontalPodAutoscaler', 'keda-lab-api').spec).toMatchObject({
        minReplicas: 1,
        maxReplicas: 5,
        scaleTargetRef: {kind: 'Deployment', name: 'keda-lab-api'},
        metrics: [{type: 'Resource', resource: {name: 'cpu', target: {type: 'Utilization', averageUtilization: 70}}}],
      })
      expect(all(objects, 'Ingress')).toHaveLength(0)
      expect(all(objects, 'Secret')).toHaveLength(0)

      const apiContainer = container(objects, 'api')
      expect(apiContainer.livenessProbe?.httpGet).toEqual({path: '/healthz', port: 'http'})
      expect(apiContainer.readinessProbe?.httpGet).toEqual({path: '/readyz', port: 'http'})
      expect(env(apiContainer, 'PORT')?.value).toBe('8000')
      expect(env(apiContainer, 'METRICS_PORT')?.value).toBe('9001')
      expect(env(apiContainer, 'REDIS_SENTINELS')?.value).toBe('redis-ha:26379')
      expect(env(apiContainer, 'REDIS_SENTINEL_MASTER')?.value).toBe('mymaster')
      expect(env(apiContainer, 'REDIS_URL')).toBeUndefined()
      expect(env(apiContainer, 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({name: 'keda-lab-secrets', key: 'redis-password'})
      expect(env(apiContainer, 'REDIS_SENTINEL_PASSWORD')).toBeUndefined()
      expect(env(apiContainer, 'QUEUE_NAME')?.value).toBe('tasks')
      // null task sizes = the binary's defaults: the variables are left out, not set to "null".
      expect(env(apiContainer, 'TASK_ITERATIONS')).toBeUndefined()
      expect(env(apiContainer, 'TASK_MAX_ITERATIONS')).toBeUndefined()
      expect(env(apiContainer, 'TASK_ATTEMPTS')?.value).toBe('1')
      expect(env(apiContainer, 'TASK_RETENTION_SECONDS')?.value).toBe('86400')

      const worker = container(objects, 'worker')
      expect(env(worker, 'METRICS_PORT')?.value).toBe('9002')
      expect(env(worker, 'WORKER_CONCURRENCY')?.value).toBe('1')
      expect(worker.livenessProbe?.httpGet).toEqual({path: '/healthz', port: 'metrics'})
      // The worker waits for its task up to 10 s before the pod's grace period ends.
      expect(env(worker, 'WORKER_SHUTDOWN_GRACE_MS')?.value).toBe('110000')
      expect(env(worker, 'WORKER_NAME')?.valueFrom).toEqual({fieldRef: {fieldPath: 'metadata.name'}})
      expect(podSpec(one(objects, 'Deployment', 'keda-lab-worker')).terminationGracePeriodSeconds).toBe(120)

      const webhook = container(objects, 'webhook')
      expect(env(webhook, 'PORT')?.value).toBe('8080')
      expect(env(webhook, 'METRICS_PORT')?.value).toBe('9003')
      expect(env(webhook, 'TELEGRAM_API_URL')?.value).toBe('https://api.telegram.org')
      expect(env(webhook, 'TELEGRAM_BOT_TOKEN')?.valueFrom?.secretKeyRef).toEqual({name: 'keda-lab-secrets', key: 'telegram-bot-token'})
      expect(env(webhook, 'WEBHOOK_TOKEN')?.valueFrom?.secretKeyRef).toEqual({name: 'keda-lab-secrets', key: 'webhook-token'})
      expect(webhook.livenessProbe?.httpGet).toEqual({path: '/healthz', port: 'http'})
      expect(webhook.readinessProbe?.httpGet).toEqual({path: '/readyz', port: 'http'})
      // No chat ids configured: the variable is left out (the webhook then names it as missing).
      expect(env(webhook, 'TELEGRAM_CHAT_IDS')).toBeUndefined()
      expect(one(objects, 'Service', 'keda-lab-webhook').spec).toMatchObject({type: 'ClusterIP'})

      // KEDA: two redis-sentinel triggers on BullMQ's real lists, summed by scalingModifiers.
      const so = one(objects, 'ScaledObject', 'keda-lab-worker').spec as Record<string, unknown>
      expect(so).toMatchObject({
        minReplicaCount: 1,
        maxReplicaCount: 10,
        pollingInterval: 5,
        cooldownPeriod: 60,
        advanced: {scalingModifiers: {formula: 'wait + active', target: '2', metricType: 'AverageValue'}},
      })
      expect(so.idleReplicaCount).toBeUndefined()
      const [wait, active] = triggers(objects)
      expect(wait).toMatchObject({name: 'wait', type: 'redis-sentinel', authenticationRef: {name: 'keda-lab-worker-redis'}})
      expect(wait?.metadata).toEqual({
        addresses: 'redis-ha.keda:26379',
        sentinelMaster: 'mymaster',
        listName: 'bull:tasks:wait',
        listLength: '2',
      })
      expect(active?.metadata.listName).toBe('bull:tasks:active')
      expect(one(objects, 'TriggerAuthentication', 'keda-lab-worker-redis').spec).toEqual({
        secretTargetRef: [{parameter: 'password', name: 'keda-lab-secrets', key: 'redis-password'}],
      })

      // PDBs for all three; maxUnavailable so that a single replica never blocks a node drain.
      for (const pdb of all(objects, 'PodDisruptionBudget')) expect((pdb.spec as {maxUnavailable?: number}).maxUnavailable).toBe(1)
      expect(
        all(objects, 'PodDisruptionBudget')
          .map((p) => p.metadata.name)
          .sort(),
      ).toEqual(['keda-lab-api', 'keda-lab-webhook', 'keda-lab-worker'])

      // Monitoring: ServiceMonitors with the release label, rules, dashboard in the monitoring namespace.
      const monitors = all(objects, 'ServiceMonitor')
      expect(monitors.map((m) => m.metadata.name).sort()).toEqual(['keda-lab-api', 'keda-lab-webhook', 'keda-lab-worker'])
      for (const monitor of monitors) {
        expect(monitor.metadata.labels?.release).toBe('kube-prometheus-stack')
        expect(monitor.spec).toMatchObject({endpoints: [{port: 'metrics', path: '/metrics'}], namespaceSelector: {matchNames: ['keda']}})
        // The monitor's selector must match a Service that really has a `metrics` port.
        const selector = (monitor.spec as {selector: {matchLabels: Record<string, string>}}).selector.matchLabels
        const targets = all(objects, 'Service').filter((s) => Object.entries(selector).every(([k, v]) => s.metadata.labels?.[k] === v))
        expect(targets, `${monitor.metadata.name} selects one Service`).toHaveLength(1)
        expect((targets[0]!.spec as {ports: {name: string}[]}).ports.map((p) => p.name)).toContain('metrics')
      }
      const rule = one(objects, 'PrometheusRule', 'keda-lab')
      expect(rule.metadata.labels?.release).toBe('kube-prometheus-stack')
      const alerts = (rule.spec as {groups: {rules: {alert: string; labels: Record<string, string>}[]}[]}).groups.flatMap((g) => g.rules)
      expect(alerts.map((a) => a.alert).sort()).toEqual([
        'KedaLabApiErrorRate',
        'KedaLabApiLatencyHigh',
        'KedaLabQueueBacklogGrowing',
        'KedaLabRedisMasterUnreachable',
        'KedaLabTaskFailures',
        'KedaLabWorkersAtMax',
      ])
      // Alertmanager routes on these labels to the webhook.
      for (const alert of alerts) expect(alert.labels).toMatchObject({keda_lab: 'true', severity: expect.stringMatching(/warning|critical/)})
      const dashboard = one(objects, 'ConfigMap', 'keda-lab-dashboard')
      expect(dashboard.metadata.namespace).toBe('keda-monitoring')
      expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1')

      // NetworkPolicies: one per component plus Redis and HAProxy.
      expect(
        all(objects, 'NetworkPolicy')
          .map((p) => p.metadata.name)
          .sort(),
      ).toEqual(['keda-lab-api', 'keda-lab-haproxy', 'keda-lab-redis', 'keda-lab-webhook', 'keda-lab-worker'])
    },
  },
  'standalone Redis': {
    values: {redis: {mode: 'standalone'}},
    check(objects) {
      const apiContainer = container(objects, 'api')
      expect(env(apiContainer, 'REDIS_URL')?.value).toBe('redis://redis-ha-haproxy:6379')
      expect(env(apiContainer, 'REDIS_SENTINELS')).toBeUndefined()
      expect(env(container(objects, 'worker'), 'REDIS_URL')?.value).toBe('redis://redis-ha-haproxy:6379')
      const [wait, active] = triggers(objects)
      expect(wait).toMatchObject({name: 'wait', type: 'redis', metadata: {address: 'redis-ha-haproxy.keda:6379', listName: 'bull:tasks:wait'}})
      expect(active).toMatchObject({name: 'active', type: 'redis', metadata: {listName: 'bull:tasks:active'}})
      expect(wait?.metadata.sentinelMaster).toBeUndefined()
    },
  },
  'Sentinel password, custom queue and task sizes': {
    values: {
      queue: {name: 'video-jobs'},
      task: {iterations: 5_000_000, maxIterations: 50_000_000, attempts: 3, retentionSeconds: 3600},
      redis: {sentinel: {hosts: ['redis-ha-announce-0:26379', 'sentinel.example.org:26380']}, auth: {sentinelPasswordKey: 'sentinel-password'}},
      worker: {concurrency: 2, autoscaling: {tasksPerReplica: 4}},
    },
    check(objects) {
      const worker = container(objects, 'worker')
      expect(env(worker, 'QUEUE_NAME')?.value).toBe('video-jobs')
      expect(env(worker, 'TASK_ITERATIONS')?.value).toBe('5000000')
      expect(env(worker, 'TASK_MAX_ITERATIONS')?.value).toBe('50000000')
      expect(env(worker, 'TASK_ATTEMPTS')?.value).toBe('3')
      expect(env(worker, 'WORKER_CONCURRENCY')?.value).toBe('2')
      expect(env(worker, 'REDIS_SENTINELS')?.value).toBe('redis-ha-announce-0:26379,sentinel.example.org:26380')
      expect(env(worker, 'REDIS_SENTINEL_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({name: 'keda-lab-secrets', key: 'sentinel-password'})
      const [wait, active] = triggers(objects)
      expect(wait?.metadata).toMatchObject({
        addresses: 'redis-ha-announce-0.keda:26379,sentinel.example.org:26380',
        listName: 'bull:video-jobs:wait',
        listLength: '4',
      })
      expect(active?.metadata.listName).toBe('bull:video-jobs:active')
      expect((one(objects, 'ScaledObject', 'keda-lab-worker').spec as {advanced: {scalingModifiers: {target: string}}}).advanced.scalingModifiers.target).toBe(
        '4',
      )
      expect(one(objects, 'TriggerAuthentication', 'keda-lab-worker-redis').spec).toEqual({
        secretTargetRef: [
          {parameter: 'password', name: 'keda-lab-secrets', key: 'redis-password'},
          {parameter: 'sentinelPassword', name: 'keda-lab-secrets', key: 'sentinel-password'},
        ],
      })
    },
  },
  'Telegram chat ids as numbers and names (numbers must not turn into 1e+12)': {
    values: {webhook: {telegram: {chatIds: [-1001234567890, 42, '@lab_alerts', '-100777'], apiUrl: 'http://fake-telegram.test:8081'}}},
    check(objects) {
      const webhook = container(objects, 'webhook')
      expect(env(webhook, 'TELEGRAM_CHAT_IDS')?.value).toBe('-1001234567890,42,@lab_alerts,-100777')
      expect(env(webhook, 'TELEGRAM_API_URL')?.value).toBe('http://fake-telegram.test:8081')
    },
  },
  'Redis without a password': {
    values: {redis: {auth: {enabled: false}}},
    check(objects) {
      expect(env(container(objects, 'api'), 'REDIS_PASSWORD')).toBeUndefined()
      expect(all(objects, 'TriggerAuthentication')).toHaveLength(0)
      for (const trigger of triggers(objects)) expect(trigger.authenticationRef).toBeUndefined()
    },
  },
  'NodePort with a fixed port': {
    values: {api: {service: {type: 'NodePort', nodePort: 30080}}},
    check(objects) {
      expect(one(objects, 'Service', 'keda-lab-api').spec).toMatchObject({type: 'NodePort', ports: [{port: 80, nodePort: 30080}]})
    },
  },
  'NodePort chosen by Kubernetes': {
    values: {api: {service: {type: 'NodePort'}}},
    check(objects) {
      const spec = one(objects, 'Service', 'keda-lab-api').spec as {type: string; ports: {nodePort?: number}[]}
      expect(spec.type).toBe('NodePort')
      expect(spec.ports[0]?.nodePort).toBeUndefined()
    },
  },
  'Ingress with a host and TLS': {
    values: {
      api: {
        service: {type: 'ClusterIP'},
        ingress: {
          enabled: true,
          className: 'nginx',
          host: 'keda-lab.example.com',
          tls: {enabled: true, secretName: 'keda-lab-tls'},
          annotations: {'nginx.ingress.kubernetes.io/proxy-body-size': '1m'},
        },
      },
    },
    check(objects) {
      expect(one(objects, 'Service', 'keda-lab-api').spec).toMatchObject({type: 'ClusterIP'})
      const ingress = one(objects, 'Ingress', 'keda-lab-api')
      expect(ingress.metadata.annotations).toEqual({'nginx.ingress.kubernetes.io/proxy-body-size': '1m'})
      expect(ingress.spec).toEqual({
        ingressClassName: 'nginx',
        tls: [{hosts: ['keda-lab.example.com'], secretName: 'keda-lab-tls'}],
        rules: [
          {
            host: 'keda-lab.example.com',
            http: {paths: [{path: '/', pathType: 'Prefix', backend: {service: {name: 'keda-lab-api', port: {name: 'http'}}}}]},
          },
        ],
      })
    },
  },
  'scale to zero': {
    values: {worker: {autoscaling: {scaleToZero: true, minReplicaCount: 2, maxReplicaCount: 4, cooldownPeriod: 120, pollingInterval: 10}}},
    check(objects) {
      expect(one(objects, 'ScaledObject', 'keda-lab-worker').spec).toMatchObject({
        minReplicaCount: 0,
        maxReplicaCount: 4,
        cooldownPeriod: 120,
        pollingInterval: 10,
        advanced: {scalingModifiers: {activationTarget: '0'}},
      })
      // A minAvailable budget would block node drains with zero workers; maxUnavailable does not.
      const pdb = one(objects, 'PodDisruptionBudget', 'keda-lab-worker').spec as {minAvailable?: unknown; maxUnavailable?: unknown}
      expect(pdb.minAvailable).toBeUndefined()
      expect(pdb.maxUnavailable).toBe(1)
    },
  },
  'monitoring off': {
    values: {monitoring: {enabled: false}},
    check(objects) {
      for (const kind of ['ServiceMonitor', 'PrometheusRule', 'ConfigMap']) expect(all(objects, kind)).toHaveLength(0)
      // The metrics Services stay: in-cluster scrapers other than kube-prometheus-stack may use them.
      expect(one(objects, 'Service', 'keda-lab-api-metrics')).toBeDefined()
    },
  },
  'dashboard off, custom monitoring namespace and release label': {
    values: {monitoring: {namespace: 'observability', releaseLabel: 'prom', dashboard: {enabled: false}}},
    check(objects) {
      expect(all(objects, 'ConfigMap')).toHaveLength(0)
      for (const monitor of all(objects, 'ServiceMonitor')) expect(monitor.metadata.labels?.release).toBe('prom')
      const worker = one(objects, 'NetworkPolicy', 'keda-lab-worker').spec as {ingress: {from: unknown[]}[]}
      expect(worker.ingress[0]?.from).toEqual([{namespaceSelector: {matchLabels: {'kubernetes.io/metadata.name': 'observability'}}}])
    },
  },
  'webhook reading the lab for /status (default) and without it': {
    values: {},
    check(objects) {
      // Read-only: get/list only, no Secrets or ConfigMaps, the proxy pinned to the API's and Alertmanager's ports.
      const rules = (['Role', 'ClusterRole'] as const).flatMap((kind) =>
        all(objects, kind).flatMap((r) => (r as unknown as {rules: {resources: string[]; verbs: string[]; resourceNames?: string[]}[]}).rules),
      )
      expect(rules.length).toBeGreaterThan(0)
      for (const rule of rules) {
        expect(
          rule.verbs.every((v) => v === 'get' || v === 'list'),
          JSON.stringify(rule),
        ).toBe(true)
        expect(rule.resources).not.toContain('secrets')
        expect(rule.resources).not.toContain('configmaps')
        if (rule.resources.includes('services/proxy') || rule.resources.includes('namespaces'))
          expect(rule.resourceNames?.length, JSON.stringify(rule)).toBeGreaterThan(0)
      }
      expect(rules.flatMap((r) => r.resourceNames ?? []).sort()).toEqual([
        'keda',
        'keda-lab-api:http',
        'keda-monitoring',
        'kube-prometheus-stack-alertmanager:9093',
      ])
      const env = (podSpec(one(objects, 'Deployment', 'keda-lab-webhook')).containers[0]!.env ?? []) as {name: string; value?: string}[]
      expect(env.filter((e) => e.name.startsWith('STATUS_'))).toEqual([
        {name: 'STATUS_NAMESPACE', value: 'keda'},
        {name: 'STATUS_MONITORING_NAMESPACE', value: 'keda-monitoring'},
      ])
      // Its NetworkPolicy lets it reach the API server.
      const egress = (one(objects, 'NetworkPolicy', 'keda-lab-webhook').spec as {egress: {ports?: {port: number}[]}[]}).egress
      expect(egress.some((e) => [443, 6443, 8443].every((p) => e.ports?.some((port) => port.port === p)))).toBe(true)
    },
  },
  'the API waits for a Redis replica before accepting a task (install answer redis-wait-replicas)': {
    values: {api: {redisWaitReplicas: 1, redisWaitTimeoutMs: 1500}},
    check(objects) {
      const envOf = (name: string) => (podSpec(one(objects, 'Deployment', name)).containers[0]!.env ?? []) as {name: string; value?: string}[]
      expect(envOf('keda-lab-api').filter((e) => e.name.startsWith('REDIS_WAIT'))).toEqual([
        {name: 'REDIS_WAIT_REPLICAS', value: '1'},
        {name: 'REDIS_WAIT_TIMEOUT_MS', value: '1500'},
      ])
      // Only the API accepts tasks; the worker and the webhook do not wait.
      for (const name of ['keda-lab-worker', 'keda-lab-webhook']) expect(envOf(name).some((e) => e.name.startsWith('REDIS_WAIT'))).toBe(false)
    },
  },
  'webhook without cluster access': {
    values: {webhook: {clusterStatus: {enabled: false}}},
    check(objects) {
      for (const kind of ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']) expect(all(objects, kind)).toHaveLength(0)
      expect(all(objects, 'ServiceAccount').map((o) => o.metadata.name)).not.toContain('keda-lab-webhook')
      const spec = podSpec(one(objects, 'Deployment', 'keda-lab-webhook'))
      expect(spec.automountServiceAccountToken).toBe(false)
      expect(((spec.containers[0]!.env ?? []) as {name: string}[]).some((e) => e.name.startsWith('STATUS_'))).toBe(false)
    },
  },
  'NetworkPolicies off': {
    values: {networkPolicy: {enabled: false}},
    check(objects) {
      expect(all(objects, 'NetworkPolicy')).toHaveLength(0)
    },
  },
  'webhook off': {
    values: {webhook: {enabled: false}},
    check(objects) {
      expect(
        all(objects, 'Deployment')
          .map((d) => d.metadata.name)
          .sort(),
      ).toEqual(['keda-lab-api', 'keda-lab-worker'])
      expect(
        all(objects, 'ServiceMonitor')
          .map((m) => m.metadata.name)
          .sort(),
      ).toEqual(['keda-lab-api', 'keda-lab-worker'])
      expect(all(objects, 'Service').some((s) => s.metadata.name === 'keda-lab-webhook')).toBe(false)
    },
  },
  'API autoscaling off': {
    values: {api: {autoscaling: {enabled: false}, replicaCount: 2}},
    check(objects) {
      expect(all(objects, 'HorizontalPodAutoscaler')).toHaveLength(0)
      expect((one(objects, 'Deployment', 'keda-lab-api').spec as {replicas: number}).replicas).toBe(2)
    },
  },
  'secrets.create with the chart-managed Secret': {
    values: {secrets: {create: true, telegramBotToken: '123456:test-token'}, redis: {auth: {existingSecret: ''}}},
    check(objects) {
      const secret = one(objects, 'Secret', 'keda-lab-secrets')
      expect(Object.keys(secret.data as object).sort()).toEqual(['redis-password', 'telegram-bot-token', 'webhook-token'])
      expect(secret.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep')
      expect(env(container(objects, 'api'), 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef?.name).toBe('keda-lab-secrets')
    },
  },
}

const MAJORS: HelmMajor[] = [3, 4]

describe.each(MAJORS)('keda-lab chart with Helm %i', (major) => {
  it.each(Object.entries(SCENARIOS))('%s: lints, renders, validates', async (_name, scenario) => {
    const lint = await helmLint(major, {values: scenario.values})
    expect(lint.exitCode, `helm ${major} lint:\n${lint.stdout}\n${lint.stderr}`).toBe(0)
    const objects = await renderChart(major, {values: scenario.values})
    checkInvariants(objects)
    scenario.check(objects)
  })

  it("puts every object in the release namespace except the dashboard and the webhook's read access there (monitoring namespace)", async () => {
    const objects = await renderChart(major, {namespace: 'lab-b', release: 'demo'})
    // A release name without "keda-lab" gets the chart name appended.
    expect(
      all(objects, 'Deployment')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['demo-keda-lab-api', 'demo-keda-lab-webhook', 'demo-keda-lab-worker'])
    for (const object of objects) {
      if (object.kind === 'ConfigMap' || object.kind === 'Role' || object.kind === 'RoleBinding') {
        if (object.metadata.namespace) expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe('keda-monitoring')
        else expect(object.kind).toMatch(/^Role/) // the webhook's Role in the release namespace
      } else expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBeUndefined()
    }
    // Exactly one ConfigMap (the dashboard) and one Role + RoleBinding pair go to the monitoring namespace.
    expect(
      objects
        .filter((o) => o.metadata.namespace === 'keda-monitoring')
        .map((o) => o.kind)
        .sort(),
    ).toEqual(['ConfigMap', 'Role', 'RoleBinding'])
    const rule = JSON.stringify(one(objects, 'PrometheusRule', 'demo-keda-lab').spec)
    expect(rule).toContain('namespace=\\"lab-b\\"')
    expect(rule).toContain('keda-hpa-demo-keda-lab-worker')
  })
})

describe('schema validation catches what it should', () => {
  it('rejects an invalid object (the validator is not a silent pass)', () => {
    const broken: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'x'},
      spec: {selector: {matchLabels: {a: 'b'}}, template: {spec: {containers: [{name: 'c', ports: [{containerPort: 'http'}]}]}}},
    }
    expect(() => validateObject(broken)).toThrow(/Deployment x is invalid/)
  })

  it('fails on a kind it has no schema for', () => {
    expect(() => validateObject({apiVersion: 'example.com/v1', kind: 'Widget', metadata: {name: 'w'}})).toThrow(/no schema model for example.com\/v1\/Widget/)
  })

  it('finds misspelt fields that validate() lets through, in core objects and CRDs', () => {
    const deployment: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'x', lables: {a: 'b'}} as K8sObject['metadata'],
      spec: {
        selector: {matchLabels: {a: 'b'}},
        template: {spec: {containers: [{name: 'c', image: 'i', readinesProbe: {httpGet: {path: '/', port: 80}}}]}},
      },
    }
    validateObject(deployment)
    expect(unknownFields(deployment)).toEqual([
      expect.stringMatching(/^Deployment\/x\.metadata\.lables: unknown field/),
      expect.stringMatching(/^Deployment\/x\.spec\.template\.spec\.containers\[0\]\.readinesProbe: unknown field/),
    ])
    const scaledObject: K8sObject = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: {name: 'w'},
      spec: {scaleTargetRef: {name: 'w'}, advanced: {scalingModifier: {formula: 'a'}}, triggers: [{type: 'redis', metdata: {}}]},
    }
    expect(unknownFields(scaledObject)).toEqual([
      expect.stringMatching(/spec\.advanced\.scalingModifier: unknown field/),
      expect.stringMatching(/spec\.triggers\[0\]\.metdata: unknown field/),
    ])
  })

  it('checks scalingModifiers beyond the KEDA models (formula naming a missing trigger, bad metricType)', () => {
    const scaledObject = (formula: string, metricType = 'AverageValue'): K8sObject => ({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: {name: 'w'},
      spec: {
        scaleTargetRef: {name: 'w'},
        advanced: {scalingModifiers: {formula, target: '2', metricType}},
        triggers: [
          {name: 'wait', type: 'redis', metadata: {}},
          {name: 'active', type: 'redis', metadata: {}},
        ],
      },
    })
    // The installed models accept both mistakes...
    validateObject(scaledObject('wait + actve'))
    validateObject(scaledObject('wait + active', 'Average'))
    // ...our own assertion does not.
    expect(() => checkScalingModifiers(scaledObject('wait + actve'))).toThrow(/"actve", which is not a trigger/)
    expect(() => checkScalingModifiers(scaledObject('wait + active', 'Average'))).toThrow(/metricType/)
    checkScalingModifiers(scaledObject('wait + active'))
  })
})
