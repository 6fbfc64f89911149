import {afterAll, describe, expect, it} from 'vitest'

import {waitFor} from '../helpers/processes.js'
import {type DevRun, cleanupDev, isAlive, request, startDev} from './dev-harness.js'

/**
 * `keda-lab dev` shows recovery instead of stopping: a worker killed mid-run is restarted (saying
 * why), and while its Redis is killed and restarted the API stays up, answers 503, and then works
 * again with the queue intact (the dev Redis keeps an append-only file).
 */

const T = String.raw`\d\d:\d\d:\d\d\.\d{3}`

let dev: DevRun | undefined
afterAll(async () => {
  await cleanupDev(dev)
})

async function addTask(api: string): Promise<{status: number; id?: string; retryAfter?: string}> {
  const response = await fetch(`${api}/api/tasks`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: '{}',
    signal: AbortSignal.timeout(10_000),
  })
  const body = (await response.json().catch(() => undefined)) as {id?: string} | undefined
  return {status: response.status, id: body?.id, retryAfter: response.headers.get('retry-after') ?? undefined}
}

async function completed(api: string, id: string, what: string): Promise<void> {
  await waitFor(
    async () => {
      const {status, body} = await request(`${api}/api/tasks/${id}`)
      if (status === 503) return false // Redis still coming back: not yet
      expect(status).toBe(200)
      const state = (body as {status: string}).status
      expect(state).not.toBe('Failed')
      return state === 'Completed'
    },
    {timeoutMs: 60_000, intervalMs: 200, what},
  )
}

describe('keda-lab dev: recovery', () => {
  it('restarts a killed worker and a killed Redis; the API stays up and answers 503 meanwhile', async () => {
    dev = startDev(['--api-port', '0', '--workers', '1', '--task-iterations', '1000000'])
    const api = (await dev.waitForLine(new RegExp(String.raw`^\[dev\]\s+${T}\s+API\s+(http://127\.0\.0\.1:\d+)`), 90_000))[1]!
    await dev.waitForLine(new RegExp(String.raw`^\[dev\]\s+${T}\s+keda-lab dev is running`))
    const apiPid = Number((await dev.waitForLine(new RegExp(String.raw`^\[dev\]\s+${T}\s+started api \(pid (\d+)\)`)))[1])
    const workerPid = Number((await dev.waitForLine(new RegExp(String.raw`^\[dev\]\s+${T}\s+started worker-1 \(pid (\d+)\)`)))[1])
    const redisPid = Number((await dev.waitForLine(new RegExp(String.raw`^\[dev\]\s+${T}\s+started redis \(pid (\d+)\)`)))[1])

    // 1. The worker: killed, restarted under the same name, and the new one does the work.
    process.kill(workerPid, 'SIGKILL')
    await dev.waitForLine(
      new RegExp(String.raw`worker-1 \(pid ${workerPid}\) exited unexpectedly \(killed by SIGKILL\); restarting it \(restart 1 of at most 5 within 60 s\)`),
      20_000,
    )
    const newWorker = Number((await dev.waitForLine(/restarted worker-1 \(pid (\d+)\)/, 30_000))[1])
    expect(newWorker).not.toBe(workerPid)
    const first = await addTask(api)
    expect(first.status).toBe(202)
    await completed(api, first.id!, 'a task done by the restarted worker')

    // 2. Redis, killed again and again: each restart waits longer (1 s, 2 s, 4 s), a window in which
    //    the API, still up, must answer 503. One 503 seen during any of the outages is enough (on
    //    a loaded machine a single request can outlast a short window).
    process.kill(redisPid, 'SIGKILL')
    await dev.waitForLine(
      new RegExp(
        String.raw`redis \(pid ${redisPid}\) exited unexpectedly \(killed by SIGKILL\); restarting it \(restart 1 of at most 5 within 60 s\); the API answers 503 until Redis is back`,
      ),
      20_000,
    )
    const seen = [redisPid]
    const restartedRedis = async () =>
      Number((await dev!.waitForLine(new RegExp(String.raw`restarted redis \(pid (?!(?:${seen.join('|')})\))(\d+)\)`), 30_000))[1])
    let pid = await restartedRedis()
    let during: {status: number; retryAfter?: string} | undefined
    for (const [restart, delay] of [
      [2, '1 s'],
      [3, '2 s'],
      [4, '4 s'],
    ] as const) {
      seen.push(pid)
      process.kill(pid, 'SIGKILL')
      await dev.waitForLine(
        new RegExp(String.raw`redis \(pid ${pid}\) exited unexpectedly \(killed by SIGKILL\); restarting it in ${delay} \(restart ${restart} of at most 5`),
        20_000,
      )
      const back = restartedRedis()
      let isBack = false
      void back.then(
        () => (isBack = true),
        () => (isBack = true),
      )
      while (!isBack && !during) {
        const answer = await addTask(api)
        // 202: the API has not noticed yet, or Redis is back; 503: what it must say meanwhile.
        expect([202, 503]).toContain(answer.status)
        if (answer.status === 503) during = answer
      }
      pid = await back
      if (during) break
    }
    expect(during, 'a 503 from the API while Redis was down').toBeDefined()
    expect(during!.retryAfter).toBe('1')

    // 3. Back: the API (the same process all along) takes tasks again, and the earlier task is
    //    still known (the append-only file brought the queue back).
    expect(isAlive(apiPid)).toBe(true)
    const after = await waitFor(
      async () => {
        const answer = await addTask(api)
        expect([202, 503]).toContain(answer.status)
        return answer.status === 202 ? answer : false
      },
      {timeoutMs: 30_000, intervalMs: 200, what: 'the API to take tasks again'},
    )
    await completed(api, after.id!, 'a task after Redis came back')
    const earlier = await request(`${api}/api/tasks/${first.id}`)
    expect(earlier.status).toBe(200)
    expect((earlier.body as {status: string}).status).toBe('Completed')

    expect(dev.output()).not.toContain('stopping everything')
    expect(dev.child.exitCode).toBeNull()
    dev.child.kill('SIGINT')
    expect((await dev.exited).code).toBe(0)
  }, 240_000)
})
