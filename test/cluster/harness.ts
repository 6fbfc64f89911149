/**
 * What a cluster-side test file uses: `useCluster()` gives it the run's real control plane
 * (started on first use by whichever worker asks first; the others wait for it) and a namespace
 * of its own, deleted after the file's tests.
 */
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {basename, join} from 'node:path'

import {afterAll, beforeAll, inject} from 'vitest'

import {adminRequest, type ControlPlaneState, type StartOptions, startControlPlane, stopControlPlane} from './control-plane.js'
import {type SimulatedUsage, setSimulatedUsage as setUsage} from './metrics-api.js'

/** Cold start on a loaded 2-core machine takes well under this. */
export const CLUSTER_START_TIMEOUT_MS = 240_000

let shared: Promise<ControlPlaneState> | undefined

/** This run's control plane, started by the first caller in any worker. */
export function controlPlane(): Promise<ControlPlaneState> {
  shared ??= acquire()
  return shared
}

async function acquire(): Promise<ControlPlaneState> {
  const dir = inject('kubeRunDir')
  const ready = join(dir, 'ready.json')
  const failed = join(dir, 'failed.txt')
  let mine = false
  try {
    mkdirSync(join(dir, 'start.lock'))
    mine = true
  } catch {
    // another worker is starting it
  }
  if (mine) {
    try {
      const state = await startControlPlane({dir, owner: inject('kubeRunOwner'), timeoutMs: CLUSTER_START_TIMEOUT_MS - 20_000})
      writeFileSync(ready, JSON.stringify(state))
      return state
    } catch (error) {
      writeFileSync(failed, (error as Error).message)
      throw error
    }
  }
  const deadline = Date.now() + CLUSTER_START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (existsSync(ready)) return JSON.parse(readFileSync(ready, 'utf8')) as ControlPlaneState
    if (existsSync(failed)) throw new Error(`the control plane failed to start (in another test file): ${readFileSync(failed, 'utf8')}`)
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`timed out after ${CLUSTER_START_TIMEOUT_MS} ms waiting for another test file to start the control plane`)
}

export interface ClusterContext {
  state: ControlPlaneState
  kubeconfig: string
  /** This test file's namespace. */
  namespace: string
}

export interface UseClusterOptions {
  /** Create a namespace for the file (default true). */
  namespace?: boolean
  /**
   * A control plane of the file's own, for tests of cluster-wide state (e.g. "no KEDA CRDs yet")
   * that other files running in parallel would change. Costs a start-up (~15 s); stopped after the file.
   */
  dedicated?: boolean
  /** With `dedicated`: that control plane's kwok changed (StartOptions.kwok). */
  kwok?: StartOptions['kwok']
  /** With `dedicated`: that API server writes an audit log (StartOptions.audit; `state.auditLog`). */
  audit?: boolean
}

/** Registers beforeAll/afterAll: the control plane plus a fresh namespace for this test file. */
export function useCluster(file: string, options: UseClusterOptions = {}): ClusterContext {
  const ctx = {} as ClusterContext
  const prefix = basename(file)
    .replace(/\.test\.ts$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 40)
  let dedicatedDir: string | undefined
  beforeAll(async () => {
    if (options.dedicated) {
      dedicatedDir = join(inject('kubeRunDir'), `dedicated-${prefix}-${randomBytes(3).toString('hex')}`)
      ctx.state = await startControlPlane({
        dir: dedicatedDir,
        owner: inject('kubeRunOwner'),
        timeoutMs: CLUSTER_START_TIMEOUT_MS - 20_000,
        kwok: options.kwok,
        audit: options.audit,
      })
    } else ctx.state = await controlPlane()
    ctx.kubeconfig = ctx.state.kubeconfig
    if (options.namespace !== false) {
      ctx.namespace = `${prefix}-${randomBytes(3).toString('hex')}`
      await createNamespace(ctx.kubeconfig, ctx.namespace)
    }
  }, CLUSTER_START_TIMEOUT_MS)
  afterAll(async () => {
    if (dedicatedDir) await stopControlPlane(dedicatedDir)
    else if (ctx.namespace) await adminRequest(ctx.kubeconfig, 'DELETE', `/api/v1/namespaces/${ctx.namespace}`).catch(() => undefined)
  })
  return ctx
}

export async function createNamespace(kubeconfig: string, name: string, labels: Record<string, string> = {}): Promise<void> {
  const res = await adminRequest(kubeconfig, 'POST', '/api/v1/namespaces', {apiVersion: 'v1', kind: 'Namespace', metadata: {name, labels}})
  if (res.status !== 201) throw new Error(`creating namespace ${name} failed: ${res.status} ${res.body.slice(0, 200)}`)
}

/**
 * Sets the CPU and memory each pod of a Deployment reports through the metrics API (kwok's simulated
 * usage, scraped by the control plane's metrics-server), until set again. Per pod: to model a total
 * load spread over the replicas, divide it by their count.
 */
export function setSimulatedUsage(kubeconfig: string, usage: SimulatedUsage): Promise<void> {
  return setUsage((method, path, body, contentType) => adminRequest(kubeconfig, method, path, body, contentType), usage)
}
