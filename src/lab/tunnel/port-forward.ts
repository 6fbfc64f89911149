/**
 * `keda-lab tunnel --port-forward`: each lab Service on a local port, through the API server's
 * port-forwarding (client-node, one WebSocket per TCP connection, via Kube.forwardPort).
 *
 * - Service → a Ready pod → the container port its targetPort names (what kubectl does).
 * - The usual local port (8000, 3000, 9090, 9093) when free, else a free one (said so).
 * - A forward that fails (the pod went away, the node dropped the stream) forgets its pod: the
 *   connection is retried on a freshly resolved pod, and later connections use that one.
 * - `close()` stops listening and ends every open connection.
 */
import {createServer, type Server, type Socket} from 'node:net'

import type {Kube, PodInfo, ServiceInfo} from '../../adapters/kube/index.js'
import {KedaLabError} from '../../errors.js'

/** One Service to forward. */
export interface ForwardTarget {
  id: string
  title: string
  namespace: string
  service: string
  /** The Service port (number or name). */
  port: number | string
  /** The local port to try first. */
  localPort: number
  /** Shown after the URL (e.g. '/docs'). */
  path?: string
}

/** What happens, as events the command prints. */
export type ForwardEvent =
  | {type: 'listening'; target: ForwardTarget; localPort: number; portTaken: boolean; url: string}
  | {type: 'resolved'; target: ForwardTarget; pod: string; podPort: number}
  | {type: 'dropped'; target: ForwardTarget; pod: string; reason: string}
  | {type: 'failed'; target: ForwardTarget; reason: string}

export interface ForwardOptions {
  kube: Pick<Kube, 'getService' | 'listPods' | 'forwardPort'>
  target: ForwardTarget
  /** Local address to listen on (default 127.0.0.1: a tunnel is for this machine). */
  address?: string
  onEvent?: (event: ForwardEvent) => void
  /** Attempts per connection, the first included (default 4). */
  attempts?: number
  /** Back-off between attempts in ms, doubled each time (default 250). */
  backoffMs?: number
}

export interface RunningForward {
  target: ForwardTarget
  localPort: number
  url: string
  /** Connections forwarded so far, and those that failed after every attempt. */
  stats(): {connections: number; failures: number; reconnects: number}
  close(): Promise<void>
}

/** The pod and port behind a Service port, or an error saying what is missing. */
export function pickPod(service: ServiceInfo, port: number | string, pods: readonly PodInfo[]): {pod: string; podPort: number} {
  const svcPort = service.ports.find((p) => p.port === port || (p.name !== undefined && p.name === port)) ?? (port === undefined ? service.ports[0] : undefined)
  if (!svcPort) {
    throw new KedaLabError(`Service ${service.name} has no port ${port} (it has ${service.ports.map((p) => p.name ?? p.port).join(', ') || 'none'})`)
  }
  const ready = pods.filter((p) => p.ready && !p.deleting && p.phase === 'Running').sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''))
  const pod = ready[0]
  if (!pod) throw new KedaLabError(`Service ${service.name} has no Ready pod to forward to (${pods.length} pod(s) selected, none Ready)`)
  const target = svcPort.targetPort ?? svcPort.port
  if (typeof target === 'number') return {pod: pod.name, podPort: target}
  if (/^\d+$/.test(target)) return {pod: pod.name, podPort: Number(target)}
  const named = pod.ports.find((p) => p.name === target)
  if (!named) throw new KedaLabError(`pod ${pod.name} declares no container port named ${target} (Service ${service.name} targets it)`)
  return {pod: pod.name, podPort: named.containerPort}
}

async function resolve(kube: ForwardOptions['kube'], target: ForwardTarget): Promise<{pod: string; podPort: number}> {
  const service = await kube.getService(target.namespace, target.service)
  if (!service) throw new KedaLabError(`Service ${target.namespace}/${target.service} does not exist`, {hint: 'is the lab installed? keda-lab status'})
  const selector = Object.entries(service.selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
  if (!selector) throw new KedaLabError(`Service ${target.namespace}/${target.service} has no selector: there is no pod to forward to`)
  return pickPod(service, target.port, await kube.listPods(target.namespace, selector))
}

/** Listens on `port` (0: any free one); rejects with the listen error (EADDRINUSE…). */
function listen(server: Server, port: number, address: string): Promise<number> {
  return new Promise((ok, fail) => {
    const onError = (error: Error) => fail(error)
    server.once('error', onError)
    server.listen(port, address, () => {
      server.off('error', onError)
      ok((server.address() as {port: number}).port)
    })
  })
}

/**
 * The pod behind `target`, resolved once and shared by every connection until `forget()` (a
 * forward failed or its stream broke); a failed resolution is not kept, so the next call retries.
 */
function podResolver(
  kube: ForwardOptions['kube'],
  target: ForwardTarget,
  emit: (event: ForwardEvent) => void,
): {get(): Promise<{pod: string; podPort: number}>; forget(): void} {
  let current: Promise<{pod: string; podPort: number}> | undefined
  return {
    get() {
      current ??= resolve(kube, target).then(
        (found) => {
          emit({type: 'resolved', target, ...found})
          return found
        },
        (error: unknown) => {
          current = undefined
          throw error
        },
      )
      return current
    },
    forget() {
      current = undefined
    },
  }
}

/** Listens on `port` when it is free, else on any free port (`portTaken` then says so). */
export async function listenPreferring(server: Server, port: number, address: string): Promise<{localPort: number; portTaken: boolean}> {
  try {
    return {localPort: await listen(server, port, address), portTaken: false}
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? error.code : undefined
    if (code !== 'EADDRINUSE') throw error
    return {localPort: await listen(server, 0, address), portTaken: true}
  }
}

/** The URL to print for a forward listening on `address:port` (0.0.0.0 is reached as 127.0.0.1). */
export function localUrl(address: string, port: number, path = ''): string {
  const host = address.includes(':') ? `[${address}]` : address
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}${path}`
}

/** Starts forwarding one Service; resolves once the local port listens. */
export async function startForward(options: ForwardOptions): Promise<RunningForward> {
  const {kube, target} = options
  const address = options.address ?? '127.0.0.1'
  const attempts = options.attempts ?? 4
  const backoffMs = options.backoffMs ?? 250
  const emit = options.onEvent ?? (() => {})
  const destination = podResolver(kube, target, emit)
  let connections = 0
  let failures = 0
  let reconnects = 0
  const sockets = new Set<Socket>()
  let closing = false

  const handle = async (socket: Socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let lastError = ''
    for (let attempt = 1; attempt <= attempts && !closing && !socket.destroyed; attempt++) {
      let found: {pod: string; podPort: number} | undefined
      try {
        found = await destination.get()
        const {pod} = found
        const connection = await kube.forwardPort(target.namespace, pod, found.podPort, socket)
        void connection.closed.then(({error}) => {
          if (!error) return
          // The stream broke on the far side: find the pod again for the next connection.
          emit({type: 'dropped', target, pod, reason: error})
          destination.forget()
        })
        if (attempt > 1) reconnects++
        // Paused on connect so nothing is lost before the WebSocket opened; now let it flow.
        socket.resume()
        return
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error)
        if (found) emit({type: 'dropped', target, pod: found.pod, reason: lastError})
        destination.forget()
        if (attempt < attempts) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)))
      }
    }
    failures++
    if (!closing) emit({type: 'failed', target, reason: lastError || 'the connection closed before it was forwarded'})
    socket.destroy()
  }

  const server = createServer({pauseOnConnect: true}, (socket) => void handle(socket))
  const {localPort, portTaken} = await listenPreferring(server, target.localPort, address)
  const url = localUrl(address, localPort, target.path)
  emit({type: 'listening', target, localPort, portTaken, url})
  // Resolve now, so the user sees at once which pod serves it (or why none does).
  destination.get().catch((error: unknown) => emit({type: 'failed', target, reason: error instanceof Error ? error.message : String(error)}))
  return {
    target,
    localPort,
    url,
    stats: () => ({connections, failures, reconnects}),
    async close() {
      closing = true
      const closed = new Promise<void>((r) => server.close(() => r()))
      for (const socket of sockets) socket.destroy()
      await closed
    },
  }
}
