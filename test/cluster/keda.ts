/**
 * KEDA's operator and metrics adapter as real processes on the host, against the test control plane
 * (test/cluster/control-plane.ts), built from KEDA's Go module by scripts/build-kube-tools.sh.
 *
 * - The operator runs outside the cluster with the admin kubeconfig, as KEDA's own `make run` does:
 *   WATCH_NAMESPACE / POD_NAMESPACE / KEDA_CLUSTER_OBJECT_NAMESPACE name the test's namespace, and
 *   every port it opens (Prometheus metrics, health probes, the gRPC metrics service) is a free
 *   port on 127.0.0.1.
 * - Certificates: instead of KEDA's cert rotation (which stores them in a Secret, restarts the
 *   operator once after writing them and patches the APIService), the test makes one small PKI with
 *   openssl: a CA and one certificate for the operator's gRPC service and the adapter (both server
 *   and client use, as KEDA's own `kedaorg-certs`), valid for 127.0.0.1, the adapter's ClusterIP and
 *   the Service names. The APIService then carries that CA as its caBundle.
 * - The adapter listens on a Service's loopback ClusterIP (CONTROL-PLANE.md: the API server reaches
 *   a host process there, and nothing leaves the machine), accepts the aggregator's front-proxy
 *   client certificate (the control plane's front-proxy CA) and asks the operator over gRPC.
 *
 * Both are started with spawnTracked, so they are stopped even when the test or its worker dies.
 */
import type {ChildProcess} from 'node:child_process'
import {execFileSync} from 'node:child_process'
import {appendFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {join} from 'node:path'

import {stringify} from 'yaml'

import {APP_RELEASE} from '../../src/config/release.js'
import type {InstallAnswers} from '../../src/lab/install/options.js'
import {resolveSecrets} from '../../src/lab/install/secrets.js'
import {renderAppValues} from '../../src/lab/values/render.js'
import {CHART_DIR, type HelmMajor, runHelm} from '../helpers/helm.js'
import {freePort, freePortOn, notYet, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {adminRequest, kubeTools} from './control-plane.js'
import {applyCrds, kedaCrds} from './crds.js'

/** Last lines of a process's output, kept for failure messages. */
class OutputTail {
  private lines: string[] = []
  constructor(private readonly max = 400) {}
  push(chunk: Buffer): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max)
  }
  text(last = 40): string {
    return this.lines.slice(-last).join('\n')
  }
  all(): string {
    return this.lines.join('\n')
  }
}

/** Files of the PKI the operator and adapter share (KEDA's own names in its cert dir). */
export interface KedaCerts {
  dir: string
  ca: string
  cert: string
  key: string
}

/**
 * A CA and one certificate (server and client auth) for KEDA's operator gRPC service and metrics
 * adapter, in `dir` as ca.crt, tls.crt and tls.key — the layout both programs read from --cert-dir.
 */
export function makeKedaCerts(dir: string, sans: {ips: string[]; dns: string[]}): KedaCerts {
  mkdirSync(dir, {recursive: true})
  const run = (args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: ['ignore', 'ignore', 'pipe']})
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/O=KEDAORG/CN=keda-lab-test-keda-ca'])
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/O=KEDAORG/CN=keda-operator'])
  const alt = [...sans.ips.map((ip) => `IP:${ip}`), ...sans.dns.map((d) => `DNS:${d}`)].join(',')
  writeFileSync(
    join(dir, 'tls.ext'),
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${alt}\n`,
  )
  run(['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tls.crt', '-days', '2', '-extfile', 'tls.ext'])
  return {dir, ca: join(dir, 'ca.crt'), cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key')}
}

/** A running KEDA program. */
export interface KedaProcess {
  child: ChildProcess
  /** Its recent output (for failure messages; KEDA never prints the Redis password). */
  output(last?: number): string
  stop(): Promise<void>
}

export interface KedaOperator extends KedaProcess {
  /** host:port of the gRPC metrics service the adapter asks. */
  grpcAddress: string
  /** Prometheus metrics of the operator (http://127.0.0.1:port/metrics). */
  metricsUrl: string
  /**
   * Freezes the operator (SIGSTOP): it keeps its connections but reconciles nothing, so a finalizer
   * of a deleted ScaledObject stays until {@link KedaOperator.resume}. A test that pauses it resumes
   * it in a `finally`; `stop()` resumes it too (a stopped process would hold SIGTERM pending).
   */
  pause(): void
  /** Lets a paused operator go on (SIGCONT); harmless when it is running or gone. */
  resume(): void
}

export interface OperatorOptions {
  binary: string
  kubeconfig: string
  /** The namespace it watches and keeps its own objects in. */
  namespace: string
  certs: KedaCerts
  /** Directory for KEDA's --ca-dir (extra CAs for scalers; empty here) and its log, keda-operator.log. */
  workDir: string
  /** Start-up deadline (default 120 s: a loaded 2-core machine). */
  timeoutMs?: number
}

function kedaEnv(kubeconfig: string, namespace: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KUBECONFIG: kubeconfig,
    WATCH_NAMESPACE: namespace,
    POD_NAMESPACE: namespace,
    KEDA_CLUSTER_OBJECT_NAMESPACE: namespace,
  }
}

function track(binary: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): {child: ChildProcess; tail: OutputTail} {
  const tail = new OutputTail()
  const child = spawnTracked(binary, args, {env})
  const keep = (d: Buffer) => {
    tail.push(d)
    appendFileSync(logFile, d)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return {child, tail}
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

/** Starts the KEDA operator and waits until its health endpoint says ready. */
export async function startKedaOperator(options: OperatorOptions): Promise<KedaOperator> {
  const [metricsPort, probePort, grpcPort] = [await freePort(), await freePort(), await freePort()]
  const caDir = join(options.workDir, 'custom-ca')
  mkdirSync(caDir, {recursive: true})
  const args = [
    '--leader-elect=false',
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    `--health-probe-bind-address=127.0.0.1:${probePort}`,
    `--metrics-service-bind-address=127.0.0.1:${grpcPort}`,
    `--cert-dir=${options.certs.dir}`,
    '--enable-cert-rotation=false',
    `--ca-dir=${caDir}`,
    '--zap-encoder=console',
    '--zap-log-level=info',
  ]
  const {child, tail} = track(options.binary, args, kedaEnv(options.kubeconfig, options.namespace), join(options.workDir, 'keda-operator.log'))
  // The operator alone, not its group: it is one Go program, and its pid is the group's leader.
  const signal = (sig: NodeJS.Signals) => {
    if (!exited(child)) child.kill(sig)
  }
  const operator: KedaOperator = {
    child,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    output: (last) => tail.text(last),
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    stop: () => {
      signal('SIGCONT')
      return stopProcess(child, 'SIGTERM', 10_000)
    },
  }
  try {
    await waitFor(
      async () => {
        if (exited(child)) throw new Error(`the KEDA operator exited (code ${child.exitCode}, signal ${child.signalCode}):\n${tail.text()}`)
        const res = await fetch(`http://127.0.0.1:${probePort}/readyz`).catch((error: unknown) => error as Error)
        if (res instanceof Error) return notYet(`health port: ${res.message}`)
        return res.status === 200 || notYet(`/readyz answered ${res.status}`)
      },
      {timeoutMs: options.timeoutMs ?? 120_000, intervalMs: 250, what: 'the KEDA operator to be ready'},
    )
  } catch (error) {
    await operator.stop()
    throw new Error(`${(error as Error).message}\n--- operator output:\n${tail.text()}`)
  }
  return operator
}

export interface AdapterOptions {
  binary: string
  kubeconfig: string
  namespace: string
  certs: KedaCerts
  /** Where it serves external.metrics.k8s.io: the Service's loopback ClusterIP and port. */
  host: string
  port: number
  /** The control plane's front-proxy CA: the aggregator's client certificate is signed by it. */
  frontProxyCa: string
  /** The operator's gRPC metrics service. */
  operatorGrpcAddress: string
  /** Directory of its log, keda-adapter.log. */
  workDir: string
}

/**
 * Starts KEDA's metrics adapter serving on `host:port`. It is not ready for the API server until
 * the APIService reports Available (see {@link registerExternalMetricsApi}).
 */
export async function startKedaAdapter(options: AdapterOptions): Promise<KedaProcess> {
  const metricsPort = await freePort()
  const args = [
    `--bind-address=${options.host}`,
    `--secure-port=${options.port}`,
    `--tls-cert-file=${options.certs.cert}`,
    `--tls-private-key-file=${options.certs.key}`,
    // Its gRPC client certificate for the operator comes from here too (ca.crt, tls.crt, tls.key).
    `--cert-dir=${options.certs.dir}`,
    `--lister-kubeconfig=${options.kubeconfig}`,
    `--authentication-kubeconfig=${options.kubeconfig}`,
    `--authorization-kubeconfig=${options.kubeconfig}`,
    `--requestheader-client-ca-file=${options.frontProxyCa}`,
    '--requestheader-allowed-names=front-proxy-client',
    `--metrics-service-address=${options.operatorGrpcAddress}`,
    // Its own Prometheus endpoint; KEDA binds it as ":port" (no host flag).
    `--port=${metricsPort}`,
    '--zap-encoder=console',
    '--zap-log-level=info',
  ]
  const {child, tail} = track(options.binary, args, kedaEnv(options.kubeconfig, options.namespace), join(options.workDir, 'keda-adapter.log'))
  // Listening on its address is the first sign of life; an early exit is an answer at once.
  try {
    await waitFor(
      async () => {
        if (exited(child)) throw new Error(`the KEDA metrics adapter exited (code ${child.exitCode}, signal ${child.signalCode}):\n${tail.text()}`)
        return (await portOpen(options.host, options.port)) || notYet(`${options.host}:${options.port} not listening yet`)
      },
      {timeoutMs: 120_000, intervalMs: 250, what: `the KEDA metrics adapter to listen on ${options.host}:${options.port}`},
    )
  } catch (error) {
    await stopProcess(child)
    throw new Error(`${(error as Error).message}\n--- adapter output:\n${tail.text()}`)
  }
  return {child, output: (last) => tail.text(last), stop: () => stopProcess(child, 'SIGTERM', 10_000)}
}

async function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({host, port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

export const EXTERNAL_METRICS_API = 'v1beta1.external.metrics.k8s.io'

export interface ExternalMetricsApiOptions {
  namespace: string
  serviceName: string
  clusterIP: string
  port: number
  caBundle: string
}

async function must(kubeconfig: string, method: string, path: string, body: unknown, ok: number[]): Promise<void> {
  const res = await adminRequest(kubeconfig, method, path, body)
  if (!ok.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 400)}`)
}

/**
 * Registers KEDA's external metrics API with the aggregator as KEDA's chart does (APIService →
 * Service), but with the Service's ClusterIP on loopback where the adapter runs on the host.
 *
 * The aggregator dials the Service's ClusterIP; before that, its availability check wants an
 * EndpointSlice with a ready endpoint on the Service's port name. EndpointSlice validation refuses
 * loopback addresses, so the slice holds an FQDN endpoint under the reserved `.invalid` domain
 * (RFC 2606): it satisfies the check and nothing ever resolves or dials it.
 */
export async function registerExternalMetricsApi(kubeconfig: string, o: ExternalMetricsApiOptions): Promise<void> {
  await must(
    kubeconfig,
    'POST',
    `/api/v1/namespaces/${o.namespace}/services`,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {name: o.serviceName, namespace: o.namespace},
      spec: {type: 'ClusterIP', clusterIP: o.clusterIP, ports: [{name: 'https', port: o.port, targetPort: o.port, protocol: 'TCP'}]},
    },
    [201],
  )
  await must(
    kubeconfig,
    'POST',
    `/apis/discovery.k8s.io/v1/namespaces/${o.namespace}/endpointslices`,
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${o.serviceName}-host`,
        namespace: o.namespace,
        labels: {'kubernetes.io/service-name': o.serviceName, 'endpointslice.kubernetes.io/managed-by': 'keda-lab-tests'},
      },
      addressType: 'FQDN',
      endpoints: [{addresses: [`${o.serviceName}.keda-lab-test.invalid`], conditions: {ready: true}}],
      ports: [{name: 'https', port: o.port, protocol: 'TCP'}],
    },
    [201],
  )
  await must(
    kubeconfig,
    'POST',
    '/apis/apiregistration.k8s.io/v1/apiservices',
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: {name: EXTERNAL_METRICS_API},
      spec: {
        group: 'external.metrics.k8s.io',
        version: 'v1beta1',
        service: {namespace: o.namespace, name: o.serviceName, port: o.port},
        caBundle: Buffer.from(readFileSync(o.caBundle)).toString('base64'),
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    },
    [201],
  )
}

/** Removes the APIService (an unavailable one blocks discovery and namespace deletion). */
export async function unregisterExternalMetricsApi(kubeconfig: string): Promise<void> {
  await must(kubeconfig, 'DELETE', `/apis/apiregistration.k8s.io/v1/apiservices/${EXTERNAL_METRICS_API}`, undefined, [200, 202, 404])
}

/** The APIService's Available condition: {status, reason, message}. */
export async function apiServiceAvailable(kubeconfig: string): Promise<{status: string; reason?: string; message?: string} | undefined> {
  const res = await adminRequest(kubeconfig, 'GET', `/apis/apiregistration.k8s.io/v1/apiservices/${EXTERNAL_METRICS_API}`)
  if (res.status !== 200) return undefined
  const conditions =
    (JSON.parse(res.body) as {status?: {conditions?: {type: string; status: string; reason?: string; message?: string}[]}}).status?.conditions ?? []
  return conditions.find((c) => c.type === 'Available')
}

/** Runs one step of a set-up, e.g. to time it; the default just runs it. */
export type Step = <T>(what: string, run: () => Promise<T>) => Promise<T>

export interface KedaLabOptions {
  kubeconfig: string
  /** The test's namespace: KEDA watches it and the app is installed in it. */
  namespace: string
  /** The control plane's folder (its pki/front-proxy-ca.crt signs the aggregator's client certificate). */
  clusterDir: string
  /** Holds the certificates, the values files and KEDA's logs. */
  workDir: string
  /** Install's answers: rendered by install's own renderAppValues. */
  answers: InstallAnswers
  /**
   * The test's redis-server on 127.0.0.1: the app's values point at it (standalone mode, this port)
   * and install's Secret holds its password.
   */
  redis: {port: number; password: string}
  /** The test's own values beyond Redis, on top of install's: a shorter cooldown, the API's port… */
  testValues?: Record<string, unknown>
  helm: HelmMajor
  /** The loopback ClusterIP the metrics adapter is served on (one per file: its own control plane). */
  adapterClusterIP: string
  step?: Step
}

/** The app installed as install does it, with the real KEDA operator watching it. */
export interface KedaLab {
  certs: KedaCerts
  operator: KedaOperator
  /** KEDA's metrics adapter, once {@link KedaLab.serveExternalMetrics} started it. */
  adapter(): KedaProcess | undefined
  /** The last lines of both KEDA programs, for a failure message. */
  output(): string
  /**
   * Registers the APIService v1beta1.external.metrics.k8s.io on the adapter's loopback ClusterIP,
   * starts the adapter there and waits until the APIService is Available, so that the HPA
   * controller reads KEDA's metric.
   */
  serveExternalMetrics(): Promise<KedaProcess>
  /** Unregisters the APIService and stops the adapter and the operator, each step on its own; says how each went. */
  stop(): Promise<string[]>
}

const ADAPTER_SERVICE = 'keda-metrics-apiserver'

/**
 * The set-up the KEDA tests share: KEDA's CRDs, the test's PKI, the KEDA operator; then what install
 * does for the app: its Secret (install's own resolution), then the app chart by real Helm with the
 * values install renders from `answers`, plus the test's own values.
 */
export async function startKedaLab(o: KedaLabOptions): Promise<KedaLab> {
  const step: Step = o.step ?? ((_what, run) => run())
  const tools = kubeTools(['keda'])
  const ns = o.namespace
  await step('KEDA CRDs applied and Established', async () => applyCrds(o.kubeconfig, await kedaCrds()))
  // One certificate for the operator's gRPC service and the adapter (KEDA's kedaorg-certs holds one too).
  const certs = makeKedaCerts(join(o.workDir, 'certs'), {
    ips: ['127.0.0.1', o.adapterClusterIP],
    dns: [`keda-operator.${ns}.svc`, `keda-operator.${ns}.svc.cluster.local`, `${ADAPTER_SERVICE}.${ns}.svc`, `${ADAPTER_SERVICE}.${ns}.svc.cluster.local`],
  })
  const operator = await step('KEDA operator started and ready', () =>
    startKedaOperator({binary: tools.kedaOperator, kubeconfig: o.kubeconfig, namespace: ns, certs, workDir: o.workDir}),
  )
  let adapter: KedaProcess | undefined
  let registered = false
  const output = () => `\n--- KEDA operator:\n${operator.output(30)}\n--- KEDA metrics adapter:\n${adapter?.output(30) ?? '(not started)'}`
  const lab: KedaLab = {
    certs,
    operator,
    adapter: () => adapter,
    output,
    async serveExternalMetrics() {
      const port = await freePortOn(o.adapterClusterIP)
      await registerExternalMetricsApi(o.kubeconfig, {namespace: ns, serviceName: ADAPTER_SERVICE, clusterIP: o.adapterClusterIP, port, caBundle: certs.ca})
      registered = true
      const started = await step('KEDA metrics adapter started (listening)', () =>
        startKedaAdapter({
          binary: tools.kedaAdapter,
          kubeconfig: o.kubeconfig,
          namespace: ns,
          certs,
          host: o.adapterClusterIP,
          port,
          frontProxyCa: join(o.clusterDir, 'pki', 'front-proxy-ca.crt'),
          operatorGrpcAddress: operator.grpcAddress,
          workDir: o.workDir,
        }),
      )
      adapter = started
      await step('APIService v1beta1.external.metrics.k8s.io Available', () =>
        waitFor(
          async () => {
            if (exited(started.child)) throw new Error('the metrics adapter exited')
            const c = await apiServiceAvailable(o.kubeconfig)
            return c?.status === 'True' || notYet(`Available=${c?.status} ${c?.reason}: ${c?.message}`)
          },
          {timeoutMs: 120_000, intervalMs: 500, what: 'the APIService to become Available'},
        ).catch((error: Error) => {
          throw new Error(error.message + output())
        }),
      )
      return started
    },
    async stop() {
      const outcomes: string[] = []
      const steps: [string, () => Promise<unknown>][] = [
        ['external metrics APIService', async () => registered && unregisterExternalMetricsApi(o.kubeconfig)],
        ['KEDA metrics adapter', async () => adapter?.stop()],
        ['KEDA operator', () => operator.stop()],
      ]
      for (const [what, run] of steps) {
        const t0 = Date.now()
        const how = await run().then(
          () => 'stopped',
          (error: unknown) => `failed: ${(error as Error).message}`,
        )
        outcomes.push(`${what} ${how} in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      }
      return outcomes
    },
  }
  try {
    await step('helm upgrade --install of the app chart (Secret and values as install)', () => installApp(o))
  } catch (error) {
    await lab.stop()
    throw error
  }
  return lab
}

/**
 * install's Secret, then the app chart by real Helm with install's rendered values and the test's own
 * on top (Redis at the test's server, then `testValues`). Run again after an uninstall that kept the namespace, it keeps the Secret already there, as
 * install does.
 */
export async function installApp(o: Omit<KedaLabOptions, 'clusterDir' | 'adapterClusterIP' | 'step'>): Promise<void> {
  const [secret] = resolveSecrets({
    appNamespace: o.namespace,
    monitoringNamespace: 'keda-monitoring',
    monitoring: false,
    redisPassword: o.redis.password,
    existing: {},
  })
  if (!secret) throw new Error('install resolved no Secret for the app')
  const created = await adminRequest(o.kubeconfig, 'POST', `/api/v1/namespaces/${o.namespace}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {name: secret.name, labels: {'app.kubernetes.io/part-of': 'keda-lab'}},
    data: Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  })
  if (created.status !== 201 && created.status !== 409) throw new Error(`creating install's Secret: ${created.status} ${created.body.slice(0, 300)}`)
  const installValues = join(o.workDir, 'keda-lab.yaml')
  const testValues = join(o.workDir, 'test-values.yaml')
  writeFileSync(
    installValues,
    renderAppValues({
      answers: o.answers,
      appNamespace: o.namespace,
      monitoringNamespace: 'keda-monitoring',
      image: {repository: 'keda-lab', tag: 'test', pullPolicy: 'IfNotPresent'},
    }),
  )
  writeFileSync(testValues, stringify({redis: {mode: 'standalone', standalone: {host: '127.0.0.1', port: o.redis.port}}, ...o.testValues}))
  const helm = await runHelm(
    o.helm,
    ['upgrade', '--install', APP_RELEASE, CHART_DIR, '--namespace', o.namespace, '--kubeconfig', o.kubeconfig, '-f', installValues, '-f', testValues],
    120_000,
  )
  if (helm.exitCode !== 0) throw new Error(`helm ${o.helm} upgrade --install failed (${helm.exitCode}): ${helm.stderr.slice(-2000)}`)
}
