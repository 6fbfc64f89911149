import type {AcceptedTask, Attempt} from './load.js'
import type {ServiceProcess} from './services.js'

/** One run of a task by one worker, from the worker's own log lines ("task started" … its end). */
export interface Execution {
  taskId: string
  worker: string
  start: number
  /** Completed, failed, handed back, or the moment the worker was killed (Infinity: still running). */
  end: number
  how: 'completed' | 'failed' | 'handed-back' | 'killed' | 'exited' | 'running'
}

/**
 * The execution record: every run of every task, read from the workers' JSON logs (what Loki
 * collects in the cluster). A worker SIGKILLed mid-task stopped computing when it died, so its
 * open run ends at the kill.
 */
export function executions(workers: ServiceProcess[]): Execution[] {
  const runs: Execution[] = []
  for (const worker of workers) {
    const open = new Map<string, Execution>()
    for (const line of worker.lines) {
      const taskId = line.taskId
      if (!taskId || !line.time) continue
      const time = Date.parse(line.time)
      if (line.msg === 'task started') {
        const run: Execution = {taskId, worker: worker.name, start: time, end: Infinity, how: 'running'}
        open.set(taskId, run)
        runs.push(run)
        continue
      }
      const run = open.get(taskId)
      if (!run) continue
      const how =
        line.msg === 'task completed'
          ? 'completed'
          : line.msg === 'task failed'
            ? 'failed'
            : line.msg?.startsWith('task interrupted for shutdown')
              ? 'handed-back'
              : undefined
      if (!how) continue
      run.end = time
      run.how = how
      open.delete(taskId)
    }
    for (const run of open.values()) {
      if (worker.killedAt !== undefined) {
        run.end = worker.killedAt
        run.how = 'killed'
      } else if (worker.exitedAt !== undefined) {
        run.end = worker.exitedAt
        run.how = 'exited'
      }
    }
  }
  return runs
}

/** Ids of tasks two of whose runs overlapped in time: the task ran twice at the same time. */
export function ranTwiceConcurrently(runs: Execution[]): string[] {
  const byTask = new Map<string, Execution[]>()
  for (const run of runs) byTask.set(run.taskId, [...(byTask.get(run.taskId) ?? []), run])
  const twice: string[] = []
  for (const [taskId, list] of byTask) {
    list.sort((a, b) => a.start - b.start)
    let furthestEnd = -Infinity
    for (const run of list) {
      if (run.start < furthestEnd) {
        twice.push(taskId)
        break
      }
      furthestEnd = Math.max(furthestEnd, run.end)
    }
  }
  return twice
}

/** Where an accepted task ended, as the API reports it (`GET /api/tasks/:id`). */
export type TaskEnd = {id: string; end: 'completed'} | {id: string; end: 'failed'; reason: string; onPurpose: boolean} | {id: string; end: 'lost'; why: string}

/**
 * Waits until every accepted task is Completed or Failed, or the deadline passes. An id the API
 * answers 404 for five polls in a row, or one still Queued/Processing at the deadline, is lost.
 */
export async function finalStates(apiUrl: string, tasks: AcceptedTask[], deadline: number): Promise<TaskEnd[]> {
  const ends = new Map<string, TaskEnd>()
  const lastSeen = new Map<string, string>()
  const notFound = new Map<string, number>()
  let pending = [...tasks]
  while (pending.length > 0) {
    const next: AcceptedTask[] = []
    for (let i = 0; i < pending.length; i += 16) {
      await Promise.all(
        pending.slice(i, i + 16).map(async (task) => {
          try {
            const response = await fetch(`${apiUrl}/api/tasks/${task.id}`, {signal: AbortSignal.timeout(5000)})
            const body = (await response.json()) as {status?: string; failedReason?: string | null}
            if (response.status === 200 && body.status === 'Completed') return void ends.set(task.id, {id: task.id, end: 'completed'})
            if (response.status === 200 && body.status === 'Failed') {
              const reason = body.failedReason ?? '(no reason)'
              const onPurpose = task.failAt !== undefined && reason.includes(`failed on purpose at step ${task.failAt}`)
              return void ends.set(task.id, {id: task.id, end: 'failed', reason, onPurpose})
            }
            if (response.status === 404) {
              // Nothing brings a job hash back: after a few answers in a row (not one blip) it is lost.
              const count = (notFound.get(task.id) ?? 0) + 1
              notFound.set(task.id, count)
              if (count >= 5) return void ends.set(task.id, {id: task.id, end: 'lost', why: 'not found (404)'})
            } else notFound.delete(task.id)
            lastSeen.set(task.id, response.status === 404 ? 'not found (404)' : `${response.status} ${body.status ?? ''}`.trim())
          } catch (error) {
            lastSeen.set(task.id, String((error as Error).name))
          }
          next.push(task)
        }),
      )
    }
    pending = next
    if (pending.length === 0 || Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  for (const task of pending) ends.set(task.id, {id: task.id, end: 'lost', why: lastSeen.get(task.id) ?? 'unknown'})
  return tasks.map((task) => ends.get(task.id)!)
}

/**
 * When the system was whole again after a fault that began at `faultAt` and whose injection ended
 * at `injectedAt`: the API answers right again (the first good answer after its last failure), the
 * tasks that were running when the fault hit have ended, and a task started after the fault has
 * completed. The queue's backlog is not counted: that is throughput, not recovery.
 */
export function recoveredAt(options: {faultAt: number; injectedAt: number; attempts: Attempt[]; runs: Execution[]}): number {
  const {faultAt, injectedAt, attempts, runs} = options
  const end = (a: Attempt) => a.at + a.ms
  const lastFailure = Math.max(faultAt, ...attempts.filter((a) => !a.ok && a.at >= faultAt).map(end))
  const apiBack = Math.min(...attempts.filter((a) => a.ok && end(a) > lastFailure).map(end))
  // Runs the fault hit: in progress when it began, or cut short (killed, handed back) after it.
  const cut = (r: Execution) => r.how === 'killed' || r.how === 'handed-back' || r.how === 'exited'
  const hit = new Set(runs.filter((r) => (r.start <= faultAt && r.end > faultAt) || (cut(r) && r.end >= faultAt)).map((r) => r.taskId))
  const finalEnd = (taskId: string) => Math.max(...runs.filter((r) => r.taskId === taskId && (r.how === 'completed' || r.how === 'failed')).map((r) => r.end))
  const interruptedDone = Math.max(faultAt, ...[...hit].map(finalEnd))
  const freshDone = Math.min(...runs.filter((r) => r.start >= injectedAt && r.how === 'completed').map((r) => r.end))
  return Math.max(lastFailure === faultAt ? faultAt : apiBack, interruptedDone, freshDone)
}
