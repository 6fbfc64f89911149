/**
 * The connection every concern of the `Kube` adapter shares: the kubeconfig loaded (with clear
 * errors when there is none), the generated API clients, one error shape for failed calls, the
 * retry wrapper, and raw requests for what the generated clients do not fit.
 */
import type * as K8s from '@kubernetes/client-node'

import {makeCalls} from './calls.js'
import {loadKubeConfig} from './kubeconfig.js'
import {makeRawRequests} from './raw.js'
import {DEFAULT_RETRY} from './retry.js'
import type {KubeCondition, KubeOptions, ObjectSummary, ResourceRef, ServiceProxyResponse} from './types.js'

/** What each concern's methods are built on; made once per `createKube`. */
export interface KubeClient {
  /** client-node, imported lazily by `createKube` (it is heavy). */
  k8s: typeof K8s
  kc: K8s.KubeConfig
  server: string
  contextName: string
  core: K8s.CoreV1Api
  version: K8s.VersionApi
  authz: K8s.AuthorizationV1Api
  storage: K8s.StorageV1Api
  apiext: K8s.ApiextensionsV1Api
  apireg: K8s.ApiregistrationV1Api
  apps: K8s.AppsV1Api
  autoscaling: K8s.AutoscalingV2Api
  /** Every call to the API server goes through here: transient answers are retried. */
  api<T>(call: () => Promise<T>): Promise<T>
  /** Turns a failed call into one line naming what was asked and what the API server said. */
  fail(what: string, error: unknown): never
  /** Runs a call; a 404 becomes `undefined`, anything else goes through `fail`. */
  orNotFound<T>(what: string, call: () => Promise<T>): Promise<T | undefined>
  /** Runs a call; any failure goes through `fail`. */
  must<T>(what: string, call: () => Promise<T>): Promise<T>
  /**
   * A raw request authenticated by client-node's KubeConfig (tokens, client certificates, exec
   * plugins all apply). Used where the generated clients do not fit: the service proxy (whose
   * generated call URL-encodes the slashes of the path) and resources addressed generically.
   */
  raw(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<ServiceProxyResponse>
  /** A raw GET whose answer is followed as a stream (see raw.ts). */
  rawStream(path: string, onText: (text: string) => void, signal: AbortSignal): Promise<void>
  /** Raw JSON call; non-2xx answers throw an error carrying `code` and `body` like ApiException. */
  rawJson(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown>
  /** The group's preferred version (discovery), cached; undefined when the group is not served. */
  versionOf(ref: ResourceRef): Promise<string | undefined>
}

/** Builds the shared connection from the kubeconfig (client-node imported here, only when needed). */
export async function createKubeClient(options: KubeOptions = {}): Promise<KubeClient> {
  const k8s = await import('@kubernetes/client-node')
  const {kc, server, contextName} = loadKubeConfig(k8s, options)
  const timeoutMs = options.requestTimeoutMs ?? 15_000
  const retry = options.retry ?? DEFAULT_RETRY

  const {fail, api, orNotFound, must} = makeCalls(server, contextName, retry)
  const {raw, rawJson, rawStream} = await makeRawRequests(kc, server, timeoutMs)

  const versions = new Map<string, string>()
  const versionOf = async (ref: ResourceRef): Promise<string | undefined> => {
    if (ref.version) return ref.version
    if (ref.group === '') return 'v1'
    const known = versions.get(ref.group)
    if (known) return known
    const group = (await orNotFound(`discover API group ${ref.group}`, () => rawJson('GET', `/apis/${ref.group}`))) as
      | {preferredVersion?: {version?: string}; versions?: {version: string}[]}
      | undefined
    const v = group?.preferredVersion?.version ?? group?.versions?.[0]?.version
    if (v) versions.set(ref.group, v)
    return v
  }

  return {
    k8s,
    kc,
    server,
    contextName,
    core: kc.makeApiClient(k8s.CoreV1Api),
    version: kc.makeApiClient(k8s.VersionApi),
    authz: kc.makeApiClient(k8s.AuthorizationV1Api),
    storage: kc.makeApiClient(k8s.StorageV1Api),
    apiext: kc.makeApiClient(k8s.ApiextensionsV1Api),
    apireg: kc.makeApiClient(k8s.ApiregistrationV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    autoscaling: kc.makeApiClient(k8s.AutoscalingV2Api),
    api,
    fail,
    orNotFound,
    must,
    raw,
    rawJson,
    rawStream,
    versionOf,
  }
}

/** The URL path of a resource (collection, or one object when `name` is given) at version `v`. */
export function pathOf(ref: ResourceRef, v: string, name?: string): string {
  const base = ref.group === '' ? `/api/${v}` : `/apis/${ref.group}/${v}`
  const ns = ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : ''
  return `${base}${ns}/${ref.plural}${name ? `/${encodeURIComponent(name)}` : ''}`
}

/** A resource as error messages name it, e.g. `scaledobjects.keda.sh in namespace lab`. */
export function describeRef(ref: ResourceRef): string {
  return `${ref.plural}${ref.group ? `.${ref.group}` : ''}${ref.namespace ? ` in namespace ${ref.namespace}` : ''}`
}

/** Object metadata as the raw JSON (or a generated model) carries it. */
export type Meta = {
  name?: string
  namespace?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  finalizers?: string[]
  deletionTimestamp?: string | Date
  creationTimestamp?: string | Date
  managedFields?: {manager?: string; operation?: string; time?: string | Date}[]
}

/** A timestamp from the API (a Date from the generated clients, a string from raw JSON) as ISO text. */
export function toDate(d: string | Date | undefined): string | undefined {
  return d === undefined ? undefined : d instanceof Date ? d.toISOString() : String(d)
}

/** Status conditions reduced to the fields keda-lab reads. */
export function conditionsOf(conditions: readonly KubeCondition[] | undefined): KubeCondition[] {
  return (conditions ?? []).map((c) => ({type: c.type, status: c.status, reason: c.reason, message: c.message}))
}

/** Metadata and conditions of any object (generic listing). */
export function summarize(obj: {kind?: string; metadata?: Meta; status?: {conditions?: KubeCondition[]}}, kind?: string): ObjectSummary {
  return {
    name: obj.metadata?.name ?? '',
    namespace: obj.metadata?.namespace,
    kind: obj.kind ?? kind,
    labels: obj.metadata?.labels ?? {},
    annotations: obj.metadata?.annotations ?? {},
    finalizers: obj.metadata?.finalizers ?? [],
    deletionTimestamp: toDate(obj.metadata?.deletionTimestamp),
    createdAt: toDate(obj.metadata?.creationTimestamp),
    fieldManagers: (obj.metadata?.managedFields ?? []).map((f) => ({manager: f.manager ?? '', operation: f.operation, time: toDate(f.time)})),
    conditions: conditionsOf(obj.status?.conditions),
  }
}
