/**
 * The worker ScaledObject's triggers read against a real Redis (standalone, and a real
 * 3-Sentinel deployment) holding a real BullMQ queue: the rendered metadata is used the way
 * KEDA's `redis` / `redis-sentinel` list scalers use it (ask the Sentinels at `addresses` for
 * `sentinelMaster`, then LLEN `listName` with the TriggerAuthentication's password), and the
 * scalingModifiers formula is applied to the readings. This is an emulation of those scalers'
 * reads, not KEDA itself (no cluster here) — what it proves is that the list names are BullMQ's
 * real keys and that waiting + active jobs are what the formula sees.
 */
import {randomUUID} from 'node:crypto'

import {Queue, Worker} from 'bullmq'
import {Redis} from 'ioredis'
import {afterEach, describe, expect, it} from 'vitest'

import {type K8sObject, renderChart} from '../helpers/helm.js'
import {notYet, waitFor} from '../helpers/processes.js'
import {failoverTransient, startRedis, startSentinelSet} from '../helpers/redis.js'

type Trigger = {name: string; type: string; metadata: Record<string, string>}
type ScaledObjectSpec = {
  minReplicaCount: number
  maxReplicaCount: number
  advanced: {scalingModifiers: {formula: string; target: string}}
  triggers: Trigger[]
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  // Bounded: a client stuck reconnecting after a failover must not hang the suite; the Redis
  // processes are stopped by the last cleanups whatever happened before.
  for (const cleanup of cleanups.splice(0).reverse()) {
    await Promise.race([cleanup().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 5000).unref())])
  }
}, 30_000)

function scaledObject(objects: K8sObject[]): ScaledObjectSpec {
  const found = objects.find((o) => o.kind === 'ScaledObject')
  if (!found) throw new Error('no ScaledObject rendered')
  return found.spec as ScaledObjectSpec
}

/** What a KEDA redis / redis-sentinel list trigger reads: LLEN of listName on the (current) master. */
async function readTrigger(trigger: Trigger, password: string, sentinelPassword?: string): Promise<number> {
  let host: string
  let port: number
  if (trigger.type === 'redis-sentinel') {
    const addresses = trigger.metadata.addresses?.split(',') ?? []
    let master: string[] | null = null
    for (const address of addresses) {
      const [sentinelHost, sentinelPort] = address.split(':') as [string, string]
      const sentinel = new Redis({host: sentinelHost, port: Number(sentinelPort), password: sentinelPassword, lazyConnect: true, maxRetriesPerRequest: 0})
      sentinel.on('error', () => {})
      try {
        await sentinel.connect()
        master = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', trigger.metadata.sentinelMaster ?? '')) as string[] | null
        if (master) break
      } finally {
        sentinel.disconnect()
      }
    }
    if (!master) throw new Error(`no Sentinel at ${trigger.metadata.addresses} knows master ${trigger.metadata.sentinelMaster}`)
    host = master[0] ?? ''
    port = Number(master[1])
  } else if (trigger.type === 'redis') {
    const [h, p] = (trigger.metadata.address ?? '').split(':') as [string, string]
    host = h
    port = Number(p)
  } else {
    throw new Error(`unexpected trigger type ${trigger.type}`)
  }
  const client = new Redis({host, port, password, lazyConnect: true, maxRetriesPerRequest: 0})
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.llen(trigger.metadata.listName ?? '')
  } finally {
    client.disconnect()
  }
}

/** KEDA's scalingModifiers: the formula over the trigger values, then replicas = ceil(metric / target) within min..max. */
function desiredReplicas(spec: ScaledObjectSpec, readings: Record<string, number>): {metric: number; replicas: number} {
  const expression = spec.advanced.scalingModifiers.formula.replaceAll(/[A-Za-z_]\w*/g, (name) => {
    if (!(name in readings)) throw new Error(`formula names unknown trigger ${name}`)
    return String(readings[name])
  })
  if (!/^[\d\s+\-*/().]+$/.test(expression)) throw new Error(`unsupported formula ${spec.advanced.scalingModifiers.formula}`)
  const metric = Number(new Function(`return (${expression})`)())
  const replicas = Math.min(spec.maxReplicaCount, Math.max(spec.minReplicaCount, Math.ceil(metric / Number(spec.advanced.scalingModifiers.target))))
  return {metric, replicas}
}

/** Adds `jobs` jobs, starts one worker holding its job until released, and waits until it runs one. */
async function busyQueue(queueName: string, connection: Record<string, unknown>, jobs: number): Promise<{release: () => void}> {
  const queue = new Queue(queueName, {connection})
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  for (let i = 0; i < jobs; i++) await queue.add('long_task', {iterations: 1, queuedAt: new Date().toISOString()})
  const worker = new Worker(queueName, async () => gate, {connection: {...connection, maxRetriesPerRequest: null}, concurrency: 1})
  worker.on('error', () => {})
  cleanups.push(async () => {
    release()
    // Forced: the Redis under it is thrown away, nothing to finish cleanly.
    await worker.close(true)
    await queue.close()
  })
  await waitFor(async () => (await queue.getActiveCount()) === 1, {what: 'one active job', timeoutMs: 10_000})
  return {release}
}

describe('worker ScaledObject against a real BullMQ queue', () => {
  it('standalone: the redis triggers count waiting and active jobs; the formula sums them', async () => {
    const password = 'scaler-test-password'
    const redis = await startRedis({password})
    cleanups.push(() => redis.stop())
    const queueName = `test-${randomUUID()}`
    const spec = scaledObject(
      await renderChart(3, {
        values: {
          queue: {name: queueName},
          redis: {mode: 'standalone', standalone: {host: '127.0.0.1', port: redis.port}},
          worker: {autoscaling: {tasksPerReplica: 2, minReplicaCount: 1, maxReplicaCount: 10}},
        },
      }),
    )
    await busyQueue(queueName, {host: '127.0.0.1', port: redis.port, password}, 5)

    const readings: Record<string, number> = {}
    for (const trigger of spec.triggers) readings[trigger.name] = await readTrigger(trigger, password)
    expect(readings).toEqual({wait: 4, active: 1})
    // 5 jobs in flight at 2 per worker: 3 workers. Waiting alone (4) would say 2 and stop one mid-task.
    expect(desiredReplicas(spec, readings)).toEqual({metric: 5, replicas: 3})

    // The trap the issue warns about: a plausible but wrong list name reads 0, silently.
    const wrong = {...spec.triggers[0]!, metadata: {...spec.triggers[0]!.metadata, listName: `bull:${queueName}:waiting`}}
    expect(await readTrigger(wrong, password)).toBe(0)
  })

  it('Sentinel: the redis-sentinel triggers find the master through the Sentinels, before and after a failover', async () => {
    const set = await startSentinelSet()
    cleanups.push(() => set.stop())
    const queueName = `test-${randomUUID()}`
    const spec = scaledObject(
      await renderChart(4, {
        values: {
          queue: {name: queueName},
          redis: {
            mode: 'sentinel',
            sentinel: {hosts: set.sentinels.map((s) => `${s.host}:${s.port}`), masterName: set.masterName},
            auth: {sentinelPasswordKey: 'sentinel-password'},
          },
          worker: {autoscaling: {tasksPerReplica: 2, minReplicaCount: 1, maxReplicaCount: 2}},
        },
      }),
    )
    // Loopback addresses contain dots, so the chart leaves them as given.
    expect(spec.triggers[0]?.metadata.addresses).toBe(set.sentinelsEnv)
    await busyQueue(queueName, {sentinels: set.sentinels, name: set.masterName, password: set.password, sentinelPassword: set.password}, 7)
    const read = async (): Promise<Record<string, number>> => {
      const readings: Record<string, number> = {}
      for (const trigger of spec.triggers) readings[trigger.name] = await readTrigger(trigger, set.password, set.password)
      return readings
    }
    expect(await read()).toEqual({wait: 6, active: 1})
    // 7 in flight wants 4 workers; maxReplicaCount caps it at 2.
    expect(desiredReplicas(spec, await read())).toEqual({metric: 7, replicas: 2})

    // After a failover the same metadata reaches the new master, where the replicated lists are.
    await set.failover()
    const after = await waitFor(
      async () => {
        const readings = await read()
        return readings.wait === 6 && readings.active === 1 ? readings : notYet(JSON.stringify(readings))
      },
      // Right after the switch only a connection still closing or a READONLY replica is "not yet".
      {what: 'the lists on the new master', timeoutMs: 15_000, ignore: failoverTransient},
    )
    expect(after).toEqual({wait: 6, active: 1})
  })
})
