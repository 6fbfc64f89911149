/**
 * The contract between the API (which enqueues) and the worker (which runs) a task.
 * One BullMQ queue (QUEUE_NAME, default "tasks"), one job name, job data below.
 */
export const TASK_JOB_NAME = 'long_task'

/** Every task runs in this many steps; progress is recorded after each one (1 % per step). */
export const TASK_STEPS = 100

/**
 * Default task size (total iterations), 100 million like the original's count. One iteration is
 * 35 rounds of an integer hash (src/services/worker/work.ts), calibrated so that one task of this
 * size takes about 5 s of one core on the development machine (minimum CPU time of several runs
 * of `npx tsx src/services/worker/calibrate.ts`, 2026-11-28: 5.06 s CPU, 50.6 ns per iteration).
 */
export const DEFAULT_TASK_ITERATIONS = 100_000_000

/**
 * Upper bound for a per-request size (and for TASK_ITERATIONS): about 50 s of one core. It also
 * keeps every size below 2^31, so the worker's loop bounds stay small integers.
 */
export const MAX_TASK_ITERATIONS = 10 * DEFAULT_TASK_ITERATIONS

/** What the API stores in a BullMQ job's data. */
export interface TaskData {
  /** Total loop iterations across the 100 steps (the task's size). */
  iterations: number
  /** ISO time the API accepted the task. */
  queuedAt: string
  /**
   * Optional, for demos and tests: the task throws when it reaches this step (1..TASK_STEPS), after
   * recording the progress of the steps before it, so it ends Failed with a known reason and progress.
   */
  failAt?: number
}

/** The original system's four status words, and `Cancelled` for a task removed before a worker took it. */
export type TaskStatus = 'Queued' | 'Processing' | 'Completed' | 'Failed' | 'Cancelled'

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
    case 'cancelled':
      return 'Cancelled'
    default:
      return undefined
  }
}
