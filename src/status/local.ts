/**
 * `keda-lab status --local [URL]`: the status of a `keda-lab dev` stack — the queue and connected
 * workers from its API (`/api/queue`, `/readyz`) and, when the run's state file is found
 * (dev-state.ts), its worker processes and the autoscaler's recent decisions.
 */
import {KedaLabError} from '../errors.js'
import {type DevState, findDevStates, loopbackOrigin} from './dev-state.js'
import {parseQueue} from './cluster.js'
import {type LocalStatusReport, STATUS_EXIT} from './model.js'

export interface LocalStatusOptions {
  /** The API's URL; undefined: the newest running dev stack found through its state file. */
  url?: string
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
  now?: () => Date
}

/** Normalises a URL given by the user, or explains what is wrong with it. */
export function parseLocalUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(/^[a-z]+:\/\//i.test(url) ? url : `http://${url}`)
  } catch {
    throw new KedaLabError(`--local ${url} is not a URL`, {hint: 'pass the API URL keda-lab dev printed, e.g. --local http://127.0.0.1:8000', exitCode: 2})
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new KedaLabError(`--local ${url}: only http:// and https:// URLs are supported`, {hint: 'e.g. --local http://127.0.0.1:8000', exitCode: 2})
  }
  return parsed.origin
}

async function get(url: string, timeoutMs: number): Promise<{status: number; body: string}> {
  const res = await fetch(url, {signal: AbortSignal.timeout(timeoutMs)})
  return {status: res.status, body: await res.text()}
}

/** Reads the dev stack; exit code 3 when none is running, 4 when its API does not answer. */
export async function collectLocalStatus(options: LocalStatusOptions): Promise<LocalStatusReport> {
  const env = options.env ?? process.env
  const now = options.now ?? (() => new Date())
  const timeoutMs = options.timeoutMs ?? 5000
  const states = findDevStates(env)
  let apiUrl: string
  let state: DevState | undefined
  if (options.url) {
    apiUrl = parseLocalUrl(options.url)
    // localhost and 127.0.0.1 name the same dev stack (its state file says 127.0.0.1).
    state = states.find((s) => loopbackOrigin(s.apiUrl) === loopbackOrigin(apiUrl))
  } else {
    state = states[0]
    if (state && states.length > 1) {
      // Two stacks: picking one silently would show the wrong queue half of the time.
      const list = states.map((s) => `${s.apiUrl} (pid ${s.pid}, started ${s.startedAt})`).join(', ')
      throw new KedaLabError(`${states.length} keda-lab dev stacks are running: ${list}`, {
        hint: `name the one to show: keda-lab status --local ${state.apiUrl}`,
        exitCode: 2,
      })
    }
    if (!state) {
      return {
        target: 'local',
        verdict: 'not-installed',
        reasons: ['no running keda-lab dev was found (start one with `keda-lab dev`, or pass --local URL)'],
        exitCode: STATUS_EXIT['not-installed'],
        apiUrl: '',
        checkedAt: now().toISOString(),
        apiReady: false,
        queue: {available: false, error: 'no dev stack'},
      }
    }
    apiUrl = state.apiUrl
  }

  let queueRes: {status: number; body: string}
  let ready: {status: number; body: string}
  try {
    ;[queueRes, ready] = await Promise.all([get(`${apiUrl}/api/queue`, timeoutMs), get(`${apiUrl}/readyz`, timeoutMs)])
  } catch (error) {
    const cause = (error as {cause?: {code?: string}}).cause?.code ?? (error as Error).message
    throw new KedaLabError(`Cannot reach the keda-lab API at ${apiUrl} (${cause})`, {
      hint: 'start the lab on this machine with `keda-lab dev` and pass the API URL it prints to --local',
      exitCode: STATUS_EXIT.unreachable,
    })
  }
  const queue = parseQueue({status: queueRes.status, headers: {}, body: queueRes.body})
  const apiReady = ready.status === 200
  const reasons: string[] = []
  if (!apiReady) reasons.push(`API not ready: /readyz answered HTTP ${ready.status} (Redis is not reachable)`)
  if (!queue.available) reasons.push(`Queue: cannot read /api/queue (${queue.error})`)
  const backlogWithoutWorkers = queue.available && (queue.waiting ?? 0) > 0 && queue.workers === 0 && !(state?.autoscale && state.autoscale.minWorkers === 0)
  if (backlogWithoutWorkers) reasons.push(`Queue: ${queue.waiting} task(s) waiting and no worker connected`)
  const verdict = reasons.length > 0 ? 'degraded' : 'healthy'
  return {
    target: 'local',
    verdict,
    reasons,
    exitCode: STATUS_EXIT[verdict],
    apiUrl,
    checkedAt: now().toISOString(),
    apiReady,
    queue,
    ...(state ? {dev: {pid: state.pid, startedAt: state.startedAt, workers: state.workers, autoscale: state.autoscale, decisions: state.decisions}} : {}),
  }
}
