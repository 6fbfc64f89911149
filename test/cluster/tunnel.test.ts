/**
 * `keda-lab tunnel --port-forward` on the real control plane, through the real forwarding path:
 * the CLI's client-node PortForward → the API server (pods/portforward) → the node's "kubelet",
 * which is a kwok of this file's own simulating port-forward to a local process → a small HTTP
 * server of the test on loopback.
 *
 * Why a second kwok: the shared one is started with only its lifecycle stages in --config (no
 * PortForward resources, no --enable-crds), so it cannot forward anything. This file starts kwok
 * for one tainted node of its own, with a ClusterPortForward for its namespaces in its --config;
 * the pods of the test's Deployments tolerate the taint and run there. Nothing else lands on it.
 */
import type {ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, get as httpGet, type Server} from 'node:http'
import {createServer as createTcpServer, type Server as TcpServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEntry, repoRoot} from '../helpers/cli.js'
import {freePort, notYet, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {adminRequest, kubeTools} from './control-plane.js'
import {createNamespace, useCluster} from './harness.js'
import {getJson} from './kube-test-helpers.js'

const cluster = useCluster(import.meta.url)
const id = randomBytes(3).toString('hex')
const NODE = `tunnel-node-${id}`
const TAINT = 'keda-lab-test/tunnel'
let mon = ''
let dir = ''
let kwok: ChildProcess | undefined
let kwokLog = ''
const servers: Server[] = []
const backends: Record<string, number> = {}
const token = randomBytes(8).toString('hex')
let kwokArgs: string[] = []

/** (Re)starts this file's kwok, the node's "kubelet". */
function startKwok(): void {
  kwok = spawnTracked(kubeTools(['kwok']).kwok, kwokArgs)
  kwok.stdout!.on('data', (d: Buffer) => (kwokLog = (kwokLog + d.toString()).slice(-20_000)))
  kwok.stderr!.on('data', (d: Buffer) => (kwokLog = (kwokLog + d.toString()).slice(-20_000)))
}

async function must(method: string, path: string, body?: unknown, ok = [200, 201]): Promise<void> {
  const res = await adminRequest(cluster.kubeconfig, method, path, body)
  if (!ok.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`)
}

/** A loopback HTTP server standing for one component's container: it names itself and echoes the path. */
async function backend(name: string): Promise<number> {
  const server = createServer((req, res) => {
    res.setHeader('Content-Type', 'text/plain')
    res.end(`${name} ${token} ${req.url}`)
  })
  servers.push(server)
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as {port: number}).port)))
}

/** A Deployment whose pods run on this file's kwok node, and its Service. */
async function component(ns: string, name: string, containerPort: number, servicePort: number, targetPort: string | number): Promise<void> {
  const labels = {app: name}
  await must('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name},
    spec: {
      replicas: 1,
      selector: {matchLabels: labels},
      template: {
        metadata: {labels},
        spec: {
          nodeSelector: {'kubernetes.io/hostname': NODE},
          tolerations: [{key: TAINT, operator: 'Exists', effect: 'NoSchedule'}],
          containers: [{name: 'main', image: 'keda-lab:test', ports: [{name: 'http', containerPort}]}],
        },
      },
    },
  })
  await must('POST', `/api/v1/namespaces/${ns}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {name},
    spec: {selector: labels, ports: [{name: 'http', port: servicePort, targetPort}]},
  })
}

const readyPod = async (ns: string, app: string, not?: string) => {
  const pods = await getJson<{items: {metadata: {name: string; deletionTimestamp?: string}; status?: {conditions?: {type: string; status: string}[]}}[]}>(
    cluster.kubeconfig,
    `/api/v1/namespaces/${ns}/pods?labelSelector=app%3D${app}`,
  )
  const ready = (pods?.items ?? []).filter(
    (p) => !p.metadata.deletionTimestamp && p.metadata.name !== not && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  )
  return ready[0]?.metadata.name ?? notYet(`no Ready pod of ${app} yet (${(pods?.items ?? []).map((p) => p.metadata.name).join(', ')})`)
}

beforeAll(async () => {
  const ns = cluster.namespace
  mon = `${ns}-mon`
  await createNamespace(cluster.kubeconfig, mon)
  dir = mkdtempSync(join(tmpdir(), 'keda-lab-tunnel-'))
  backends.api = await backend('api')
  backends.grafana = await backend('grafana')

  // kwok for one node, forwarding the pods' ports 8000 (API) and 3000 (Grafana) to the backends.
  const tools = kubeTools(['kwok'])
  const stages: string[] = []
  for (const kind of ['node/fast', 'pod/fast']) {
    const d = join(tools.kwokStages, kind)
    for (const f of readdirSync(d)
      .filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml')
      .sort())
      stages.push(readFileSync(join(d, f), 'utf8').trim())
  }
  const forward = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: keda-lab-tunnel-test
spec:
  selector:
    matchNamespaces: [${ns}, ${mon}]
  forwards:
  - ports: [8000]
    target: {port: ${backends.api}, address: 127.0.0.1}
  - ports: [3000]
    target: {port: ${backends.grafana}, address: 127.0.0.1}`
  writeFileSync(join(dir, 'kwok.yaml'), `${[...stages, forward].join('\n---\n')}\n`)
  const kwokPort = await freePort()
  kwokArgs = [
    '--kubeconfig',
    cluster.kubeconfig,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector',
    `kwok.x-k8s.io/node=${NODE}`,
    '--cidr',
    '127.201.0.0/16',
    '--node-ip',
    '127.0.0.1',
    '--node-port',
    String(kwokPort),
    '--server-address',
    `127.0.0.1:${kwokPort}`,
    '--config',
    join(dir, 'kwok.yaml'),
  ]
  startKwok()
  await must('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: NODE,
      annotations: {'kwok.x-k8s.io/node': NODE, 'node.alpha.kubernetes.io/ttl': '0'},
      labels: {'kubernetes.io/hostname': NODE, 'kubernetes.io/os': 'linux', type: 'kwok'},
    },
    spec: {taints: [{key: TAINT, value: 'true', effect: 'NoSchedule'}]},
    status: {allocatable: {cpu: '4', memory: '8Gi', pods: '20'}, capacity: {cpu: '4', memory: '8Gi', pods: '20'}},
  })
  await component(ns, 'keda-lab-api', 8000, 80, 'http')
  await component(mon, 'kube-prometheus-stack-grafana', 3000, 80, 3000)
  await waitFor(
    async () => {
      const api = await readyPod(ns, 'keda-lab-api')
      if (typeof api !== 'string') return api
      return readyPod(mon, 'kube-prometheus-stack-grafana')
    },
    {timeoutMs: 120_000, intervalMs: 500, what: `Ready pods on ${NODE} (kwok log tail: see failure)`},
  ).catch((error: Error) => {
    throw new Error(`${error.message}\nkwok:\n${kwokLog.slice(-3000)}`)
  })
}, 240_000)

afterAll(async () => {
  if (mon) await adminRequest(cluster.kubeconfig, 'DELETE', `/api/v1/namespaces/${mon}`).catch(() => undefined)
  await adminRequest(cluster.kubeconfig, 'DELETE', `/api/v1/nodes/${NODE}`).catch(() => undefined)
  if (kwok) await stopProcess(kwok, 'SIGTERM', 5000)
  for (const s of servers) s.close()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

/** `keda-lab tunnel …` as a user runs it, with its output collected line by line. */
function startTunnel(args: string[]) {
  const child = spawnTracked(process.execPath, [cliEntry(), 'tunnel', ...args], {
    cwd: repoRoot,
    env: {...process.env, KUBECONFIG: cluster.kubeconfig, NO_COLOR: '1'},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return {child, exited, output: () => out}
}

/** One GET on a new TCP connection (no keep-alive: each request is a new forwarded connection). */
const get = (url: string) =>
  new Promise<{status: number; body: string}>((resolve, reject) => {
    const req = httpGet(url, {agent: false, timeout: 20_000}, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 20 s`)))
    req.on('error', reject)
  })

describe('keda-lab tunnel --port-forward on a real control plane (kwok forwarding to local processes)', () => {
  it('forwards the API and Grafana, takes a free port when the usual one is taken, re-forwards to the new pod after the old one is deleted, and closes on Ctrl-C', async () => {
    const ns = cluster.namespace
    // The API's usual port is taken by someone else.
    const squatter: TcpServer = createTcpServer(() => {})
    const taken = await new Promise<number>((resolve) => squatter.listen(0, '127.0.0.1', () => resolve((squatter.address() as {port: number}).port)))
    const grafanaPort = await freePort()
    const tunnel = startTunnel([
      '--port-forward',
      '-n',
      ns,
      '--monitoring-namespace',
      mon,
      '--api-port',
      String(taken),
      '--grafana-port',
      String(grafanaPort),
      '--prometheus-port',
      '0',
      '--alertmanager-port',
      '0',
    ])
    try {
      const [, apiPort] = await waitFor(
        () =>
          /API +http:\/\/127\.0\.0\.1:(\d+)\/docs/.exec(tunnel.output()) ??
          (tunnel.child.exitCode !== null
            ? (() => {
                throw new Error(`tunnel exited: ${tunnel.output()}`)
              })()
            : undefined),
        {timeoutMs: 90_000, intervalMs: 200},
      )
      await waitFor(() => tunnel.output().includes('Forwarding until Ctrl-C.'), {timeoutMs: 30_000, intervalMs: 200})
      const out = tunnel.output()
      expect(Number(apiPort)).not.toBe(taken)
      expect(out).toContain(`(port ${taken} is taken: using ${apiPort})`)
      expect(out).toContain(`Grafana      http://127.0.0.1:${grafanaPort}  → svc/kube-prometheus-stack-grafana:80 in ${mon}`)
      expect(out).toMatch(new RegExp(`Prometheus +not forwarded: Service ${mon}/kube-prometheus-stack-prometheus does not exist`))
      expect(out).toMatch(new RegExp(`Alertmanager +not forwarded: Service ${mon}/kube-prometheus-stack-alertmanager does not exist`))
      expect(out).toContain(`Grafana password: kubectl get secret keda-lab-grafana -n ${mon} -o jsonpath='{.data.admin-password}' | base64 -d`)

      const firstPod = await readyPod(ns, 'keda-lab-api')
      expect(typeof firstPod).toBe('string')
      // Through client-node → API server → kwok → the test's server.
      expect(await get(`http://127.0.0.1:${apiPort}/api/queue`)).toEqual({status: 200, body: `api ${token} /api/queue`})
      expect(await get(`http://127.0.0.1:${grafanaPort}/login`)).toEqual({status: 200, body: `grafana ${token} /login`})
      expect(tunnel.output()).toContain(`API          forwarding to pod ${firstPod} port 8000`)

      // The pod goes away; its Deployment makes a new one. The same local port keeps working.
      await must('DELETE', `/api/v1/namespaces/${ns}/pods/${firstPod}?gracePeriodSeconds=0`)
      const secondPod = await waitFor(() => readyPod(ns, 'keda-lab-api', firstPod as string), {timeoutMs: 60_000, intervalMs: 300})
      await waitFor(
        async () =>
          (await adminRequest(cluster.kubeconfig, 'GET', `/api/v1/namespaces/${ns}/pods/${firstPod}`)).status === 404 ? true : notYet('old pod still there'),
        {timeoutMs: 60_000, intervalMs: 300},
      )
      expect(await get(`http://127.0.0.1:${apiPort}/healthz`)).toEqual({status: 200, body: `api ${token} /healthz`})
      const after = tunnel.output()
      expect(after).toContain(`API          forward to pod ${firstPod} dropped`)
      expect(after).toContain(`API          forwarding to pod ${secondPod} port 8000`)

      // The node's kubelet (kwok) goes down: forwards fail while it is gone, and once it is back
      // the same local port forwards again, without restarting the tunnel.
      await stopProcess(kwok!, 'SIGTERM', 5000)
      await expect(get(`http://127.0.0.1:${apiPort}/down`)).rejects.toThrow()
      startKwok()
      const back = await waitFor(
        async () => {
          try {
            return await get(`http://127.0.0.1:${apiPort}/back`)
          } catch (error) {
            return notYet((error as Error).message)
          }
        },
        {timeoutMs: 60_000, intervalMs: 500, what: 'forwarding again once kwok is back'},
      )
      expect(back).toEqual({status: 200, body: `api ${token} /back`})

      tunnel.child.kill('SIGINT')
      expect(await tunnel.exited).toBe(0)
      expect(tunnel.output()).toContain('Tunnel closed.')
      await expect(get(`http://127.0.0.1:${apiPort}/`)).rejects.toThrow(/ECONNREFUSED/)
    } finally {
      await stopProcess(tunnel.child, 'SIGINT', 10_000)
      squatter.close()
    }
  }, 240_000)

  it('not installed: no API Service in the namespace exits 3 and says so', async () => {
    const empty = `${cluster.namespace}-none`
    const tunnel = startTunnel(['--port-forward', '-n', empty, '--api-port', '0'])
    try {
      expect(await tunnel.exited).toBe(3)
      expect(tunnel.output()).toContain(`Error: Service ${empty}/keda-lab-api does not exist: keda-lab is not installed in namespace ${empty}`)
    } finally {
      await stopProcess(tunnel.child, 'SIGINT', 5000)
    }
  }, 90_000)
})
