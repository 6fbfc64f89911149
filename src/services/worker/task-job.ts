import {type Job, UnrecoverableError, WaitingError} from 'bullmq'
import type {Logger} from 'pino'

import {TASK_JOB_NAME, TASK_STEPS, type TaskData} from '../shared/tasks.js'
import type {WorkerConfig} from './config.js'
import type {TaskResult, WorkerMetrics} from './metrics.js'
import {InvalidTaskDataError, parseTaskData, RESUME_KEY, type TaskInput} from './task-data.js'
import {runTask, type TaskCheckpoint} from './work.js'

/** What a completed task returns (BullMQ stores it as the job's return value). */
export interface TaskOutcome {
  /** Final state of the task's hash chain: depends only on the size, so it proves the work was done. */
  checksum: number
  iterations: number
  steps: number
  /** Name of the worker that finished the task. */
  worker: string
  /** Step the final attempt started from (0 unless it resumed a handed-back task). */
  resumedFrom: number
  /** Time the final attempt ran, in milliseconds. */
  durationMs: number
}

/** The abort reason with which the worker interrupts its tasks to hand them back at shutdown. */
export const SHUTDOWN = 'shutdown'

/** What one task run shares with its worker. */
export interface TaskJobContext {
  config: Pick<WorkerConfig, 'defaultIterations' | 'name'>
  logger: Logger
  metrics: WorkerMetrics
  /** Ids of the tasks running in this worker now: the run adds its own and removes it when it ends. */
  running: Set<string>
  /** Called once per task handed back at shutdown. */
  onHandedBack(): void
}

/** The task a job asks for. An unknown job name or invalid data fails the job for good: no retry could fix it. */
export function taskInput(job: Pick<Job, 'name' | 'data'>, defaultIterations: number, log: Pick<Logger, 'error'>): TaskInput {
  if (job.name !== TASK_JOB_NAME) throw new UnrecoverableError(`unknown job name "${job.name}": this worker runs "${TASK_JOB_NAME}"`)
  try {
    return parseTaskData(job.data, defaultIterations)
  } catch (error) {
    if (error instanceof InvalidTaskDataError) {
      log.error({reason: error.message}, 'task rejected')
      throw new UnrecoverableError(error.message)
    }
    throw error
  }
}

/**
 * The onStep of a run: progress only moves forward, from what the job reported before (`reported`).
 * A task run again after a crash does not report steps it already reported; a client polling it
 * never sees the percentage go back. `current()` is the highest step reported so far.
 */
export function forwardProgress(reported: unknown, update: (step: number) => Promise<unknown>): {onStep(step: number): Promise<void>; current(): number} {
  let highest = typeof reported === 'number' ? reported : 0
  return {
    async onStep(step) {
      if (step > highest) {
        highest = step
        await update(step)
      }
    },
    current: () => highest,
  }
}

/**
 * Hands a task interrupted at shutdown back: a checkpoint in the job's data, then the job back in
 * `wait` on the side workers take from (BullMQ's moveJobFromActiveToWait RPUSHes, new jobs are
 * LPUSHed), so it is the next task any worker picks up.
 */
async function handBack(
  job: Job<TaskData, TaskOutcome>,
  token: string | undefined,
  iterations: number,
  checkpoint: TaskCheckpoint,
  log: Logger,
): Promise<void> {
  // Logged before the job is released: once it is back in `wait` another worker may start it
  // at once, and the execution record (these lines) must show this run ended first.
  log.info({step: checkpoint.step}, 'task interrupted for shutdown; handing it back')
  await job.updateData({...job.data, [RESUME_KEY]: {iterations, ...checkpoint}} as TaskData)
  await job.moveToWait(token)
}

/**
 * Runs one `long_task` job (BullMQ's processor): the task's steps with progress, its metrics and
 * log lines; at shutdown (`signal` aborted with SHUTDOWN) it hands the task back and throws
 * WaitingError, which tells BullMQ the job has been moved and must not be failed.
 */
export async function runTaskJob(
  job: Job<TaskData, TaskOutcome>,
  token: string | undefined,
  signal: AbortSignal | undefined,
  context: TaskJobContext,
): Promise<TaskOutcome> {
  const {config, metrics, running} = context
  // BullMQ gives every job it hands out an id; a job without one could not be tracked or handed back.
  const taskId = job.id
  if (taskId === undefined) throw new UnrecoverableError('a job without an id reached the worker')
  const log = context.logger.child({taskId})
  const input = taskInput(job, config.defaultIterations, log)
  const startedAt = performance.now()
  const record = (result: TaskResult) => {
    metrics.processed.inc({result})
    metrics.duration.observe({result}, (performance.now() - startedAt) / 1000)
  }
  if (job.attemptsStarted <= 1 && !input.resume) metrics.wait.observe(Math.max(0, Date.now() - job.timestamp) / 1000)
  running.add(taskId)
  metrics.busy.inc()
  const resumedFrom = input.resume?.step ?? 0
  log.info({attempt: job.attemptsStarted, iterations: input.iterations, resumedFrom}, 'task started')
  const progress = forwardProgress(job.progress, (step) => job.updateProgress(step))
  try {
    const result = await runTask({iterations: input.iterations, failAt: input.failAt, from: input.resume, signal, onStep: progress.onStep})
    if (result.status === 'interrupted') {
      if (signal?.reason !== SHUTDOWN) throw new Error(`task stopped at step ${result.checkpoint.step}: ${String(signal?.reason)}`)
      await handBack(job, token, input.iterations, result.checkpoint, log)
      context.onHandedBack()
      record('handed_back')
      log.warn({step: result.checkpoint.step}, 'task handed back at shutdown; another worker resumes it from this step')
      throw new WaitingError()
    }
    const durationMs = Math.round(performance.now() - startedAt)
    record('completed')
    log.info({durationMs, attempt: job.attemptsStarted, checksum: result.checksum}, 'task completed')
    return {checksum: result.checksum, iterations: input.iterations, steps: TASK_STEPS, worker: config.name, resumedFrom, durationMs}
  } catch (error) {
    if (error instanceof WaitingError) throw error
    record('failed')
    const reason = error instanceof Error ? error.message : String(error)
    log.error({reason, progress: progress.current(), attempt: job.attemptsStarted}, 'task failed')
    throw error
  } finally {
    running.delete(taskId)
    metrics.busy.dec()
  }
}
