/**
 * A real Kubernetes control plane on loopback — etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok (nodes and pods without containers) — built by
 * scripts/build-kube-tools.sh from their Go modules. One piece of code serves both the test
 * harness (test/cluster/global-setup.ts: one control plane per test run) and developers
 * (`npm run kube:up` / `kube:down`, test/cluster/cli.ts).
 *
 * Authentication is the real path: TLS serving certificates, client certificates signed by the
 * cluster CA (an admin in group system:masters; the controller-manager and scheduler as their own
 * users), RBAC and Node authorization, service-account signing keys and front-proxy certificates
 * for aggregated APIs (KEDA's metrics adapter).
 *
 * Every address is on loopback (../shared/CONTROL-PLANE.md): Services get ClusterIPs in
 * 127.100.0.0/16 and pods IPs in 127.200.0.0/16, so the API server never dials off the machine;
 * a test process listening on a Service's ClusterIP and port is what the API server reaches.
 */
import {execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {freePort} from '../../src/lab/dev/net.js'
import {freePortOn} from '../helpers/processes.js'
import {
  type AdminRequest,
  applyObjects,
  KWOK_USAGE_CRDS,
  kwokUsageCrds,
  METRICS_SERVER_IP,
  metricsApiAvailable,
  metricsServerArgs,
  metricsServerObjects,
  resourceMetricsPathAnnotation,
  waitEstablished,
} from './metrics-api.js'

/** Pinned versions: keep in step with scripts/build-kube-tools.sh. */
export const VERSIONS = {
  etcd: 'v3.6.16',
  kube: 'v1.34.12',
  kwok: 'v0.8.0',
  'metrics-server': 'v0.9.0',
  keda: 'v2.20.2',
  'kube-score': 'v1.20.0',
} as const

export const SERVICE_CIDR = '127.100.0.0/16'
export const POD_CIDR = '127.200.0.0/16'
/** The one fake node's name; kwok manages nodes carrying the annotation below. */
export const NODE_NAME = 'kwok-node-0'
const KWOK_ANNOTATION = 'kwok.x-k8s.io/node'

/** Where scripts/build-kube-tools.sh puts the binaries. */
export function toolsCache(): string {
  return process.env.KEDA_LAB_TOOLS_CACHE ?? join(homedir(), '.cache', 'keda-lab', 'tools')
}

export interface KubeTools {
  etcd: string
  apiserver: string
  controllerManager: string
  scheduler: string
  kwok: string
  /** Directory of kwok's lifecycle stage definitions (its module's kustomize/stage). */
  kwokStages: string
  /** kwok's Metric serving a kubelet's /metrics/resource (its module's kustomize/metrics/resource). */
  kwokMetrics: string
  /** Directory of the CRDs of kwok's simulated resource usage. */
  kwokCrds: string
  metricsServer: string
  kedaOperator: string
  kedaAdapter: string
}

/** Directory of a tool scripts/build-kube-tools.sh built; a missing one is a clear error naming the command that builds it. */
export function builtToolDir(tool: keyof typeof VERSIONS): string {
  const dir = join(toolsCache(), `${tool}-${VERSIONS[tool]}`)
  if (!existsSync(join(dir, '.complete'))) {
    throw new Error(`${tool} ${VERSIONS[tool]} is not built in ${dir}. Build it once (cached outside the repository): ./scripts/build-kube-tools.sh ${tool}`)
  }
  return dir
}

/** Paths of the built tools; a missing one is a clear error naming the command that builds it. */
export function kubeTools(which: (keyof typeof VERSIONS)[] = ['etcd', 'kube', 'kwok', 'metrics-server']): KubeTools {
  const cache = toolsCache()
  const dir = (tool: keyof typeof VERSIONS) => join(cache, `${tool}-${VERSIONS[tool]}`)
  for (const tool of which) builtToolDir(tool)
  if (which.includes('kwok') && !existsSync(join(dir('kwok'), 'crd'))) {
    throw new Error(
      `kwok ${VERSIONS.kwok} in ${dir('kwok')} lacks its metrics files (built before they were needed). Add them: ./scripts/build-kube-tools.sh kwok`,
    )
  }
  return {
    etcd: join(dir('etcd'), 'etcd'),
    apiserver: join(dir('kube'), 'kube-apiserver'),
    controllerManager: join(dir('kube'), 'kube-controller-manager'),
    scheduler: join(dir('kube'), 'kube-scheduler'),
    kwok: join(dir('kwok'), 'kwok'),
    kwokStages: join(dir('kwok'), 'stage'),
    kwokMetrics: join(dir('kwok'), 'metrics', 'metrics-resource.yaml'),
    kwokCrds: join(dir('kwok'), 'crd'),
    metricsServer: join(dir('metrics-server'), 'metrics-server'),
    kedaOperator: join(dir('keda'), 'operator'),
    kedaAdapter: join(dir('keda'), 'adapter'),
  }
}

/** What a running control plane leaves in its directory (state.json). */
export interface ControlPlaneState {
  dir: string
  /** Admin kubeconfig (client certificate in group system:masters). */
  kubeconfig: string
  server: string
  /** PIDs (each the leader of its own process group). */
  pids: Record<string, number>
  /** The process that owns this control plane (the test runner); 0 for `kube:up`. */
  owner: number
  startedAt: string
  /** The API server's audit log (JSON lines, one event per request), when started with `audit`. */
  auditLog?: string
}

export interface StartOptions {
  /** State directory (certificates, etcd data, logs, kubeconfigs); kept between runs for reuse. */
  dir: string
  /** Owner pid recorded for leftover cleanup; default 0 (a developer's cluster). */
  owner?: number
  log?: (line: string) => void
  /** Readiness deadline; default 180 s (a loaded 2-core machine). */
  timeoutMs?: number
  /**
   * This control plane's kwok, changed for one test file's dedicated control plane: extra
   * arguments (e.g. `--enable-crds Logs`) and configuration documents added to its --config; a
   * Stage among them replaces the module's Stage of the same name.
   */
  kwok?: {args?: string[]; config?: string[]}
  /**
   * Write the API server's audit log (`auditLog` in the state): every request at the Metadata level
   * (who, verb, resource, response code), in blocking mode, so a test can show what a client sent —
   * or that it sent no write at all. Off by default (the shared control plane writes none).
   */
  audit?: boolean
}

/** Metadata of every request (no bodies: Secrets stay out of the log), from ResponseComplete only. */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
`

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, {cwd, stdio: ['ignore', 'ignore', 'pipe']})

/** A certificate signed by `caName` in `pki`: a client certificate, or server and client with `sans`. */
function makeCert(pki: string, name: string, subject: string, caName: string, sans?: string): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], pki)
  const ext = sans
    ? `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${sans}\n`
    : 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n'
  writeFileSync(join(pki, `${name}.ext`), ext)
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.crt`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '3650',
      '-extfile',
      `${name}.ext`,
    ],
    pki,
  )
}

/** CA, serving and client certificates, service-account keys — created once per state directory. */
function makePki(pki: string): void {
  makeMetricsPki(pki)
  if (existsSync(join(pki, '.complete'))) return
  mkdirSync(pki, {recursive: true})
  const ca = (name: string, cn: string) => {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-subj', `/CN=${cn}`], pki)
  }
  const cert = (name: string, subject: string, caName: string, sans?: string) => makeCert(pki, name, subject, caName, sans)
  ca('ca', 'keda-lab-test-ca')
  ca('front-proxy-ca', 'keda-lab-test-front-proxy-ca')
  cert(
    'apiserver',
    '/CN=kube-apiserver',
    'ca',
    'IP:127.0.0.1,IP:127.100.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
  )
  cert('admin', '/O=system:masters/CN=kubernetes-admin', 'ca')
  cert('controller-manager', '/CN=system:kube-controller-manager', 'ca')
  cert('scheduler', '/CN=system:kube-scheduler', 'ca')
  cert('front-proxy-client', '/CN=front-proxy-client', 'front-proxy-ca')
  openssl(['genrsa', '-out', 'sa.key', '2048'], pki)
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], pki)
  writeFileSync(join(pki, '.complete'), new Date().toISOString())
  makeMetricsPki(pki)
}

/**
 * The metrics path's certificates, added on their own so that a state directory made before them
 * (a developer's `kube:up` data) gets them too: kwok's kubelet endpoint (what metrics-server scrapes,
 * verified against the cluster CA) and metrics-server's (serving for the aggregator, client as user
 * `metrics-server`).
 */
function makeMetricsPki(pki: string): void {
  if (!existsSync(join(pki, '.complete')) || existsSync(join(pki, '.metrics-complete'))) return
  makeCert(pki, 'kubelet', '/CN=kwok-kubelet', 'ca', 'IP:127.0.0.1,DNS:localhost')
  makeCert(pki, 'metrics-server', '/CN=metrics-server', 'ca', `IP:${METRICS_SERVER_IP},DNS:metrics-server.kube-system.svc,DNS:metrics-server.kube-system`)
  writeFileSync(join(pki, '.metrics-complete'), new Date().toISOString())
}

/** A kubeconfig for one client certificate. */
function writeKubeconfig(path: string, server: string, pki: string, user: string, context = 'keda-lab-test'): void {
  const b64 = (file: string) => readFileSync(join(pki, file)).toString('base64')
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters:
- name: ${context}
  cluster:
    server: ${server}
    certificate-authority-data: ${b64('ca.crt')}
users:
- name: ${context}-${user}
  user:
    client-certificate-data: ${b64(`${user}.crt`)}
    client-key-data: ${b64(`${user}.key`)}
contexts:
- name: ${context}
  context:
    cluster: ${context}
    user: ${context}-${user}
current-context: ${context}
`,
    {mode: 0o600},
  )
}

function alive(pid: number): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Reads the state of a control plane directory, or undefined when none was started there. */
export function readState(dir: string): ControlPlaneState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as ControlPlaneState
  } catch {
    return undefined
  }
}

/** Is every process of this control plane still running? */
export function isRunning(state: ControlPlaneState): boolean {
  return Object.values(state.pids).every(alive)
}

/** Stops a control plane: SIGTERM to each process group, SIGKILL after a grace period. */
export async function stopControlPlane(dir: string, graceMs = 10_000): Promise<boolean> {
  const state = readState(dir)
  if (!state) return false
  const pids = Object.values(state.pids)
  // Reverse order of start: kwok, scheduler, controller-manager, API server, etcd last.
  for (const pid of [...pids].reverse()) signalGroup(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (pids.some(alive) && Date.now() < deadline) await sleep(100)
  for (const pid of pids) signalGroup(pid, 'SIGKILL')
  writeFileSync(join(dir, 'state.json'), JSON.stringify({...state, pids: {}}, null, 2))
  return true
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal)
    } catch {
      // gone already
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Stops the control planes of test runs that were killed: each run directory under `parent` holds
 * an `owner` file (the vitest main process); when that process is gone, every control plane in the
 * directory (and its dedicated sub-directories) is stopped, and the directory is returned for removal.
 */
export async function reapOrphans(parent: string): Promise<string[]> {
  if (!existsSync(parent)) return []
  const reaped: string[] = []
  for (const name of readdirSync(parent)) {
    const dir = join(parent, name)
    let owner = 0
    try {
      owner = Number(readFileSync(join(dir, 'owner'), 'utf8'))
    } catch {
      continue
    }
    if (alive(owner)) continue
    for (const d of [dir, ...readdirSync(dir).map((n) => join(dir, n))]) if (readState(d)) await stopControlPlane(d, 2000)
    reaped.push(dir)
  }
  return reaped
}

/**
 * kwok's stages: nodes become Ready and keep a heartbeat through their Lease (else the node
 * lifecycle controller would taint them and evict every pod after ~40 s); pods go Running and Ready,
 * deleted pods are removed.
 */
function kwokConfig(stagesDir: string, out: string, extra: readonly string[] = []): void {
  const files: string[] = []
  for (const kind of ['node/fast', 'node/heartbeat-with-lease', 'pod/fast']) {
    const dir = join(stagesDir, kind)
    for (const f of readdirSync(dir)
      .filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml')
      .sort())
      files.push(join(dir, f))
  }
  if (files.length === 0) throw new Error(`no kwok stages found under ${stagesDir}`)
  const stageName = (doc: string) => (/^kind:\s*Stage\s*$/m.test(doc) ? /^metadata:\s*\n\s+name:\s*(\S+)/m.exec(doc)?.[1] : undefined)
  const replaced = new Set(extra.map(stageName).filter(Boolean))
  const docs = files.map((f) => readFileSync(f, 'utf8').trim()).filter((doc) => !replaced.has(stageName(doc)))
  writeFileSync(out, `${[...docs, ...extra.map((d) => d.trim())].join('\n---\n')}\n`)
}

/** Starts (or reuses, when it is still running) a control plane in `options.dir`. */
export async function startControlPlane(options: StartOptions): Promise<ControlPlaneState> {
  const {dir} = options
  const log = options.log ?? (() => {})
  const existing = readState(dir)
  if (existing && Object.keys(existing.pids).length > 0) {
    if (isRunning(existing) && (await apiReady(existing))) {
      log(`reusing the control plane at ${existing.server}`)
      return existing
    }
    await stopControlPlane(dir, 2000)
  }
  const tools = kubeTools()
  mkdirSync(join(dir, 'logs'), {recursive: true})
  const pki = join(dir, 'pki')
  makePki(pki)
  const p = (f: string) => join(pki, f)

  const [etcdClient, etcdPeer, apiPort, cmPort, schedPort, kwokPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ])
  const server = `https://127.0.0.1:${apiPort}`
  const kubeconfig = join(dir, 'admin.kubeconfig')
  writeKubeconfig(kubeconfig, server, pki, 'admin')
  writeKubeconfig(join(dir, 'controller-manager.kubeconfig'), server, pki, 'controller-manager')
  writeKubeconfig(join(dir, 'scheduler.kubeconfig'), server, pki, 'scheduler')
  writeKubeconfig(join(dir, 'metrics-server.kubeconfig'), server, pki, 'metrics-server')
  // kwok's Metric serving each node's kubelet /metrics/resource (what metrics-server scrapes).
  kwokConfig(tools.kwokStages, join(dir, 'kwok-stages.yaml'), [readFileSync(tools.kwokMetrics, 'utf8'), ...(options.kwok?.config ?? [])])

  // Beside logs/, not in it: a start-up timeout prints the tails of logs/*, which this would flood.
  const auditLog = options.audit ? join(dir, 'audit.jsonl') : undefined
  if (auditLog) writeFileSync(join(dir, 'audit-policy.yaml'), AUDIT_POLICY)

  const pids: Record<string, number> = {}
  const state: ControlPlaneState = {
    dir,
    kubeconfig,
    server,
    pids,
    owner: options.owner ?? 0,
    startedAt: new Date().toISOString(),
    ...(auditLog ? {auditLog} : {}),
  }
  const save = () => writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2))
  const start = (name: string, bin: string, args: string[]) => {
    const out = openSync(join(dir, 'logs', `${name}.log`), 'a')
    // Own process group (detached): `kube:down` and the test teardown stop the whole group, and a
    // developer's control plane outlives the `npm run kube:up` that started it.
    const child = spawn(bin, args, {detached: true, stdio: ['ignore', out, out]})
    child.unref()
    if (!child.pid) throw new Error(`could not start ${name} (${bin})`)
    pids[name] = child.pid
    save()
    log(`started ${name} (pid ${child.pid})`)
  }

  try {
    start('etcd', tools.etcd, [
      '--data-dir',
      join(dir, 'etcd'),
      '--listen-client-urls',
      `http://127.0.0.1:${etcdClient}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster',
      `default=http://127.0.0.1:${etcdPeer}`,
      '--quota-backend-bytes',
      String(2 * 1024 ** 3),
      '--unsafe-no-fsync',
    ])
    start('kube-apiserver', tools.apiserver, [
      '--etcd-servers',
      `http://127.0.0.1:${etcdClient}`,
      '--bind-address',
      '127.0.0.1',
      '--advertise-address',
      '127.0.0.1',
      '--secure-port',
      String(apiPort),
      // Loopback only (CONTROL-PLANE.md): no ClusterIP, no endpoint leaves the machine.
      '--service-cluster-ip-range',
      SERVICE_CIDR,
      '--endpoint-reconciler-type',
      'none',
      '--tls-cert-file',
      p('apiserver.crt'),
      '--tls-private-key-file',
      p('apiserver.key'),
      '--client-ca-file',
      p('ca.crt'),
      '--authorization-mode',
      'Node,RBAC',
      '--service-account-issuer',
      'https://kubernetes.default.svc.cluster.local',
      '--service-account-key-file',
      p('sa.pub'),
      '--service-account-signing-key-file',
      p('sa.key'),
      '--requestheader-client-ca-file',
      p('front-proxy-ca.crt'),
      '--requestheader-allowed-names',
      'front-proxy-client',
      '--requestheader-username-headers',
      'X-Remote-User',
      '--requestheader-group-headers',
      'X-Remote-Group',
      '--requestheader-extra-headers-prefix',
      'X-Remote-Extra-',
      '--proxy-client-cert-file',
      p('front-proxy-client.crt'),
      '--proxy-client-key-file',
      p('front-proxy-client.key'),
      '--allow-privileged=true',
      '--kubelet-preferred-address-types',
      'InternalIP',
      ...(auditLog
        ? ['--audit-policy-file', join(dir, 'audit-policy.yaml'), '--audit-log-path', auditLog, '--audit-log-format', 'json', '--audit-log-mode', 'blocking']
        : []),
    ])
    await waitUntil(() => apiReady(state), options.timeoutMs ?? 180_000, 'the API server to answer /readyz', dir)
    const request: AdminRequest = (method, path, body, contentType) => adminRequest(kubeconfig, method, path, body, contentType)
    // kwok watches its usage objects from start-up: their CRDs come first.
    const usageCrds = kwokUsageCrds(tools.kwokCrds)
    await applyObjects(
      request,
      usageCrds.map((crd) => ({path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${(crd.metadata as {name: string}).name}`, body: crd})),
    )
    await waitEstablished(
      request,
      usageCrds.map((crd) => (crd.metadata as {name: string}).name),
    )

    const common = ['--bind-address', '127.0.0.1', '--leader-elect=false']
    start('kube-controller-manager', tools.controllerManager, [
      ...common,
      '--secure-port',
      String(cmPort),
      '--kubeconfig',
      join(dir, 'controller-manager.kubeconfig'),
      '--authentication-kubeconfig',
      join(dir, 'controller-manager.kubeconfig'),
      '--authorization-kubeconfig',
      join(dir, 'controller-manager.kubeconfig'),
      '--use-service-account-credentials',
      '--service-account-private-key-file',
      p('sa.key'),
      '--root-ca-file',
      p('ca.crt'),
      '--cluster-signing-cert-file',
      p('ca.crt'),
      '--cluster-signing-key-file',
      p('ca.key'),
      '--service-cluster-ip-range',
      SERVICE_CIDR,
      // The HPA controller checks every 5 s (default 15 s) so that autoscaling tests are short.
      '--horizontal-pod-autoscaler-sync-period',
      '5s',
    ])
    start('kube-scheduler', tools.scheduler, [
      ...common,
      '--secure-port',
      String(schedPort),
      '--kubeconfig',
      join(dir, 'scheduler.kubeconfig'),
      '--authentication-kubeconfig',
      join(dir, 'scheduler.kubeconfig'),
      '--authorization-kubeconfig',
      join(dir, 'scheduler.kubeconfig'),
    ])
    start('kwok', tools.kwok, [
      '--kubeconfig',
      kubeconfig,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector',
      `${KWOK_ANNOTATION}=fake`,
      '--cidr',
      POD_CIDR,
      '--node-ip',
      '127.0.0.1',
      '--node-port',
      String(kwokPort),
      '--server-address',
      `127.0.0.1:${kwokPort}`,
      '--config',
      join(dir, 'kwok-stages.yaml'),
      '--node-lease-duration-seconds',
      '40',
      '--enable-crds',
      KWOK_USAGE_CRDS,
      // The node's kubelet endpoint (metrics-server scrapes it) with a certificate of the cluster CA.
      '--tls-cert-file',
      p('kubelet.crt'),
      '--tls-private-key-file',
      p('kubelet.key'),
      ...(options.kwok?.args ?? []),
    ])
    await ensureNode(kubeconfig)
    const metricsPort = await freePortOn(METRICS_SERVER_IP)
    await applyObjects(request, metricsServerObjects({port: metricsPort, caBundle: readFileSync(p('ca.crt')).toString('base64')}))
    start(
      'metrics-server',
      tools.metricsServer,
      metricsServerArgs(metricsPort, {
        kubeconfig: join(dir, 'metrics-server.kubeconfig'),
        cert: p('metrics-server.crt'),
        key: p('metrics-server.key'),
        kubeletCa: p('ca.crt'),
        frontProxyCa: p('front-proxy-ca.crt'),
      }),
    )
    await waitUntil(() => clusterUsable(kubeconfig), options.timeoutMs ?? 180_000, 'a Ready node and the default ServiceAccount', dir)
    // An unavailable aggregated API breaks discovery (Helm) and namespace deletion: wait for it.
    await waitUntil(
      async () => (await metricsApiAvailable(request)).available,
      options.timeoutMs ?? 180_000,
      `the metrics API (${METRICS_SERVER_IP}:${metricsPort}) to be Available`,
      dir,
    )
    save()
    log(`control plane ready at ${server}`)
    return state
  } catch (error) {
    await stopControlPlane(dir, 2000)
    throw error
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, dir: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await sleep(250)
  }
  const tails = readdirSync(join(dir, 'logs'))
    .map(
      (f) =>
        `--- ${f}\n${readFileSync(join(dir, 'logs', f), 'utf8')
          .split('\n')
          .slice(-8)
          .join('\n')}`,
    )
    .join('\n')
  throw new Error(`control plane: timed out after ${timeoutMs} ms waiting for ${what}; log tails:\n${tails}`)
}

/**
 * An HTTPS request with the kubeconfig's own credentials — the admin's client certificate, or a
 * bearer token (a ServiceAccount's) — and its CA (no client library needed for the fixture).
 */
export async function adminRequest(
  kubeconfigOrState: string | ControlPlaneState,
  method: string,
  path: string,
  body?: unknown,
  /** e.g. `application/merge-patch+json` for a PATCH; default JSON. */
  contentType = 'application/json',
): Promise<{status: number; body: string}> {
  const kubeconfig = typeof kubeconfigOrState === 'string' ? kubeconfigOrState : kubeconfigOrState.kubeconfig
  const text = readFileSync(kubeconfig, 'utf8')
  const field = (name: string) => {
    const value = new RegExp(`${name}: (\\S+)`).exec(text)?.[1]
    return value === undefined ? undefined : Buffer.from(value, 'base64')
  }
  const server = /server: "?([^"\s,}]+)/.exec(text)![1]!
  const token = /token: "?([^"\s,}]+)/.exec(text)?.[1]
  const https = await import('node:https')
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(server + path),
      {
        method,
        ca: field('certificate-authority-data'),
        cert: field('client-certificate-data'),
        key: field('client-key-data'),
        headers: {...(body === undefined ? {} : {'Content-Type': contentType}), ...(token ? {Authorization: `Bearer ${token}`} : {})},
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')}))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

async function apiReady(state: ControlPlaneState): Promise<boolean> {
  const res = await adminRequest(state, 'GET', '/readyz').catch(() => undefined)
  return res?.status === 200
}

/** The one fake node kwok manages: 8 CPUs, 32 GiB, 110 pods, no taints; 100 GiB of ephemeral storage, which a real node reports (pods requesting some stay Pending on a node without it). */
async function ensureNode(kubeconfig: string): Promise<void> {
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: NODE_NAME,
      annotations: {[KWOK_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0', ...resourceMetricsPathAnnotation(NODE_NAME)},
      labels: {'kubernetes.io/hostname': NODE_NAME, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok'},
    },
    status: {
      allocatable: {cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi'},
      capacity: {cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi'},
    },
  }
  const res = await adminRequest(kubeconfig, 'POST', '/api/v1/nodes', node)
  if (res.status !== 201 && res.status !== 409) throw new Error(`creating the kwok node failed: ${res.status} ${res.body.slice(0, 300)}`)
  if (res.status === 409) {
    // A node from older data may lack the metrics path annotation.
    const patch = await adminRequest(
      kubeconfig,
      'PATCH',
      `/api/v1/nodes/${NODE_NAME}`,
      {metadata: {annotations: node.metadata.annotations}},
      'application/merge-patch+json',
    )
    if (patch.status !== 200) throw new Error(`annotating the kwok node failed: ${patch.status} ${patch.body.slice(0, 300)}`)
  }
}

async function clusterUsable(kubeconfig: string): Promise<boolean> {
  const node = await adminRequest(kubeconfig, 'GET', `/api/v1/nodes/${NODE_NAME}`)
  if (node.status !== 200) return false
  const conditions = (JSON.parse(node.body) as {status?: {conditions?: {type: string; status: string}[]}}).status?.conditions ?? []
  if (!conditions.some((c) => c.type === 'Ready' && c.status === 'True')) return false
  const sa = await adminRequest(kubeconfig, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')
  return sa.status === 200
}
