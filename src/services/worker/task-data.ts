import {z} from 'zod'

import {MAX_TASK_ITERATIONS, TASK_STEPS} from '../shared/tasks.js'
import type {TaskCheckpoint} from './work.js'

/**
 * Key under which a worker that hands a task back at shutdown leaves its checkpoint in the
 * job's data, so that the next worker resumes where it stopped (same checksum, no lost work).
 */
export const RESUME_KEY = 'resume'

/** What the worker needs from a job's data, validated. */
export interface TaskInput {
  iterations: number
  failAt?: number
  /** Present when an earlier worker handed the task back at shutdown. */
  resume?: TaskCheckpoint
}

const int32 = z
  .number()
  .int()
  .min(-(2 ** 31))
  .max(2 ** 31 - 1)

const taskDataSchema = z.looseObject({
  iterations: z
    .number({error: `iterations must be a number from 0 to ${MAX_TASK_ITERATIONS}`})
    .int('iterations must be a whole number')
    .min(0, 'iterations must not be negative')
    .max(MAX_TASK_ITERATIONS, `iterations must be at most ${MAX_TASK_ITERATIONS}`)
    .optional(),
  failAt: z
    .number({error: `failAt must be a step number from 1 to ${TASK_STEPS}`})
    .int('failAt must be a whole step number')
    .min(1, `failAt must be a step from 1 to ${TASK_STEPS}`)
    .max(TASK_STEPS, `failAt must be a step from 1 to ${TASK_STEPS}`)
    .optional(),
  [RESUME_KEY]: z.object({iterations: z.number().int().min(0), step: z.number().int().min(0).max(TASK_STEPS), state: int32}).optional(),
})

/** Thrown for job data the worker cannot run; the worker fails such a job without retrying it. */
export class InvalidTaskDataError extends Error {
  constructor(message: string) {
    super(`invalid task data: ${message}`)
    this.name = 'InvalidTaskDataError'
  }
}

/**
 * Validates a job's data. A job without `iterations` (e.g. enqueued by an older producer with
 * no data) runs `defaultIterations`. A checkpoint counts only if it was taken for the same size.
 */
export function parseTaskData(data: unknown, defaultIterations: number): TaskInput {
  const result = taskDataSchema.safeParse(data ?? {})
  if (!result.success) {
    throw new InvalidTaskDataError(result.error.issues[0]?.message ?? 'invalid task data')
  }
  const {iterations = defaultIterations, failAt} = result.data
  const checkpoint = result.data[RESUME_KEY]
  const resume = checkpoint && checkpoint.iterations === iterations ? {step: checkpoint.step, state: checkpoint.state} : undefined
  return {iterations, failAt, resume}
}
