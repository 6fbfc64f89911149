/**
 * The contract between the API (which enqueues) and the worker (which runs) a task.
 * One BullMQ queue (QUEUE_NAME, default "tasks"), one job name, job data below.
 */
export const TASK_JOB_NAME = 'long_task'

/** Every task runs in this many steps; progress is recorded after each one (1 % per step). */
export const TASK_STEPS = 100

/**
 * Default task size (total iterations). Calibrated by the worker's owner so that one task takes
 * about 5 s of one core on the development machine; the README states the measurement.
 */
export const DEFAULT_TASK_ITERATIONS = 100_000_000

/** Upper bound for a per-request size (and for TASK_ITERATIONS). */
export const MAX_TASK_ITERATIONS = 10 * DEFAULT_TASK_ITERATIONS

/** What the API stores in a BullMQ job's data. */
export interface TaskData {
  /** Total loop iterations across the 100 steps (the task's size). */
  iterations: number
  /** ISO time the API accepted the task. */
  queuedAt: string
}

/** The original system's four status words. */
export type TaskStatus = 'Queued' | 'Processing' | 'Completed' | 'Failed'

/** Maps a BullMQ job state to the contract's status word. */
export function statusFromState(state: string): TaskStatus | undefined {
  switch (state) {
    case 'waiting':
    case 'wait':
    case 'delayed':
    case 'prioritized':
    case 'waiting-children':
    case 'paused':
      return 'Queued'
    case 'active':
      return 'Processing'
    case 'completed':
      return 'Completed'
    case 'failed':
      return 'Failed'
    default:
      return undefined
  }
}
