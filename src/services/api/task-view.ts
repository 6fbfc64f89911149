import {statusFromState, type TaskStatus} from '../shared/tasks.js'

/**
 * What the task store reads about one task in a single atomic Redis call. `progress` and
 * `elapsedMs` are already the monotonic values (see task-store.ts): they never go below what
 * an earlier read returned, even across a retry or stalled-job recovery.
 */
export interface TaskSnapshot {
  id: string
  /** BullMQ state: waiting, delayed, prioritized, active, completed or failed; or `cancelled` (removed by DELETE, see task-store.ts). */
  state: string
  /** Percent done, 0..100. */
  progress: number
  /** Milliseconds since processing began (0 while never started); frozen once finished. */
  elapsedMs: number
  /** Epoch ms the task was queued. */
  queuedAt: number
  /** Epoch ms the latest attempt started, if any. */
  startedAt?: number
  /** Epoch ms the task completed, finally failed or was cancelled. */
  finishedAt?: number
  /** Attempts that ended (failed or completed). */
  attemptsMade: number
  /** Attempts that started. */
  attemptsStarted: number
  /** Attempts allowed (BullMQ `attempts`). */
  maxAttempts: number
  /** Size the task was queued with. */
  iterations?: number
  failedReason?: string
  /** The worker's return value, if it completed. */
  result?: unknown
}

/** The original contract's progress object. */
export interface LegacyProgress {
  status: TaskStatus
  /** Percent with one decimal, e.g. "37.0". */
  progress: string
  /** Seconds with four decimals, e.g. "1.2345". */
  timeElapsed: string
}

/** The modern API's task resource (GET /api/tasks/:id). */
export interface TaskResource {
  id: string
  status: TaskStatus
  progress: number
  iterations: number | null
  queuedAt: string
  startedAt: string | null
  finishedAt: string | null
  elapsedSeconds: number
  attempts: number
  maxAttempts: number
  failedReason: string | null
  result: unknown
  links: {self: string}
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The task id a path parameter names, in the form the API hands out (lower-case `randomUUID()`),
 * or undefined when it cannot be a task (answered 404 without a Redis round trip). UUIDs are
 * case-insensitive (RFC 9562), so an upper-case copy of an id finds the same task.
 */
export function taskId(id: string): string | undefined {
  if (id.length !== 36 || !UUID.test(id)) return undefined
  return id.toLowerCase()
}

/** Path of a task in the modern API. */
export function taskPath(id: string): string {
  return `/api/tasks/${id}`
}

/** Percent as the original's string with one decimal, clamped to 0..100 ("37.0"). */
export function formatProgress(percent: number): string {
  const value = Number.isFinite(percent) ? Math.min(100, Math.max(0, percent)) : 0
  // Truncate rather than round so "99.96" never reads "100.0" before the task completes.
  // (+1e-9 absorbs binary fractions such as 2.3 * 10 = 22.999…)
  return (Math.floor(value * 10 + 1e-9) / 10).toFixed(1)
}

/** Milliseconds as the original's seconds string with four decimals ("1.2345"). */
export function formatElapsed(ms: number): string {
  const value = Number.isFinite(ms) && ms > 0 ? ms : 0
  return (value / 1000).toFixed(4)
}

/** The contract's status word for a snapshot (an unknown BullMQ state counts as queued). */
export function taskStatus(snapshot: Pick<TaskSnapshot, 'state'>): TaskStatus {
  return statusFromState(snapshot.state) ?? 'Queued'
}

/** The original `GET /api/tasks/status/:id` progress object. */
export function toLegacyProgress(snapshot: Pick<TaskSnapshot, 'state' | 'progress' | 'elapsedMs'>): LegacyProgress {
  return {
    status: taskStatus(snapshot),
    progress: formatProgress(snapshot.progress),
    timeElapsed: formatElapsed(snapshot.elapsedMs),
  }
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString())

/** The modern API's typed view of a snapshot. */
export function toTaskResource(snapshot: TaskSnapshot): TaskResource {
  const status = taskStatus(snapshot)
  return {
    id: snapshot.id,
    status,
    progress: Math.min(100, Math.max(0, snapshot.progress)),
    iterations: snapshot.iterations ?? null,
    queuedAt: new Date(snapshot.queuedAt).toISOString(),
    startedAt: iso(snapshot.startedAt),
    finishedAt: status === 'Completed' || status === 'Failed' || status === 'Cancelled' ? iso(snapshot.finishedAt) : null,
    elapsedSeconds: Math.round(Math.max(0, snapshot.elapsedMs)) / 1000,
    attempts: snapshot.attemptsStarted,
    maxAttempts: snapshot.maxAttempts,
    // A retried task keeps the reason of its last failed attempt; report it only once it failed for good.
    failedReason: status === 'Failed' ? (snapshot.failedReason ?? null) : null,
    result: status === 'Completed' ? (snapshot.result ?? null) : null,
    links: {self: taskPath(snapshot.id)},
  }
}
