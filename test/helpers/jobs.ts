import type {Queue} from 'bullmq'

import {type NotYet, notYet} from './processes.js'

/**
 * A `waitFor` check for a BullMQ job: the job once it has completed, "not yet" while it has not
 * finished, and an error at once when it failed or disappeared (a failure is an answer, not a
 * reason to keep waiting until the deadline).
 */
export async function completedJob<Q extends Queue>(queue: Q, id: string): Promise<NonNullable<Awaited<ReturnType<Q['getJob']>>> | NotYet> {
  const job = (await queue.getJob(id)) as Awaited<ReturnType<Q['getJob']>>
  if (!job) throw new Error(`job ${id} is gone from queue ${queue.name}`)
  if (job.failedReason) throw new Error(`job ${id} failed: ${job.failedReason}`)
  return job.finishedOn ? job : notYet(`job ${id} is ${await job.getState()}`)
}
