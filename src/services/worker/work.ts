import {TASK_STEPS} from '../shared/tasks.js'

/**
 * Mixing rounds per iteration. The original system counted to 100 million; keeping that size
 * as the default (DEFAULT_TASK_ITERATIONS) while making one task last about 5 s of one core
 * needs 35 rounds of an integer hash per iteration (calibrated with
 * `npx tsx src/services/worker/calibrate.ts`).
 */
export const ROUNDS_PER_ITERATION = 35

/** Where every task's hash chain starts, so that a task's checksum depends only on its size. */
export const TASK_SEED = 0x9e37_79b9 | 0

/** How many iterations run between two looks at the clock (about 1 ms of work). */
const CHUNK = 16_384

/**
 * Runs `count` iterations of an integer hash (an LCG step followed by an xor-shift) from
 * `state` and returns the new state. Every round depends on the previous one and the result
 * leaves the function, so the JIT can neither skip nor fold the loop. Splitting `count` into
 * several calls gives the same result, which is what lets a task stop and resume anywhere.
 */
export function hashIterations(state: number, count: number): number {
  let x = state | 0
  // One flat loop over all rounds: V8 keeps a flat loop fast, while a nested fixed-count loop
  // was seen here to swing between 43 and 150 ns per iteration from one run to the next.
  const rounds = count * ROUNDS_PER_ITERATION
  for (let r = 0; r < rounds; r++) {
    x = (Math.imul(x, 0x19_66_0d) + 0x3c_6e_f3_5f) | 0
    x ^= x >>> 15
  }
  return x
}

/** Iterations done in `step` (1-based): the size split over TASK_STEPS steps, remainder spread evenly. */
export function iterationsInStep(iterations: number, step: number): number {
  // Kept in small-integer arithmetic: a size times a step overflows int32 and turns the hot
  // loop's bound into a double, which made V8's code for it two to three times slower.
  const base = Math.floor(iterations / TASK_STEPS)
  return step <= iterations % TASK_STEPS ? base + 1 : base
}

/**
 * The checksum a task of `iterations` ends with, computed synchronously. The worker's
 * interruptible, resumable run must arrive at exactly this value.
 */
export function taskChecksum(iterations: number): number {
  let state = TASK_SEED
  for (let step = 1; step <= TASK_STEPS; step++) state = hashIterations(state ^ step, iterationsInStep(iterations, step))
  return state
}

/** A point a task can resume from: `step` steps are done and the hash chain is at `state`. */
export interface TaskCheckpoint {
  step: number
  state: number
}

/** Raised when a task reaches its `failAt` step (the documented way to make a task fail on purpose). */
export class RequestedFailureError extends Error {
  constructor(readonly step: number) {
    super(`task failed on purpose at step ${step} of ${TASK_STEPS} (requested with failAt=${step})`)
    this.name = 'RequestedFailureError'
  }
}

/** How to run one task (one attempt, or the rest of one after a checkpoint). */
export interface RunTaskOptions {
  /** Total iterations across the TASK_STEPS steps. */
  iterations: number
  /** Throw RequestedFailureError when this step (1..TASK_STEPS) is about to start. */
  failAt?: number
  /** Continue from a checkpoint instead of starting at step 1. */
  from?: TaskCheckpoint
  /** When aborted, the task stops at the next step boundary and returns a checkpoint. */
  signal?: AbortSignal
  /** Called after each finished step; awaited, so a progress write back-pressures the loop. */
  onStep?: (step: number) => Promise<void> | void
  /**
   * Longest stretch of CPU work between two turns of the event loop. BullMQ renews the job's
   * lock from a timer on this same thread, so the loop must let timers and socket replies run.
   */
  sliceMs?: number
}

/** A task either completes (with its checksum) or stops at a step boundary with a checkpoint. */
export type RunTaskResult = {status: 'completed'; checksum: number; steps: number} | {status: 'interrupted'; checkpoint: TaskCheckpoint}

/** Where a step stands: the hash state and the iterations it still has to do. */
interface StepCursor {
  x: number
  remaining: number
}

/**
 * Works on a step until it is done or `sliceMs` has passed, then calls `done`.
 *
 * Why it is shaped like this (seen here with node --trace-opt on Node 24): when V8's mid-tier
 * compiler (Maglev) inlines a function holding the hash loop into its caller, the loop stays
 * in Maglev code, never reaches Turbofan and runs 3-4 times slower — from the third task on.
 * So the loop is written out here (not a call to hashIterations) and this function is only
 * ever called by setImmediate, a call site no compiler inlines into. The arithmetic is the
 * same as hashIterations; a unit test checks that both give the same checksum.
 */
function workSlice(cursor: StepCursor, sliceMs: number, done: () => void): void {
  const start = performance.now()
  let x = cursor.x
  let remaining = cursor.remaining
  while (remaining > 0) {
    const count = Math.min(remaining, CHUNK)
    const rounds = count * ROUNDS_PER_ITERATION
    for (let r = 0; r < rounds; r++) {
      x = (Math.imul(x, 0x19_66_0d) + 0x3c_6e_f3_5f) | 0
      x ^= x >>> 15
    }
    remaining -= count
    if (performance.now() - start >= sliceMs) break
  }
  cursor.x = x
  cursor.remaining = remaining
  done()
}

/** Runs one slice of a step on the next turn of the event loop (timers and I/O run first). */
const nextSlice = (cursor: StepCursor, sliceMs: number) => new Promise<void>((resolve) => setImmediate(workSlice, cursor, sliceMs, resolve))

/**
 * Runs a task in TASK_STEPS steps of genuine CPU work, yielding to the event loop at least
 * every `sliceMs` so that lock renewal, progress writes and signals keep flowing. A task of
 * 0 iterations (and no failAt) does no step at all: the benchmark's empty tasks stay cheap.
 */
export async function runTask(options: RunTaskOptions): Promise<RunTaskResult> {
  const {iterations, failAt, signal, onStep} = options
  const sliceMs = options.sliceMs ?? 20
  let state = options.from?.state ?? TASK_SEED
  let step = options.from?.step ?? 0
  if (iterations === 0 && failAt === undefined) return {status: 'completed', checksum: taskChecksum(0), steps: TASK_STEPS}

  while (step < TASK_STEPS) {
    if (signal?.aborted) return {status: 'interrupted', checkpoint: {step, state}}
    const next = step + 1
    if (failAt === next) throw new RequestedFailureError(next)
    const cursor: StepCursor = {x: state ^ next, remaining: iterationsInStep(iterations, next)}
    while (cursor.remaining > 0) await nextSlice(cursor, sliceMs)
    state = cursor.x
    step = next
    if (onStep) await onStep(step)
  }
  return {status: 'completed', checksum: state, steps: TASK_STEPS}
}
