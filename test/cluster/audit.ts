/**
 * The real API server's audit log (a control plane started with `audit: true`): what a client sent,
 * read from the server's own record rather than from a fake's request log.
 */
import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {waitFor} from '../helpers/processes.js'
import {adminRequest} from './control-plane.js'

/** One audit event at the Metadata level (audit.k8s.io/v1 Event; the fields tests read). */
export interface AuditEvent {
  stage: string
  verb: string
  requestURI: string
  user: {username: string; groups?: string[]}
  userAgent?: string
  objectRef?: {resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string}
  responseStatus?: {code?: number}
}

/** The verbs that change something (`get`, `list`, `watch` do not). */
export const WRITE_VERBS: readonly string[] = ['create', 'update', 'patch', 'delete', 'deletecollection']

/** Every event written so far (the log is JSON lines; the last line may be half-written, so only complete lines count). */
function readEvents(auditLog: string): AuditEvent[] {
  const lines = readFileSync(auditLog, 'utf8').split('\n')
  lines.pop()
  return lines.filter(Boolean).map((l) => JSON.parse(l) as AuditEvent)
}

/**
 * A request of its own (a GET of a ConfigMap that does not exist, by a unique name) and the index
 * just after its event. The API server logs a request's event (blocking mode) in the request's own
 * handler as its response completes; a marker sent on a new connection after a client exited comes
 * after every request of that client, and a marker sent before it started, before them.
 */
async function mark(kubeconfig: string, auditLog: string): Promise<number> {
  const name = `audit-marker-${randomBytes(6).toString('hex')}`
  await adminRequest(kubeconfig, 'GET', `/api/v1/namespaces/default/configmaps/${name}`)
  return waitFor(
    () => {
      const index = readEvents(auditLog).findIndex((e) => e.objectRef?.name === name)
      return index >= 0 ? index + 1 : undefined
    },
    {timeoutMs: 30_000, intervalMs: 100, what: `the audit event of marker ${name}`},
  )
}

/**
 * Runs `action` between two markers and returns its result with the events logged in between,
 * made by `username` (the client's credential: other clients — kwok, the controllers — keep writing).
 */
export async function auditedRun<T>(
  o: {kubeconfig: string; auditLog: string; username: string},
  action: () => Promise<T>,
): Promise<{result: T; events: AuditEvent[]}> {
  const from = await mark(o.kubeconfig, o.auditLog)
  const result = await action()
  const to = await mark(o.kubeconfig, o.auditLog)
  const events = readEvents(o.auditLog)
    .slice(from, to)
    .filter((e) => e.user.username === o.username)
  return {result, events}
}

/** `verb resource[/subresource] [namespace/]name`, for readable assertions and failure messages. */
export function describeEvent(e: AuditEvent): string {
  const r = e.objectRef ?? {}
  const resource = `${r.apiGroup ? `${r.resource}.${r.apiGroup}` : r.resource}${r.subresource ? `/${r.subresource}` : ''}`
  // A Namespace's own events carry its name as their namespace too: named once.
  const name = [r.resource === 'namespaces' ? undefined : r.namespace, r.name].filter(Boolean).join('/')
  return `${e.verb} ${resource}${name ? ` ${name}` : ''}`
}
