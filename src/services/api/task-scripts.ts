import type {TaskData} from '../shared/tasks.js'
import type {TaskSnapshot} from './task-view.js'

/**
 * One atomic read of a task, so that state, progress and timestamps belong together, in one
 * round trip (the status route is the hot path a client polls).
 *
 * Monotonicity: a retry or a stalled-job recovery restarts a task (BullMQ moves it back to
 * `wait`, the next attempt overwrites `processedOn` and reports progress from 0 again), and
 * the workers' and API replicas' clocks differ a little. So the script keeps, per task, the
 * highest progress and elapsed time it has returned (a small hash with a TTL) and never returns
 * less: elapsed counts from the first start and keeps running across a retry; progress holds
 * its high-water mark until the new attempt passes it.
 *
 * The state test reads the job hash first and asks the queue's sets only what it cannot tell:
 * BullMQ sets `processedOn` in the same script that moves a job to active, and `finishedOn` only
 * when it completes or fails for good. So a job never started is queued (waiting, delayed or
 * prioritized: all "Queued") with no further command, a finished one needs one ZSCORE, and a
 * started one is active when its lock (or, while a stalled job waits for recovery, the short
 * active list) holds it, else waiting for a retry. Unlike BullMQ's getState it never scans the
 * O(n) wait list, so polling stays cheap however long the queue is.
 *
 * A cancelled task's job is gone (BullMQ removes it); cancel() leaves its queued time, data and
 * options in the high-water hash (fields c = cancelled at, t, d, o), read only when the job is
 * missing, so that the task reads `cancelled` rather than unknown until its retention ends.
 *
 * The script reads a batch of tasks (see batch.ts: the polls of one event-loop round share one
 * call); each task's read is the same as alone.
 * KEYS: 1 completed, 2 failed, 3 active, then per task: job hash, job lock, high-water hash
 * ARGV: 1 now (ms), 2 high-water TTL (ms), then per task: job id, "1" for a brief reply (what the
 * original status route polls: "<state> <progress> <elapsed>", one string to decode instead of twelve)
 * Reply: per task, false (unknown), the brief string, or the fields.
 */
export const TASK_VIEW_LUA = `
local now = tonumber(ARGV[1])
local function view(jobKey, lockKey, hwKey, id, brief)
  local f
  if brief then
    f = redis.call('HMGET', jobKey, 'timestamp', 'processedOn', 'finishedOn', 'progress')
  else
    f = redis.call('HMGET', jobKey, 'timestamp', 'processedOn', 'finishedOn', 'progress', 'atm', 'ats', 'failedReason', 'returnvalue', 'data', 'opts')
  end
  if not f[1] then
    local c = redis.call('HMGET', hwKey, 'c', 't', 'd', 'o')
    if not c[1] then return false end
    if brief then return 'cancelled 0 0' end
    return {'cancelled', '0', '0', c[2] or '0', '', c[1], '0', '0', '', '', c[3] or '', c[4] or ''}
  end
  local processedOn = tonumber(f[2])
  local finishedOn = tonumber(f[3])
  local state = 'waiting'
  if finishedOn and redis.call('ZSCORE', KEYS[1], id) then state = 'completed'
  elseif finishedOn and redis.call('ZSCORE', KEYS[2], id) then state = 'failed'
  elseif processedOn and (redis.call('EXISTS', lockKey) == 1 or redis.call('LPOS', KEYS[3], id)) then state = 'active'
  end
  local finished = state == 'completed' or state == 'failed'
  local progress = tonumber(f[4]) or 0
  if progress < 0 then progress = 0 end
  if progress > 100 then progress = 100 end
  if state == 'completed' then progress = 100 end
  local elapsed = 0
  if processedOn then
    local stop = now
    if finished and finishedOn then stop = finishedOn end
    elapsed = math.max(0, stop - processedOn)
    local hw = redis.call('HMGET', hwKey, 'p', 'e', 'at')
    local hp, he, hat = tonumber(hw[1]), tonumber(hw[2]), tonumber(hw[3])
    if hp and hp > progress then progress = hp end
    if he then
      if finished then
        elapsed = math.max(elapsed, he)
      else
        elapsed = math.max(elapsed, he + math.max(0, now - hat))
      end
    end
    if not finished then
      redis.call('HSET', hwKey, 'p', progress, 'e', elapsed, 'at', now)
      redis.call('PEXPIRE', hwKey, ARGV[2])
    end
  end
  if brief then return state .. ' ' .. progress .. ' ' .. elapsed end
  return {state, tostring(progress), tostring(elapsed), f[1], f[2] or '', f[3] or '', f[5] or '0', f[6] or '0', f[7] or '', f[8] or '', f[9] or '', f[10] or ''}
end
local replies = {}
for i = 1, (#KEYS - 3) / 3 do
  local k = 3 * i + 1
  replies[i] = view(KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[2 * i + 1], ARGV[2 * i + 2] == '1')
end
return replies
`

/**
 * Adds a batch of tasks as BullMQ jobs, writing exactly what BullMQ's own add (its
 * addStandardJob script, for a job with an id, no parent, no delay, no priority) writes: the job
 * hash, the "added" and "waiting" events, the id counter, the job id on the wait list and the
 * marker that wakes the workers (none while the queue is paused or at its global concurrency).
 * queue.add costs twice the CPU per task on both sides (it builds a Job object, packs its
 * arguments with msgpack for a script that handles every kind of job), and it takes one task per
 * call. test/integration/task-store-bullmq.test.ts pins that both leave Redis in the same state,
 * so a BullMQ upgrade that changes its layout fails there.
 *
 * Nothing is written if any id exists already (BullMQ would answer that job instead of the task).
 * KEYS: 1 wait, 2 meta, 3 id counter, 4 active, 5 events, 6 marker, then per task: job hash
 * ARGV: 1 job name, then per task: job id, data (JSON), opts (JSON), timestamp (ms)
 * Reply: the number of tasks added, or an error naming the existing id.
 */
export const ADD_TASKS_LUA = `
local n = #KEYS - 6
for i = 1, n do
  if redis.call('EXISTS', KEYS[6 + i]) == 1 then return redis.error_reply('job ' .. ARGV[4 * i - 2] .. ' exists already') end
end
local maxEvents = redis.call('HGET', KEYS[2], 'opts.maxLenEvents')
if not maxEvents then
  maxEvents = 10000
  redis.call('HSET', KEYS[2], 'opts.maxLenEvents', maxEvents)
end
local meta = redis.call('HMGET', KEYS[2], 'paused', 'concurrency')
local held = meta[1] ~= false
if not held and meta[2] then held = redis.call('LLEN', KEYS[4]) >= tonumber(meta[2]) end
for i = 1, n do
  local id = ARGV[4 * i - 2]
  redis.call('INCR', KEYS[3])
  redis.call('HMSET', KEYS[6 + i], 'name', ARGV[1], 'data', ARGV[4 * i - 1], 'opts', ARGV[4 * i], 'timestamp', ARGV[4 * i + 1], 'delay', 0, 'priority', 0)
  redis.call('XADD', KEYS[5], '*', 'event', 'added', 'jobId', id, 'name', ARGV[1])
  redis.call('LPUSH', KEYS[1], id)
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id)
end
if not held then redis.call('ZADD', KEYS[6], 0, '0') end
return n
`

/** One task's reply of TASK_VIEW_LUA: its fields, or null for an unknown task. */
export type TaskViewReply = [string, string, string, string, string, string, string, string, string, string, string, string] | null
/** One task's brief reply of TASK_VIEW_LUA: "<state> <progress> <elapsed>", or null for an unknown task. */
export type BriefTaskViewReply = string | null

/** The keys and arguments of one script call, in the order the script reads them. */
export interface ScriptCall {
  keys: string[]
  args: (string | number)[]
}

/** Where the task view keeps a task's high-water marks and cancel tombstone, and for how long. */
export interface HighWater {
  key(id: string): string
  ttlMs: number
}

/**
 * The TASK_VIEW_LUA call for a batch of reads. `keyOf` names a key of the queue (BullMQ's
 * queue.toKey: a state such as `completed`, or a job id).
 */
export function taskViewCall(keyOf: (type: string) => string, reads: {id: string; brief: boolean}[], now: number, highWater: HighWater): ScriptCall {
  const keys = [keyOf('completed'), keyOf('failed'), keyOf('active')]
  const args: (string | number)[] = [now, highWater.ttlMs]
  for (const {id, brief} of reads) {
    const jobKey = keyOf(id)
    keys.push(jobKey, `${jobKey}:lock`, highWater.key(id))
    args.push(id, brief ? '1' : '0')
  }
  return {keys, args}
}

/** The ADD_TASKS_LUA call for a batch of tasks queued at `now`; `jobOptions` is what BullMQ stores as each job's options. */
export function addTasksCall(
  keyOf: (type: string) => string,
  jobName: string,
  tasks: {id: string; data: TaskData}[],
  now: number,
  jobOptions: (id: string) => string,
): ScriptCall {
  const keys = [keyOf('wait'), keyOf('meta'), keyOf('id'), keyOf('active'), keyOf('events'), keyOf('marker')]
  const args: (string | number)[] = [jobName]
  for (const {id, data} of tasks) {
    keys.push(keyOf(id))
    args.push(id, JSON.stringify(data), jobOptions(id), now)
  }
  return {keys, args}
}

/**
 * What BullMQ stores as a task's job options: the same for every task but its id (a UUID, which
 * needs no JSON escaping), so the text around the id is serialized once.
 */
export function jobOptionsJson(attempts: number, retentionSeconds: number): (id: string) => string {
  const [head, tail] = JSON.stringify({
    attempts,
    // A retry waits 1 s, 2 s, 4 s…: an immediate one would hit the same transient cause.
    backoff: {delay: 1000, type: 'exponential'},
    jobId: '{id}',
    removeOnComplete: {age: retentionSeconds},
    removeOnFail: {age: retentionSeconds},
  }).split('{id}') as [string, string]
  return (id) => head + id + tail
}

function parseJson(text: string): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const optionalNumber = (text: string): number | undefined => (text === '' ? undefined : Number(text))

/** Turns the script's reply into a TaskSnapshot (exported for tests). */
export function snapshotFromReply(id: string, reply: NonNullable<TaskViewReply>): TaskSnapshot {
  const [state, progress, elapsed, timestamp, processedOn, finishedOn, atm, ats, failedReason, returnvalue, data, opts] = reply
  const taskData = parseJson(data) as Partial<TaskData> | undefined
  const jobOpts = parseJson(opts) as {attempts?: number} | undefined
  return {
    id,
    state,
    progress: Number(progress),
    elapsedMs: Number(elapsed),
    queuedAt: Number(timestamp),
    startedAt: optionalNumber(processedOn),
    finishedAt: optionalNumber(finishedOn),
    attemptsMade: Number(atm) || 0,
    attemptsStarted: Number(ats) || 0,
    maxAttempts: typeof jobOpts?.attempts === 'number' ? jobOpts.attempts : 1,
    iterations: typeof taskData?.iterations === 'number' ? taskData.iterations : undefined,
    failedReason: failedReason || undefined,
    result: parseJson(returnvalue),
  }
}
