/**
 * One side of the load-engine figures, in a process of its own so that its CPU time is its own:
 *
 *   MODE=autocannon  autocannon, CONNECTIONS connections, SECONDS s of GET / (the baseline)
 *   MODE=engine      keda-lab's engine's HTTP core as a run drives it: the client of
 *                    src/lab/loadtest/http.ts (one pool, CONNECTIONS connections) with CONNECTIONS
 *                    closed loops, each request's latency recorded in the engine's HDR histogram
 *   MODE=undici      the same loops on undici's Pool.dispatch with the controller-style handler
 *                    (the engine's client until it measured 2× autocannon's CPU per request)
 *   MODE=open        the whole engine (runLoadTest) on a constant arrival rate of RATE/s for
 *                    SECONDS s of the lab's scenario (add, a 2 ms pause, one poll): its summary and
 *                    per-second records
 *   MODE=open-local  the same with no network: an in-process client answers every request with the
 *                    API's usual body at the next turn of the event loop, so what is left is the
 *                    engine's own schedule, scenario and metrics (the target's share of the machine
 *                    taken out)
 *
 * Prints one JSON line: requests, CPU µs of this process, wall seconds (and the summary for open).
 */
import autocannon from 'autocannon'
import {type Dispatcher, Pool} from 'undici'

import {createHistogram} from '../src/lab/loadtest/histograms.js'
import {createHttpClient, type HttpClient} from '../src/lab/loadtest/http.js'
import type {SecondRecord} from '../src/lab/loadtest/records.js'
import {runLoadTest} from '../src/lab/loadtest/run.js'

const url = process.env.URL ?? ''
const connections = Number(process.env.CONNECTIONS ?? 50)
const seconds = Number(process.env.SECONDS ?? 5)
const mode = process.env.MODE

const cpuBefore = process.cpuUsage()
const started = performance.now()
const cpu = () => {
  const c = process.cpuUsage(cpuBefore)
  return c.user + c.system
}

if (mode === 'autocannon') {
  const r = await autocannon({url: `${url}/`, connections, duration: seconds})
  process.stdout.write(
    `${JSON.stringify({requests: r.requests.total, errors: r.errors + r.timeouts + r.non2xx, cpuUs: cpu(), wallS: (performance.now() - started) / 1000, p99: r.latency.p99})}\n`,
  )
} else if (mode === 'engine' || mode === 'undici') {
  const http = mode === 'engine' ? createHttpClient({url, connections}) : undiciClient(url, connections)
  const histogram = createHistogram()
  const until = performance.now() + seconds * 1000
  let requests = 0
  let errors = 0
  const loop = async () => {
    while (performance.now() < until) {
      const sent = performance.now()
      try {
        const res = await http.request({method: 'GET', path: '/'})
        if (res.status !== 200) errors++
      } catch {
        errors++
      }
      histogram.record(performance.now() - sent)
      requests++
    }
  }
  await Promise.all(Array.from({length: connections}, loop))
  await http.close()
  process.stdout.write(`${JSON.stringify({requests, errors, cpuUs: cpu(), wallS: (performance.now() - started) / 1000, p99: histogram.stats().p99})}\n`)
} else if (mode === 'open' || mode === 'open-local') {
  const rate = Number(process.env.RATE)
  const records: SecondRecord[] = []
  const summary = await runLoadTest(
    {
      profile: 'bench',
      executor: {type: 'constant-arrival-rate', rate, durationMs: seconds * 1000, maxVUs: 2000, gracefulStopMs: 5000},
      target: {url, source: 'flag', reason: 'bench'},
      thresholds: [],
      // The scenario's 2 s pause becomes 2 ms (polls stay ≥ 50 ms apart; the first one says Completed).
      timeScale: 0.001,
      version: 'bench',
    },
    {onRecord: (r) => records.push(r), ...(mode === 'open-local' ? {http: inProcessApi()} : {})},
  )
  const {histograms: _, ...rest} = summary
  process.stdout.write(`${JSON.stringify({summary: rest, perSecond: records.map((r) => r.iterationsStarted), cpuUs: cpu()})}\n`)
} else {
  throw new Error(`MODE must be autocannon, engine, undici, open or open-local, got ${mode}`)
}

/** undici's Pool.dispatch behind the engine's request(): the fastest undici way measured here. */
function undiciClient(target: string, size: number): {request(r: {method: 'GET'; path: string}): Promise<{status: number}>; close(): Promise<void>} {
  const pool = new Pool(target, {connections: size, pipelining: 1})
  return {
    request: (r) =>
      new Promise((resolve, reject) => {
        let status = 0
        const chunks: Buffer[] = []
        const handler: Dispatcher.DispatchHandler = {
          onRequestStart() {},
          onResponseStart(_c, statusCode) {
            status = statusCode
          },
          onResponseData(_c, chunk) {
            chunks.push(chunk)
          },
          onResponseEnd() {
            Buffer.concat(chunks).toString('utf8')
            resolve({status})
          },
          onResponseError(_c, error) {
            reject(error)
          },
        }
        pool.dispatch({path: r.path, method: r.method}, handler)
      }),
    close: () => pool.destroy(),
  }
}

/** The API's usual answers, given at the next turn of the event loop, without a socket. */
function inProcessApi(): HttpClient {
  const added = JSON.stringify({success: true, result: {id: '1', message: 'Task queued.'}})
  const done = JSON.stringify({success: true, result: {progress: {status: 'Completed', progress: '100.0', timeElapsed: '0.0010'}}})
  return {
    request: (r) =>
      new Promise((resolve) => setImmediate(() => resolve({status: 200, contentType: 'application/json', body: r.method === 'POST' ? added : done}))),
    close: async () => {},
  }
}
