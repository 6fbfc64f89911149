/** The lines `keda-lab tunnel` prints for the forwards' events. */
import type {ForwardEvent} from './port-forward.js'

export function formatForwardEvent(event: ForwardEvent): string {
  const name = `${event.target.title.padEnd(12)}`
  switch (event.type) {
    case 'listening':
      return `${name} ${event.url}  → svc/${event.target.service}:${event.target.port} in ${event.target.namespace}${event.portTaken ? `  (port ${event.target.localPort} is taken: using ${event.localPort})` : ''}`
    case 'resolved':
      return `${name} forwarding to pod ${event.pod} port ${event.podPort}`
    case 'dropped':
      return `${name} forward to pod ${event.pod} dropped (${event.reason}); finding a Ready pod again`
    case 'failed':
      return `${name} a connection could not be forwarded: ${event.reason}`
  }
}
