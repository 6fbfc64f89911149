/**
 * The forwarding logic of `keda-lab tunnel --port-forward` without a cluster: which pod and port a
 * Service leads to, and what a forward does when opening the stream fails (forget the pod, resolve
 * again, retry) — with a stand-in for the Kube adapter whose forwardPort pipes the connection to a
 * real loopback server. The real path (client-node → API server → kwok) is test/cluster/tunnel.test.ts.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {createServer, connect, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Kube, PodInfo, PortForwardConnection, ServiceInfo} from '../../src/adapters/kube/index.js'
import {type ForwardEvent, pickPod, startForward} from '../../src/lab/tunnel/port-forward.js'
import {runTunnel} from '../../src/lab/tunnel/command.js'
import {tunnelTargets} from '../../src/lab/tunnel/run.js'

const pod = (o: Partial<PodInfo>): PodInfo => ({
  name: 'p',
  labels: {},
  phase: 'Running',
  ready: true,
  restarts: 0,
  images: [],
  ports: [{name: 'http', containerPort: 8000}],
  deleting: false,
  ...o,
})
const svc: ServiceInfo = {name: 'keda-lab-api', type: 'LoadBalancer', selector: {app: 'api'}, ports: [{name: 'http', port: 80, targetPort: 'http'}]}

describe('pickPod', () => {
  it('resolves a named targetPort on the newest Ready pod; numbers pass through', () => {
    const pods = [
      pod({name: 'old', createdAt: '2026-12-01T09:00:00Z'}),
      pod({name: 'new', createdAt: '2026-12-01T10:00:00Z'}),
      pod({name: 'gone', deleting: true, createdAt: '2026-12-01T11:00:00Z'}),
      pod({name: 'starting', ready: false, createdAt: '2026-12-01T12:00:00Z'}),
    ]
    expect(pickPod(svc, 'http', pods)).toEqual({pod: 'new', podPort: 8000})
    expect(pickPod(svc, 80, pods)).toEqual({pod: 'new', podPort: 8000})
    expect(pickPod({...svc, ports: [{port: 9090, targetPort: 9091}]}, 9090, pods)).toEqual({pod: 'new', podPort: 9091})
    expect(pickPod({...svc, ports: [{port: 9093}]}, 9093, pods)).toEqual({pod: 'new', podPort: 9093})
  })
  it('says what is missing', () => {
    expect(() => pickPod(svc, 'web', [pod({})])).toThrow('Service keda-lab-api has no port web (it has http)')
    expect(() => pickPod(svc, 'http', [pod({ready: false})])).toThrow('Service keda-lab-api has no Ready pod to forward to (1 pod(s) selected, none Ready)')
    expect(() => pickPod(svc, 'http', [pod({ports: []})])).toThrow('pod p declares no container port named http')
  })
})

describe('startForward', () => {
  let echo: Server
  let echoPort = 0
  beforeAll(async () => {
    echo = createServer((s) => s.pipe(s))
    echoPort = await new Promise((r) => echo.listen(0, '127.0.0.1', () => r((echo.address() as {port: number}).port)))
  })
  afterAll(() => echo.close())

  /** A stand-in Kube: pods change between resolutions; forwardPort fails for pods in `broken`, else pipes to the echo server. */
  function standIn(podsSeq: string[][], broken: Set<string>) {
    let resolution = 0
    const forwardedTo: string[] = []
    const kube: Pick<Kube, 'getService' | 'listPods' | 'forwardPort'> = {
      getService: async () => svc,
      listPods: async () => (podsSeq[Math.min(resolution++, podsSeq.length - 1)] ?? []).map((name) => pod({name})),
      async forwardPort(_ns, name, _port, socket): Promise<PortForwardConnection> {
        forwardedTo.push(name)
        if (broken.has(name)) throw new Error(`pods "${name}" not found`)
        const upstream = connect(echoPort, '127.0.0.1')
        socket.pipe(upstream).pipe(socket)
        const closed = new Promise<{error?: string}>((r) => upstream.on('close', () => r({})))
        return {closed, close: () => upstream.destroy()}
      },
    }
    return {kube, forwardedTo}
  }

  const roundTrip = (port: number, text: string) =>
    new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write(text))
      s.on('data', (d) => {
        resolve(d.toString())
        s.end()
      })
      s.on('error', reject)
    })

  it('a failed forward forgets its pod, resolves again and retries the same connection', async () => {
    const {kube, forwardedTo} = standIn([['a'], ['a'], ['b']], new Set(['a']))
    const events: ForwardEvent[] = []
    const [target] = tunnelTargets('lab', 'mon', {api: 0})
    const forward = await startForward({kube, target: target!, onEvent: (e) => events.push(e), backoffMs: 1})
    try {
      expect(await roundTrip(forward.localPort, 'ping')).toBe('ping')
      expect(forwardedTo).toEqual(['a', 'a', 'b'])
      expect(forward.stats()).toEqual({connections: 1, failures: 0, reconnects: 1})
      expect(events.filter((e) => e.type === 'dropped').map((e) => (e as {pod: string}).pod)).toEqual(['a', 'a'])
      // Later connections go straight to the pod found last.
      expect(await roundTrip(forward.localPort, 'again')).toBe('again')
      expect(forwardedTo.at(-1)).toBe('b')
    } finally {
      await forward.close()
    }
  })

  it('gives up on a connection after every attempt failed, saying why, and keeps listening', async () => {
    const {kube} = standIn([['a']], new Set(['a']))
    const events: ForwardEvent[] = []
    const [target] = tunnelTargets('lab', 'mon', {api: 0})
    const forward = await startForward({kube, target: target!, onEvent: (e) => events.push(e), attempts: 3, backoffMs: 1})
    try {
      const closed = await new Promise<boolean>((resolve) => {
        const s = connect(forward.localPort, '127.0.0.1')
        s.on('close', () => resolve(true))
        s.on('error', () => {})
      })
      expect(closed).toBe(true)
      expect(forward.stats()).toEqual({connections: 1, failures: 1, reconnects: 0})
      expect(events.at(-1)).toMatchObject({type: 'failed', reason: 'pods "a" not found'})
    } finally {
      await forward.close()
    }
  })

  it('takes a free port when the usual one is taken, and says so', async () => {
    const squatter = createServer()
    const taken = await new Promise<number>((r) => squatter.listen(0, '127.0.0.1', () => r((squatter.address() as {port: number}).port)))
    const {kube} = standIn([['a']], new Set())
    const events: ForwardEvent[] = []
    const [target] = tunnelTargets('lab', 'mon', {api: taken})
    const forward = await startForward({kube, target: target!, onEvent: (e) => events.push(e)})
    try {
      expect(forward.localPort).not.toBe(taken)
      expect(events[0]).toMatchObject({type: 'listening', portTaken: true, localPort: forward.localPort, url: `http://127.0.0.1:${forward.localPort}/docs`})
      expect(await roundTrip(forward.localPort, 'x')).toBe('x')
    } finally {
      await forward.close()
      squatter.close()
    }
  })
})

describe('runTunnel on minikube (the fake minikube of test/fakes/bin records its command line)', () => {
  const fakeBin = new URL('../fakes/bin', import.meta.url).pathname
  const kube = {
    contextName: 'lab',
    server: 'https://192.168.49.2:8443',
    serverVersion: async () => ({major: 1, minor: 34, gitVersion: 'v1.34.0'}),
    listNodes: async () => [{name: 'lab', cpuMillis: 4000, memoryBytes: 8e9, labels: {'minikube.k8s.io/name': 'lab'}}],
  } as unknown as Kube
  const options = {portForward: false, namespace: 'keda', monitoringNamespace: 'keda-monitoring', address: '127.0.0.1', localPorts: {}}
  let dir = ''
  const saved = {PATH: process.env.PATH, FAKE_BIN_LOG: process.env.FAKE_BIN_LOG, FAKE_MINIKUBE_FAIL_ON: process.env.FAKE_MINIKUBE_FAIL_ON}
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'keda-lab-tunnel-unit-'))
  })
  afterAll(() => {
    Object.assign(process.env, saved)
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]
    rmSync(dir, {recursive: true, force: true})
  })

  it('explains the sudo prompt, then runs `minikube tunnel -p <profile>` for the profile the nodes name', async () => {
    const log = join(dir, 'calls.jsonl')
    process.env.PATH = `${fakeBin}:${saved.PATH}`
    process.env.FAKE_BIN_LOG = log
    const printed: string[] = []
    await runTunnel(options, {print: (l) => printed.push(l), printEvent: () => {}, createKube: async () => kube})
    expect(printed[0]).toBe('Running `minikube tunnel -p lab`: it gives LoadBalancer Services (the API keda-lab-api) an address reachable from this machine.')
    expect(printed.join('\n')).toContain('It may ask for your password (sudo)')
    expect(printed.join('\n')).toContain('keda-lab tunnel --port-forward')
    expect(
      readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as {argv: string[]}).argv),
    ).toEqual([['tunnel', '-p', 'lab']])
  })

  it('a failing minikube tunnel is an error pointing to --port-forward; a missing minikube says where to get it', async () => {
    process.env.PATH = `${fakeBin}:${saved.PATH}`
    process.env.FAKE_MINIKUBE_FAIL_ON = 'tunnel'
    await expect(runTunnel(options, {print: () => {}, printEvent: () => {}, createKube: async () => kube})).rejects.toMatchObject({
      message: 'minikube tunnel exited with code 1',
      hint: expect.stringContaining('keda-lab tunnel --port-forward'),
    })
    delete process.env.FAKE_MINIKUBE_FAIL_ON
    process.env.PATH = dir
    await expect(runTunnel(options, {print: () => {}, printEvent: () => {}, createKube: async () => kube})).rejects.toThrow(
      'minikube not found: install it from https://minikube.sigs.k8s.io/docs/start/',
    )
  })
})
