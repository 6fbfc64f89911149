/**
 * The API's HPA for real: the app chart installed by real Helm 3 and Helm 4 with the values
 * `keda-lab install` renders from its answers (API min/max replicas, CPU target, scale-up and
 * scale-down rules), on the test control plane, where the controller-manager's real HPA controller
 * reads the pods' CPU from the real metrics API (metrics-server scraping kwok's simulated usage,
 * test/cluster/metrics-api.ts). The pods' CPU is raised above the target, then dropped below it:
 * the API Deployment must go to its maximum and back to its minimum.
 *
 * `doctor`'s api-hpa-metrics check, in-process on the same API server, passes with the CPU reading
 * the real HPA controller took from the real metrics API, above the target and then below it.
 *
 * Timings are printed, never asserted (a loaded machine is slower; the deadlines are generous).
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseScalingRules} from '../../src/lab/install/behavior.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import {APP_RELEASE} from '../../src/config/release.js'
import {apiHpaMetrics, type DoctorContext} from '../../src/lab/doctor/checks.js'
import {resolveSecrets} from '../../src/lab/install/secrets.js'
import {renderAppValues} from '../../src/lab/values/render.js'
import type {ClusterStatusReport} from '../../src/status/model.js'
import {runCli} from '../helpers/cli.js'
import {CHART_DIR, type HelmMajor, runHelm} from '../helpers/helm.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {notYet, waitFor} from '../helpers/processes.js'
import {adminRequest} from './control-plane.js'
import {applyCrds, kedaCrds} from './crds.js'
import {createNamespace, setSimulatedUsage, useCluster} from './harness.js'
import {doctorContext, getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url, {namespace: false})

/**
 * Install's answers: API 1..4 replicas at 50 % of the request (the chart's 100m: 50m per pod), a
 * 10 s scale-down window instead of Kubernetes' 300 s (the answer this issue added), no webhook or
 * monitoring stack.
 */
const answers: InstallAnswers = {
  ...sampleAnswers,
  webhook: false,
  monitoring: false,
  apiMinReplicas: 1,
  apiMaxReplicas: 4,
  apiCpuTarget: 50,
  apiScaleUp: parseScalingRules('window=0s,4pods/15s'),
  apiScaleDown: parseScalingRules('window=10s,100%/15s'),
}
const API = 'keda-lab-api'
/** Per pod, against 50m targeted: 400 % of the target (desired = 4 x replicas, so straight to the maximum)… */
const BUSY = {cpu: '200m', memory: '96Mi'}
/** …and 10 % of it (desired = ceil(replicas x 0.1) = 1). */
const IDLE = {cpu: '5m', memory: '96Mi'}

interface Hpa {
  spec: {minReplicas?: number; maxReplicas: number; metrics: unknown[]; behavior?: Record<string, unknown>}
  status?: {
    currentReplicas?: number
    desiredReplicas?: number
    lastScaleTime?: string
    currentMetrics?: {resource?: {name: string; current?: {averageUtilization?: number}}}[]
    conditions?: {type: string; status: string; reason?: string; message?: string}[]
  }
}

let workDir: string
const timings: string[] = []

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'keda-lab-api-hpa-'))
  // The chart refuses to render without KEDA's API (the worker's ScaledObject).
  await applyCrds(cluster.kubeconfig, await kedaCrds())
}, 120_000)

afterAll(async () => {
  if (workDir) rmSync(workDir, {recursive: true, force: true})
  console.info(`api-hpa.test.ts — observed (not asserted):\n${timings.map((t) => `  ${t}`).join('\n')}`)
})

/** What the HPA says, for failure messages and waits. */
function describeHpa(hpa: Hpa | undefined): string {
  const s = hpa?.status
  const cpu = s?.currentMetrics?.find((m) => m.resource?.name === 'cpu')?.resource?.current?.averageUtilization
  const conditions = (s?.conditions ?? []).map((c) => `${c.type}=${c.status}(${c.reason})`).join(' ')
  return `current ${s?.currentReplicas} desired ${s?.desiredReplicas}, CPU ${cpu ?? '?'} %, ${conditions}`
}

/**
 * doctor's api-hpa-metrics check passes, quoting the CPU reading of the real HPA (`accept`ed: above
 * or below the target), the same figure the HPA's status holds (read before and after the check: a
 * sync in between may move it).
 */
async function doctorReadsCpu(ctx: DoctorContext, hpaPath: string, accept: (cpu: number) => boolean): Promise<string> {
  const reading = async () =>
    (await getJson<Hpa>(cluster.kubeconfig, hpaPath))?.status?.currentMetrics?.find((m) => m.resource?.name === 'cpu')?.resource?.current?.averageUtilization
  const before = await reading()
  const result = await apiHpaMetrics.run(ctx)
  const after = await reading()
  expect(result.status, result.detail).toBe('pass')
  const m = /^v1beta1\.metrics\.k8s\.io available; HPA keda-lab-api reads CPU (\d+)% of its 50% target$/.exec(result.detail ?? '')
  expect(m, result.detail).not.toBeNull()
  const cpu = Number(m?.[1])
  expect(accept(cpu), `doctor's CPU ${cpu}%`).toBe(true)
  expect([before, after], `doctor's ${cpu}% is the HPA's reading`).toContain(cpu)
  return result.detail ?? ''
}

describe.each([3, 4] as HelmMajor[])('the API HPA as installed (Helm %i)', (major) => {
  it('scales the API Deployment up when its pods use more CPU than the target, and back down when they use less', async () => {
    const namespace = `api-hpa-h${major}-${randomBytes(3).toString('hex')}`
    await createNamespace(cluster.kubeconfig, namespace)
    try {
      const [secret] = resolveSecrets({appNamespace: namespace, monitoringNamespace: 'keda-monitoring', monitoring: false, existing: {}})
      const created = await adminRequest(cluster.kubeconfig, 'POST', `/api/v1/namespaces/${namespace}/secrets`, {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {name: secret!.name},
        data: Object.fromEntries(Object.entries(secret!.data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      })
      expect(created.status).toBe(201)
      const valuesFile = join(workDir, `keda-lab-h${major}.yaml`)
      writeFileSync(
        valuesFile,
        renderAppValues({
          answers,
          appNamespace: namespace,
          monitoringNamespace: 'keda-monitoring',
          image: {repository: 'keda-lab', tag: 'test', pullPolicy: 'IfNotPresent'},
        }),
      )
      const helm = await runHelm(
        major,
        ['upgrade', '--install', APP_RELEASE, CHART_DIR, '--namespace', namespace, '--kubeconfig', cluster.kubeconfig, '-f', valuesFile],
        120_000,
      )
      expect(helm.exitCode, helm.stderr).toBe(0)

      const hpaPath = `/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers/${API}`
      const hpa = await getJson<Hpa>(cluster.kubeconfig, hpaPath)
      expect(hpa?.spec).toMatchObject({minReplicas: 1, maxReplicas: 4})
      expect(hpa?.spec.metrics).toEqual([{type: 'Resource', resource: {name: 'cpu', target: {type: 'Utilization', averageUtilization: 50}}}])
      // The rules from install's answers, with the API server's defaults for what they leave out.
      expect(hpa?.spec.behavior).toEqual({
        scaleUp: {stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{type: 'Pods', value: 4, periodSeconds: 15}]},
        scaleDown: {stabilizationWindowSeconds: 10, selectPolicy: 'Max', policies: [{type: 'Percent', value: 100, periodSeconds: 15}]},
      })

      const replicasReach = async (want: number, what: string) => {
        const t0 = Date.now()
        let last: Hpa | undefined
        await waitFor(
          async () => {
            const d = await getJson<{spec: {replicas?: number}; status?: {readyReplicas?: number}}>(
              cluster.kubeconfig,
              `/apis/apps/v1/namespaces/${namespace}/deployments/${API}`,
            )
            last = await getJson<Hpa>(cluster.kubeconfig, hpaPath)
            const replicas = d?.spec.replicas ?? 0
            if (replicas > answers.apiMaxReplicas) throw new Error(`API at ${replicas} replicas, above the maximum ${answers.apiMaxReplicas}`)
            return replicas === want && d?.status?.readyReplicas === want ? true : notYet(`replicas ${replicas}; HPA: ${describeHpa(last)}`)
          },
          {timeoutMs: 240_000, intervalMs: 1000, what},
        )
        timings.push(`Helm ${major}: ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s (HPA: ${describeHpa(last)})`)
        return last
      }

      await setSimulatedUsage(cluster.kubeconfig, {namespace, deployment: API, ...BUSY})
      const up = await replicasReach(answers.apiMaxReplicas, `1 → ${answers.apiMaxReplicas} API pods at ${BUSY.cpu} each (target 50m)`)
      // The controller acted on the real metric: it saw the pods far above the target.
      const utilization = up?.status?.currentMetrics?.find((m) => m.resource?.name === 'cpu')?.resource?.current?.averageUtilization ?? 0
      expect(utilization).toBeGreaterThan(50)
      expect(up?.status?.lastScaleTime).toBeTruthy()
      const doctor = await doctorContext(cluster.kubeconfig, {namespace})
      timings.push(`Helm ${major}: doctor at the maximum: ${await doctorReadsCpu(doctor, hpaPath, (cpu) => cpu > 50)}`)

      // `keda-lab status --json` shows what the HPA acted on: each API pod's CPU and memory from the
      // metrics API against its request, and the HPA's last scaling event.
      const report = await waitFor(
        async () => {
          const run = await runCli(['status', '-n', namespace, '--json'], {env: {KUBECONFIG: cluster.kubeconfig}, timeoutMs: 60_000})
          const r = JSON.parse(run.stdout) as ClusterStatusReport
          return r.apiUsage?.pods.length === answers.apiMaxReplicas ? r : notYet(`status's API pods: ${JSON.stringify(r.apiUsage)}`)
        },
        {timeoutMs: 90_000, intervalMs: 2000, what: 'status to show every API pod measured'},
      )
      expect(report.apiUsage?.available).toBe(true)
      for (const pod of report.apiUsage?.pods ?? []) {
        expect(Math.abs(pod.cpuMillis - 200)).toBeLessThan(25)
        expect(pod.memoryBytes).toBe(96 * 2 ** 20)
        expect(pod.cpuRequestMillis).toBe(100)
      }
      expect(report.apiHpa).toMatchObject({cpuTargetPercent: 50, maxReplicas: answers.apiMaxReplicas, currentReplicas: answers.apiMaxReplicas})
      expect(report.apiHpa?.lastScale?.message).toMatch(/^New size: \d+; reason: cpu resource utilization \(percentage of request\) above target$/)
      timings.push(
        `Helm ${major}: status --json: API pods ${report.apiUsage?.pods.map((p) => `${p.cpuMillis}m/${Math.round(p.memoryBytes / 2 ** 20)}Mi`).join(', ')}; last scaling: ${report.apiHpa?.lastScale?.message}`,
      )

      await setSimulatedUsage(cluster.kubeconfig, {namespace, deployment: API, ...IDLE})
      const down = await replicasReach(answers.apiMinReplicas, `${answers.apiMaxReplicas} → ${answers.apiMinReplicas} API pods at ${IDLE.cpu} each`)
      await waitFor(
        async () => {
          const now = await getJson<Hpa>(cluster.kubeconfig, hpaPath)
          const cpu = now?.status?.currentMetrics?.find((m) => m.resource?.name === 'cpu')?.resource?.current?.averageUtilization
          return cpu !== undefined && cpu < 50 ? true : notYet(`HPA: ${describeHpa(now ?? down)}`)
        },
        {timeoutMs: 60_000, intervalMs: 1000, what: 'the HPA to report the low CPU'},
      )
      timings.push(`Helm ${major}: doctor at the minimum: ${await doctorReadsCpu(doctor, hpaPath, (cpu) => cpu < 50)}`)
    } finally {
      await adminRequest(cluster.kubeconfig, 'DELETE', `/api/v1/namespaces/${namespace}`).catch(() => undefined)
    }
  }, 600_000)
})
