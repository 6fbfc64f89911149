/** Forwarding one TCP connection to a pod's port through the API server (what `keda-lab tunnel` is built on). */
import {PassThrough} from 'node:stream'

import {KedaLabError} from '../../errors.js'
import type {KubeClient} from './client.js'
import type {Kube} from './types.js'

/** client-node resolves with the `ws` WebSocket (typed loosely by client-node). */
type Ws = {on(event: 'close', listener: () => void): void; on(event: 'error', listener: (error: Error) => void): void; close(): void}

/** The text of whatever a failed WebSocket upgrade threw. */
const messageOf = (error: unknown): string =>
  error instanceof Error
    ? error.message
    : typeof error === 'object' && error && 'message' in error
      ? String((error as {message: unknown}).message)
      : String(error)

/** The port-forward method, answered through `c`. */
export function portForwardMethods(c: KubeClient): Pick<Kube, 'forwardPort'> {
  return {
    async forwardPort(namespace, pod, port, socket) {
      const errors: string[] = []
      const errStream = new PassThrough()
      errStream.on('data', (chunk: Buffer) => errors.push(chunk.toString('utf8')))
      const forward = new c.k8s.PortForward(c.kc)
      let ws: Ws
      try {
        ws = (await forward.portForward(namespace, pod, [port], socket, errStream, socket)) as unknown as Ws
      } catch (error) {
        // A failed WebSocket upgrade carries only the status line; say which pod and port.
        throw new KedaLabError(`Cannot open a port-forward to pod ${namespace}/${pod} port ${port} through ${c.server}: ${messageOf(error)}`, {
          hint: `check the pod runs and this context may create pods/portforward (kubectl auth can-i create pods/portforward -n ${namespace})`,
          cause: error,
        })
      }
      let settle: (value: {error?: string}) => void = () => {}
      const closed = new Promise<{error?: string}>((resolve) => (settle = resolve))
      const finish = () => {
        const error = errors.join('').trim()
        settle(error ? {error} : {})
      }
      ws.on('close', () => {
        socket.end()
        finish()
      })
      ws.on('error', (error: Error) => {
        errors.push(error.message)
        socket.destroy()
        finish()
      })
      // The remote side reported an error on the port's error stream: the forward is broken.
      errStream.on('data', () => ws.close())
      socket.on('close', () => ws.close())
      socket.on('error', () => ws.close())
      return {closed, close: () => ws.close()}
    },
  }
}
