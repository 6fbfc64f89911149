/**
 * values.schema.json and the templates' own checks: bad values make `helm template` fail with a
 * message naming the key (Helm 3 prints `a.b.c: ...`, Helm 4 `at '/a/b/c': ...`); every real
 * value — including the install contract's full values file and null for nullable keys — passes.
 */
import {describe, expect, it} from 'vitest'

import {helmTemplate, type HelmMajor, parseManifests} from '../helpers/helm.js'

/** The key as each Helm major names it in a schema error. */
function keyPattern(key: string): RegExp {
  const escapeRegex = (s: string): string => s.replaceAll(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  const dotted = escapeRegex(key)
  const slashed = escapeRegex(`/${key.replaceAll('.', '/')}`)
  return new RegExp(`${dotted}|${slashed}`)
}

interface BadCase {
  values?: Record<string, unknown>
  set?: string[]
  /** The key the error must name. */
  key: string
  /** What the message must also say (the problem or the fix). */
  says: RegExp
}

const BAD: Record<string, BadCase> = {
  'an unknown Redis mode': {values: {redis: {mode: 'cluster'}}, key: 'redis.mode', says: /sentinel/},
  'a replica count given as text': {values: {worker: {autoscaling: {maxReplicaCount: 'ten'}}}, key: 'worker.autoscaling.maxReplicaCount', says: /integer/},
  'zero tasks per replica': {values: {worker: {autoscaling: {tasksPerReplica: 0}}}, key: 'worker.autoscaling.tasksPerReplica', says: /1/},
  'an unknown Service type': {values: {api: {service: {type: 'ExternalName'}}}, key: 'api.service.type', says: /LoadBalancer/},
  'a node port outside 30000-32767': {values: {api: {service: {type: 'NodePort', nodePort: 80}}}, key: 'api.service.nodePort', says: /30000|30,000/},
  'a queue name with spaces': {values: {queue: {name: 'my queue'}}, key: 'queue.name', says: /pattern|match/i},
  'a numeric image tag (--set turns 1.0 into a number)': {set: ['image.tag=2'], key: 'image.tag', says: /string/},
  'a failure ratio above 1': {values: {monitoring: {alerts: {taskFailureRatio: 2}}}, key: 'monitoring.alerts.taskFailureRatio', says: /1/},
  'a Sentinel address without a port': {values: {redis: {sentinel: {hosts: ['redis-ha']}}}, key: 'redis.sentinel.hosts', says: /pattern|match/i},
  'no Sentinel at all': {values: {redis: {sentinel: {hosts: []}}}, key: 'redis.sentinel.hosts', says: /item|length|minItems/i},
  'a CPU target over 100 %': {
    values: {api: {autoscaling: {targetCPUUtilizationPercentage: 150}}},
    key: 'api.autoscaling.targetCPUUtilizationPercentage',
    says: /100/,
  },
  'a misspelt top-level key': {values: {workers: {concurrency: 2}}, key: 'workers', says: /additional/i},
  'a misspelt nested key': {values: {worker: {autoscalling: {}}}, key: 'autoscalling', says: /additional/i},
  'a bad pull policy': {values: {image: {pullPolicy: 'Sometimes'}}, key: 'image.pullPolicy', says: /IfNotPresent/},
  'task size zero': {values: {task: {iterations: 0}}, key: 'task.iterations', says: /1/},
  'a Telegram API URL that is not a URL': {values: {webhook: {telegram: {apiUrl: 'api.telegram.org'}}}, key: 'webhook.telegram.apiUrl', says: /pattern|match/i},
  'a monitoring namespace that is not a DNS label': {values: {monitoring: {namespace: 'Keda_Monitoring'}}, key: 'monitoring.namespace', says: /pattern|match/i},
  'an HPA scale-down window over an hour': {
    values: {api: {autoscaling: {behavior: {scaleDown: {stabilizationWindowSeconds: 3601}}}}},
    key: 'api.autoscaling.behavior.scaleDown.stabilizationWindowSeconds',
    says: /3600|3,600/,
  },
  "an unknown HPA policy type (KEDA's worker HPA)": {
    values: {worker: {autoscaling: {behavior: {scaleUp: {policies: [{type: 'Replicas', value: 2, periodSeconds: 15}]}}}}},
    key: 'worker.autoscaling.behavior.scaleUp.policies',
    says: /Percent/,
  },
  'a misspelt HPA behavior direction': {values: {api: {autoscaling: {behavior: {scaledown: {}}}}}, key: 'scaledown', says: /additional/i},
  // Checks the schema cannot express, done in the templates with `fail`.
  'min replicas above max (API)': {
    values: {api: {autoscaling: {minReplicas: 6, maxReplicas: 5}}},
    key: 'api.autoscaling.minReplicas',
    says: /must not exceed api\.autoscaling\.maxReplicas/,
  },
  'min replicas above max (workers)': {
    values: {worker: {autoscaling: {minReplicaCount: 11, maxReplicaCount: 10}}},
    key: 'worker.autoscaling.minReplicaCount',
    says: /must not exceed worker\.autoscaling\.maxReplicaCount/,
  },
  'an Ingress without a host': {values: {api: {ingress: {enabled: true}}}, key: 'api.ingress.host', says: /required when api\.ingress\.enabled/},
  'TLS without a certificate Secret': {
    values: {api: {ingress: {enabled: true, host: 'a.example.com', tls: {enabled: true}}}},
    key: 'api.ingress.tls.secretName',
    says: /required/,
  },
  'secrets.create with the webhook but no Telegram token': {
    values: {secrets: {create: true}},
    key: 'secrets.telegramBotToken',
    says: /webhook\.enabled=false/,
  },
}

/** The shared contract's values file, as `keda-lab install` renders it (every key given). */
const CONTRACT_VALUES = {
  image: {repository: 'keda-lab', tag: '0.1.0', pullPolicy: 'IfNotPresent'},
  queue: {name: 'tasks'},
  task: {iterations: null, maxIterations: null, attempts: 1, retentionSeconds: 86400},
  redis: {
    mode: 'sentinel',
    sentinel: {hosts: ['redis-ha:26379'], masterName: 'mymaster'},
    standalone: {host: 'redis-ha-haproxy', port: 6379},
    auth: {existingSecret: 'keda-lab-secrets', passwordKey: 'redis-password'},
  },
  secrets: {create: false, telegramBotToken: '', redisPassword: '', webhookToken: ''},
  api: {
    service: {type: 'LoadBalancer', port: 80, nodePort: null},
    ingress: {enabled: false, className: '', host: '', tls: {enabled: false, secretName: ''}, annotations: {}},
    autoscaling: {minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: 70},
    resources: {requests: {cpu: '100m', memory: '128Mi'}, limits: {cpu: 1, memory: '256Mi'}},
  },
  worker: {
    concurrency: 1,
    terminationGracePeriodSeconds: 120,
    autoscaling: {minReplicaCount: 1, maxReplicaCount: 10, tasksPerReplica: 2, pollingInterval: 5, cooldownPeriod: 60, scaleToZero: false},
    resources: {requests: {cpu: '250m', memory: '128Mi'}, limits: {cpu: '1', memory: '256Mi'}},
  },
  webhook: {enabled: true, telegram: {chatIds: ['-1001234567890', 42], apiUrl: 'https://api.telegram.org'}},
  monitoring: {enabled: true, namespace: 'keda-monitoring', releaseLabel: 'kube-prometheus-stack', dashboard: {enabled: true}},
  networkPolicy: {enabled: true},
}

const MAJORS: HelmMajor[] = [3, 4]

describe.each(MAJORS)('values with Helm %i', (major) => {
  it.each(Object.entries(BAD))('rejects %s, naming the key', async (_name, bad) => {
    const result = await helmTemplate(major, {values: bad.values, set: bad.set})
    expect(result.exitCode, result.stdout.slice(0, 300)).not.toBe(0)
    // One message, no Go stack trace.
    expect(result.stderr).not.toMatch(/goroutine|panic:/)
    expect(result.stderr).toMatch(keyPattern(bad.key))
    expect(result.stderr).toMatch(bad.says)
  })

  it('accepts the install contract values file, with null for the nullable keys', async () => {
    const result = await helmTemplate(major, {values: CONTRACT_VALUES})
    expect(result.stderr).toBe('')
    expect(result.exitCode).toBe(0)
  })

  it('renders the HPA behavior of both autoscalers where Kubernetes and KEDA read it', async () => {
    const scaleDown = {stabilizationWindowSeconds: 30, selectPolicy: 'Min', policies: [{type: 'Pods', value: 1, periodSeconds: 15}]}
    const result = await helmTemplate(major, {
      values: {secrets: {create: true}, webhook: {enabled: false}, api: {autoscaling: {behavior: {scaleDown}}}, worker: {autoscaling: {behavior: {scaleDown}}}},
    })
    expect(result.stderr).toBe('')
    const docs = parseManifests(result.stdout)
    const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler') as unknown as {spec: {behavior: unknown}}
    expect(hpa.spec.behavior).toEqual({scaleDown})
    const so = docs.find((d) => d.kind === 'ScaledObject') as unknown as {spec: {advanced: {horizontalPodAutoscalerConfig: {behavior: unknown}}}}
    expect(so.spec.advanced.horizontalPodAutoscalerConfig.behavior).toEqual({scaleDown})
  })

  it("leaves both HPAs at Kubernetes' defaults without a behavior", async () => {
    const result = await helmTemplate(major, {values: {secrets: {create: true}, webhook: {enabled: false}}})
    const docs = parseManifests(result.stdout)
    expect((docs.find((d) => d.kind === 'HorizontalPodAutoscaler') as unknown as {spec: Record<string, unknown>}).spec).not.toHaveProperty('behavior')
    expect((docs.find((d) => d.kind === 'ScaledObject') as unknown as {spec: {advanced: Record<string, unknown>}}).spec.advanced).not.toHaveProperty(
      'horizontalPodAutoscalerConfig',
    )
  })

  it('accepts explicit nulls and numbers where the schema allows them', async () => {
    const result = await helmTemplate(major, {
      values: {task: {iterations: null, maxIterations: 200_000_000}, api: {service: {type: 'NodePort', nodePort: null}, pdb: {maxUnavailable: '50%'}}},
    })
    expect(result.stderr).toBe('')
    expect(result.exitCode).toBe(0)
  })
})
