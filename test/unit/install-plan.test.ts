import {describe, expect, it} from 'vitest'

import {sampleAnswers} from '../helpers/install-answers.js'

import {ToolError, type ToolCommand} from '../../src/adapters/cluster-tools.js'
import type {DeploymentInfo, Kube} from '../../src/adapters/kube/index.js'
import {applyStep, StepError} from '../../src/lab/install/apply.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import {type InstallOptions, type PlanDeps, planInstall, splitImage} from '../../src/lab/install/plan.js'
import {formatPlan} from '../../src/lab/install/print.js'
import {estimateResources} from '../../src/lab/install/resources.js'
import {maskSecrets, resolveSecrets, secretValues} from '../../src/lab/install/secrets.js'
import {loadValuesTemplates} from '../../src/lab/values/render.js'

const root = new URL('../..', import.meta.url).pathname

const answers: InstallAnswers = sampleAnswers

async function deps(over: Partial<PlanDeps['facts']> = {}): Promise<PlanDeps> {
  return {
    facts: {
      nodes: [{name: 'minikube', cpuMillis: 4000, memoryBytes: 8 << 30, labels: {}}],
      crds: [],
      metricsApi: true,
      cluster: {kind: 'minikube', name: 'minikube'},
      helmMajor: 3,
      ...over,
    },
    templates: await loadValuesTemplates(root),
    publishedImage: 'ghcr.io/keda-lab/keda-lab:0.1.0',
    packageRoot: root,
    version: '0.1.0',
    secrets: resolveSecrets({
      appNamespace: 'keda',
      monitoringNamespace: 'keda-monitoring',
      monitoring: true,
      telegramToken: answers.telegramToken,
      existing: {},
    }),
    dockerfileExists: true,
  }
}

const options = (a: Partial<InstallAnswers> = {}): InstallOptions => ({
  answers: {...answers, ...a},
  sources: {},
  appNamespace: 'keda',
  monitoringNamespace: 'keda-monitoring',
  outputDir: '/tmp/out',
  enableMetricsServerAddon: true,
})

const commands = (plan: ReturnType<typeof planInstall>) =>
  plan.steps.flatMap((s) => s.actions.flatMap((a) => (a.type === 'run' ? [`${a.command.bin} ${a.command.args.join(' ')}`] : [])))

describe('planInstall', () => {
  it('orders the steps and creates the Secrets before any release', async () => {
    const plan = planInstall(options(), await deps())
    expect(plan.steps.map((s) => s.id)).toEqual(['repositories', 'namespaces-secrets', 'keda', 'redis', 'monitoring', 'image', 'application', 'rollout'])
    const secrets = plan.steps[1]!.actions.filter((a) => a.type === 'secret').map((a) => (a.type === 'secret' ? `${a.secret.namespace}/${a.secret.name}` : ''))
    expect(secrets).toEqual(['keda/keda-lab-secrets', 'keda-monitoring/keda-lab-webhook-token', 'keda-monitoring/keda-lab-grafana'])
    expect(plan.files.map((f) => f.path)).toEqual(
      ['keda', 'redis-ha', 'kube-prometheus-stack', 'loki', 'alloy', 'keda-lab'].map((n) => `/tmp/out/values/${n}.yaml`),
    )
    expect(plan.values['keda-lab']).toMatchObject({worker: {autoscaling: {maxReplicaCount: 10}}, secrets: {create: false}})
    expect(plan.values['redis-ha']).toMatchObject({replicas: 3, hardAntiAffinity: false})
  })

  it('skips a foreign KEDA, monitoring with --no-monitoring, the build with --image', async () => {
    const foreign = {crds: ['scaledobjects.keda.sh'], kedaNamespace: 'platform', kedaRelease: {name: 'keda', namespace: 'platform'}}
    const plan = planInstall(options({monitoring: false, image: 'ghcr.io/acme/keda-lab:1.2.3'}), await deps(foreign))
    const byId = Object.fromEntries(plan.steps.map((s) => [s.id, s]))
    expect(byId.keda!.skipped).toBe('a KEDA that keda-lab did not install runs in namespace platform: reusing it (a second KEDA would break both)')
    expect(byId.keda!.actions).toEqual([])
    expect(plan.values['keda-lab']).toMatchObject({networkPolicy: {keda: {namespace: 'platform'}}})
    expect(byId.monitoring!.skipped).toBe('monitoring off (--no-monitoring)')
    expect(byId.image!.skipped).toBe('using ghcr.io/acme/keda-lab:1.2.3 from its registry (--image)')
    expect(
      commands(plan)
        .filter((c) => c.startsWith('helm repo add'))
        .map((c) => c.split(' ')[3]),
    ).toEqual(['dandydeveloper'])
    expect(plan.files.map((f) => f.path.split('/').pop())).toEqual(['keda.yaml', 'redis-ha.yaml', 'keda-lab.yaml'])
    expect(plan.image).toBe('ghcr.io/acme/keda-lab:1.2.3')
  })

  it("upgrades keda-lab's own KEDA release on a second install, and installs KEDA over CRDs an uninstall left", async () => {
    const own = planInstall(options(), await deps({crds: ['scaledobjects.keda.sh'], kedaNamespace: 'keda', kedaRelease: {name: 'keda', namespace: 'keda'}}))
    const ownKeda = own.steps.find((s) => s.id === 'keda')!
    expect(ownKeda.skipped).toBeUndefined()
    expect(commands({...own, steps: [ownKeda]})).toEqual([
      expect.stringMatching(/^helm upgrade --install keda kedacore\/keda --namespace keda --version 2\.20\.2 /),
    ])
    expect(
      commands(own)
        .filter((c) => c.startsWith('helm repo add'))
        .map((c) => c.split(' ')[3]),
    ).toContain('kedacore')
    const leftover = planInstall(options(), await deps({crds: ['scaledobjects.keda.sh']}))
    expect(leftover.steps.find((s) => s.id === 'keda')!.actions).toHaveLength(1)
    // The same release name in another namespace is somebody else's KEDA.
    const elsewhere = planInstall(
      options(),
      await deps({crds: ['scaledobjects.keda.sh'], kedaNamespace: 'keda-system', kedaRelease: {name: 'keda', namespace: 'keda-system'}}),
    )
    expect(elsewhere.steps.find((s) => s.id === 'keda')!.actions).toEqual([])
  })

  it('the app release has no --wait (keda-lab waits for its pods; a LoadBalancer address may never come)', async () => {
    for (const helmMajor of [3, 4] as const) {
      const app = commands(planInstall(options(), await deps({helmMajor}))).find((c) => c.includes('upgrade --install keda-lab '))!
      expect(app).toMatch(/ --timeout 5m$/)
      expect(app).not.toMatch(/--wait|--atomic|--rollback-on-failure/)
    }
  })

  it('Helm 3 vs Helm 4 flags and --kube-context', async () => {
    const h3 = commands(planInstall({...options(), kubeContext: 'lab'}, await deps()))
    const h4 = commands(planInstall({...options(), kubeContext: 'lab'}, await deps({helmMajor: 4})))
    const up3 = h3.find((c) => c.includes('upgrade --install redis-ha'))!
    const up4 = h4.find((c) => c.includes('upgrade --install redis-ha'))!
    expect(up3).toMatch(/ --wait --timeout 10m --atomic --kube-context lab$/)
    expect(up4).toMatch(/ --wait=watcher --timeout 10m --rollback-on-failure --kube-context lab$/)
  })

  it('minikube without metrics-server enables the addon; kind loads the image; other clusters pull the published image', async () => {
    const mk = commands(planInstall(options(), await deps({metricsApi: false})))
    expect(mk).toContain('minikube addons enable metrics-server -p minikube')
    const kind = commands(planInstall(options(), await deps({cluster: {kind: 'kind', name: 'lab'}})))
    expect(kind.slice(-3)).toEqual([
      'docker build -t keda-lab:0.1.0 .',
      'kind load docker-image keda-lab:0.1.0 --name lab',
      expect.stringContaining('upgrade --install keda-lab'),
    ])
    const other = await deps({cluster: {kind: 'other'}})
    const pulled = planInstall(options(), other)
    expect(pulled.image).toBe('ghcr.io/keda-lab/keda-lab:0.1.0')
    expect(pulled.steps.find((s) => s.id === 'image')?.skipped).toMatch(
      /^pulling ghcr\.io\/keda-lab\/keda-lab:0\.1\.0, the published image of keda-lab 0\.1\.0/,
    )
    expect(commands(pulled).some((c) => /^(docker|minikube|kind) /.test(c))).toBe(false)
    // minikube without a Dockerfile to build from: the published image too.
    const noDockerfile = planInstall(options(), {...other, facts: {...other.facts, cluster: {kind: 'minikube'}}, dockerfileExists: false})
    expect(noDockerfile.image).toBe('ghcr.io/keda-lab/keda-lab:0.1.0')
    // --image wins everywhere.
    expect(planInstall(options({image: 'r.example/me/keda-lab:9'}), other).image).toBe('r.example/me/keda-lab:9')
  })

  it('the dry-run text names every command and masks every secret', async () => {
    const d = await deps()
    const text = maskSecrets(formatPlan(planInstall(options(), d)), secretValues(d.secrets, [answers.telegramToken]))
    expect(text).toContain('$ helm upgrade --install keda kedacore/keda --namespace keda --version')
    for (const secret of secretValues(d.secrets)) expect(text).not.toContain(secret)
    expect(text).toContain('telegram-token: ******** (default)')
  })
})

describe('secrets', () => {
  it('generates once, keeps on the next run, and one webhook token in both Secrets', () => {
    const first = resolveSecrets({appNamespace: 'a', monitoringNamespace: 'm', monitoring: true, existing: {}})
    expect(first[0]!.origin['redis-password']).toBe('generated')
    expect(first[0]!.data['webhook-token']).toBe(first[1]!.data.token)
    const second = resolveSecrets({
      appNamespace: 'a',
      monitoringNamespace: 'm',
      monitoring: true,
      existing: {app: first[0]!.data, webhookToken: first[1]!.data, grafana: first[2]!.data},
    })
    expect(second.map((s) => s.data)).toEqual(first.map((s) => s.data))
    expect(second[0]!.origin).toEqual({'redis-password': 'kept', 'telegram-bot-token': 'empty', 'webhook-token': 'kept'})
    const given = resolveSecrets({
      appNamespace: 'a',
      monitoringNamespace: 'm',
      monitoring: false,
      redisPassword: 'from-env-1234',
      existing: {app: first[0]!.data},
    })
    expect(given).toHaveLength(1)
    expect(given[0]!.data['redis-password']).toBe('from-env-1234')
  })
})

describe('resources', () => {
  it('counts replicas, KEDA and monitoring', () => {
    const full = estimateResources(answers, {nodeCount: 1, kedaInstalled: false})
    const lean = estimateResources({...answers, monitoring: false, webhook: false}, {nodeCount: 1, kedaInstalled: true})
    expect(full.max.cpuMillis - full.min.cpuMillis).toBe(9 * 250 + 4 * 100)
    expect(full.min.cpuMillis - lean.min.cpuMillis).toBe(250 + 650 + 50 + 20) // KEDA, monitoring pods, node-exporter on 1 node, webhook
    expect(splitImage('registry:5000/team/app')).toEqual({repository: 'registry:5000/team/app', tag: 'latest', pullPolicy: 'Always'})
  })
})

/** An in-memory Kube: records writes; Deployments become ready after `readyAfter` polls. */
function memoryKube(readyAfter = 0): Kube & {writes: string[]} {
  let polls = 0
  const writes: string[] = []
  return {
    contextName: 'mem',
    server: 'memory://',
    writes,
    serverVersion: async () => ({major: 1, minor: 31, gitVersion: 'v1.31.0'}),
    listNodes: async () => [],
    canI: async () => true,
    listStorageClasses: async () => [],
    listCrdNames: async () => [],
    apiServiceAvailable: async () => true,
    ensureNamespace: async (name: string) => void writes.push(`ns ${name}`),
    getSecretData: async () => undefined,
    applySecret: async (ns: string, name: string) => void writes.push(`secret ${ns}/${name}`),
    listDeployments: async (): Promise<DeploymentInfo[]> => {
      polls++
      const ready = polls > readyAfter ? 1 : 0
      return [{name: 'keda-lab-api', replicas: 1, readyReplicas: ready, updatedReplicas: 1, availableReplicas: ready}]
    },
    listLoadBalancers: async () => [{namespace: 'keda', name: 'keda-lab-api', addresses: []}],
  } as unknown as Kube & {writes: string[]}
}

describe('applyStep', () => {
  it('runs the actions, waits for the rollout, and wraps a failure with the step name and stderr tail', async () => {
    const d = await deps()
    const plan = planInstall(options(), d)
    const kube = memoryKube(2)
    const ran: ToolCommand[] = []
    const lines: string[] = []
    const signal = new AbortController().signal
    const run = async (c: ToolCommand) => {
      ran.push(c)
      if (c.args.includes('redis-ha')) throw new ToolError(c, {exitCode: 1, stderrTail: 'Error: UPGRADE FAILED: timed out'})
      return ''
    }
    await applyStep(plan.steps[1]!, {kube, run, signal}, (l) => lines.push(l))
    expect(kube.writes).toEqual([
      'ns keda',
      'ns keda-monitoring',
      'secret keda/keda-lab-secrets',
      'secret keda-monitoring/keda-lab-webhook-token',
      'secret keda-monitoring/keda-lab-grafana',
    ])
    const error = await applyStep(plan.steps.find((s) => s.id === 'redis')!, {kube, run, signal}).catch((e) => e)
    expect(error).toBeInstanceOf(StepError)
    expect(error.message).toBe(
      'step "Redis with Sentinels (dandydeveloper/redis-ha 4.38.0)" failed: helm upgrade --install failed (exit code 1)\n  | Error: UPGRADE FAILED: timed out',
    )
    expect(error.hint).toContain('keda-lab uninstall')
    await applyStep(plan.steps.find((s) => s.id === 'rollout')!, {kube, run, signal, pollMs: 5}, (l) => lines.push(l))
    expect(lines.filter((l) => l.startsWith('waiting: keda-lab-api 0/1 ready'))).toHaveLength(2)
    expect(lines).toContain('keda-lab-api: no load balancer address yet (<pending>): the summary below says how to reach the API')
    const aborted = new AbortController()
    aborted.abort()
    const interrupted = await applyStep(plan.steps.find((s) => s.id === 'keda')!, {kube, run, signal: aborted.signal}).catch((e) => e)
    expect(interrupted.exitCode).toBe(130)
    expect(interrupted.message).toMatch(/^interrupted during step "KEDA/)
  })
})
