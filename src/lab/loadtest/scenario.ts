/**
 * One iteration of the lab's scenario, as the original system's load tests did it:
 * `POST /api/tasks/add` (checks: 200, Content-Type exactly `application/json`, `success === true`,
 * a non-empty string `result.id`, `result.message === "Task queued."`); sleep 2 s; then
 * `GET /api/tasks/status/:id` every 1 s (checks: 200, exact content type, `success`,
 * `result.progress.status`/`progress`/`timeElapsed` are strings) until the status is `Completed`.
 *
 * With a task size (`--task-iterations N`) the add goes to the typed route instead,
 * `POST /api/tasks {"iterations": N}` (checks: 202, exact content type, a non-empty string `id`,
 * `status === "Queued"`); the polling is the same.
 *
 * Latency is measured from when a request was due (the iteration's scheduled start for the add, the
 * poll's slot on its 1 s grid for a status), and also from the actual send.
 */
import {onAbort} from './abort.js'
import type {HttpClient, HttpRequest, HttpResponse} from './http.js'
import type {RunMetrics} from './metrics.js'
import type {Step} from './records.js'

/** The scenario's timing; `--time-scale` shortens it with the profile. */
export interface ScenarioTiming {
  /** Pause between the add and the first poll (2 s). */
  sleepMs: number
  /** Interval between polls (1 s). */
  pollMs: number
}

const SCENARIO_TIMING: ScenarioTiming = {sleepMs: 2000, pollMs: 1000}

/** The scenario's timing at a time scale (polls never closer than 50 ms: the API is the system under test, not the poller). */
export function scaledTiming(timeScale: number): ScenarioTiming {
  return {sleepMs: Math.round(SCENARIO_TIMING.sleepMs * timeScale), pollMs: Math.max(50, Math.round(SCENARIO_TIMING.pollMs * timeScale))}
}

export interface IterationContext {
  http: HttpClient
  metrics: RunMetrics
  /** Aborts this iteration at once (hard stop, ramp-down). */
  signal: AbortSignal
  /** When this iteration was due (the clock of `now`). */
  scheduledAt: number
  now(): number
  timing: ScenarioTiming
  /** Task size for the typed route; undefined: the original route and the API's default size. */
  taskIterations?: number
}

export type IterationOutcome = 'completed' | 'failed' | 'interrupted'

const JSON_TYPE = 'application/json'
/** The original route's add: the same request every time, made once. */
const ADD: HttpRequest = {method: 'POST', path: '/api/tasks/add'}

/** Waits `ms`; rejects with the signal's reason when it aborts first (one shared listener: abort.ts). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const timer = setTimeout(
      () => {
        forget()
        resolve()
      },
      Math.max(0, ms),
    )
    const forget = onAbort(signal, () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  })
}

function parse(body: string): unknown {
  try {
    return JSON.parse(body)
  } catch {
    return undefined
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null

/**
 * The original API's answers as its serializer writes them: when a body is exactly this text, it
 * is valid JSON with these values, and the checks need no JSON.parse (which cost 8.6 µs per add and
 * poll pair here against 1.5 µs for these two expressions, the engine's largest own cost per
 * iteration). A string group admits no quote, backslash or control character, so its text is its
 * value. Any other body (spaces, escapes, other fields or order, not JSON at all) is parsed.
 */
const PLAIN = '([^"\\\\\\u0000-\\u001f]*)'
const ADD_REPLY = new RegExp(`^\\{"success":true,"result":\\{"id":"${PLAIN}","message":"Task queued\\."\\}\\}$`)
const STATUS_REPLY = new RegExp(`^\\{"success":true,"result":\\{"progress":\\{"status":"${PLAIN}","progress":"${PLAIN}","timeElapsed":"${PLAIN}"\\}\\}\\}$`)

/** What the add's checks read from the original route's answer. */
export function readAddReply(text: string): {success: unknown; id: unknown; message: unknown} {
  const plain = ADD_REPLY.exec(text)
  if (plain) return {success: true, id: plain[1], message: 'Task queued.'}
  const body = parse(text)
  const result = isObject(body) && isObject(body.result) ? body.result : undefined
  return {success: isObject(body) ? body.success : undefined, id: result?.id, message: result?.message}
}

/** What a poll's checks read from the original route's answer. */
export function readStatusReply(text: string): {success: unknown; progress?: Record<string, unknown>} {
  const plain = STATUS_REPLY.exec(text)
  if (plain) return {success: true, progress: {status: plain[1], progress: plain[2], timeElapsed: plain[3]}}
  const body = parse(text)
  const progress = isObject(body) && isObject(body.result) && isObject(body.result.progress) ? body.result.progress : undefined
  return {success: isObject(body) ? body.success : undefined, progress}
}

class Interrupted extends Error {}

/** Sends one request and records it; undefined on a transport failure (counted as an error). */
async function send(ctx: IterationContext, step: Step, dueAt: number, request: HttpRequest): Promise<HttpResponse | undefined> {
  const sentAt = ctx.now()
  try {
    const response = await ctx.http.request(request, ctx.signal)
    const end = ctx.now()
    ctx.metrics.request(step, end - dueAt, end - sentAt, response.status >= 500)
    return response
  } catch {
    if (ctx.signal.aborted) throw new Interrupted()
    const end = ctx.now()
    ctx.metrics.request(step, end - dueAt, end - sentAt, true)
    return undefined
  }
}

/** Runs one iteration; never rejects. */
export async function runIteration(ctx: IterationContext): Promise<IterationOutcome> {
  try {
    return await iterate(ctx)
  } catch (error) {
    if (error instanceof Interrupted || ctx.signal.aborted) return 'interrupted'
    throw error
  }
}

async function iterate(ctx: IterationContext): Promise<IterationOutcome> {
  const {metrics} = ctx
  const typed = ctx.taskIterations !== undefined
  const add = await send(
    ctx,
    'add',
    ctx.scheduledAt,
    typed ? {method: 'POST', path: '/api/tasks', body: JSON.stringify({iterations: ctx.taskIterations})} : ADD,
  )
  const queuedAt = ctx.now()
  let id: string | undefined
  if (!add) {
    metrics.check('add: response received', false)
    return 'failed'
  }
  metrics.check(`add: status is ${typed ? 202 : 200}`, add.status === (typed ? 202 : 200))
  metrics.check('add: content-type is application/json', add.contentType === JSON_TYPE)
  if (typed) {
    const body = parse(add.body)
    const ok = isObject(body) && typeof body.id === 'string' && body.id !== ''
    metrics.check('add: id is a non-empty string', ok)
    metrics.check('add: status is "Queued"', isObject(body) && body.status === 'Queued')
    if (ok) id = (body as {id: string}).id
  } else {
    const reply = readAddReply(add.body)
    metrics.check('add: success is true', reply.success === true)
    const ok = typeof reply.id === 'string' && reply.id !== ''
    metrics.check('add: result.id is a non-empty string', ok)
    metrics.check('add: result.message is "Task queued."', reply.message === 'Task queued.')
    if (ok) id = reply.id as string
  }
  if (id === undefined) return 'failed'
  metrics.taskQueued()

  // Polls sit on a grid (first at queued + 2 s, then every 1 s): a slow answer does not shift the
  // next poll's due time, so its latency shows up rather than being hidden by waiting for it.
  let due = queuedAt + ctx.timing.sleepMs
  for (;;) {
    await sleep(due - ctx.now(), ctx.signal)
    const poll = await send(ctx, 'status', due, {method: 'GET', path: `/api/tasks/status/${encodeURIComponent(id)}`})
    due += ctx.timing.pollMs
    if (!poll) continue // a transport error is counted; the task may still finish: keep polling
    const {success, progress} = readStatusReply(poll.body)
    metrics.check('status: status is 200', poll.status === 200)
    metrics.check('status: content-type is application/json', poll.contentType === JSON_TYPE)
    if (poll.status === 404) return 'failed' // the task is gone: polling longer cannot help
    metrics.check('status: success is true', success === true)
    metrics.check(
      'status: progress.status, progress, timeElapsed are strings',
      typeof progress?.status === 'string' && typeof progress.progress === 'string' && typeof progress.timeElapsed === 'string',
    )
    if (progress?.status === 'Completed') {
      const elapsed = Number(progress.timeElapsed)
      metrics.taskCompleted(ctx.now() - queuedAt, Number.isFinite(elapsed) ? elapsed * 1000 : undefined)
      return 'completed'
    }
    if (progress?.status === 'Failed' || progress?.status === 'Cancelled') {
      metrics.taskFailed()
      return 'failed'
    }
  }
}
