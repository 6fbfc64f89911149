/**
 * Figures that used to be time limits inside tests (test/unit/worker-work.test.ts,
 * test/integration/worker-lock.test.ts): how long the worker's event loop goes without a turn
 * while a task computes, the figure that decides whether BullMQ can renew a job's lock in time.
 * The tests assert the behaviour (a timer fires during every tenth of a task; a task outlives
 * its lock without stalling); this module measures, for `npm run bench` (bench/run.ts).
 *
 * Run alone: `npx tsx bench/worker-event-loop.ts`.
 */
import {monitorEventLoopDelay} from 'node:perf_hooks'

import {runTask} from '../src/services/worker/work.js'

/** A row of the bench table (what bench/run.ts prints; this file's rows are some of them). */
export interface BenchRow {
  measure: string
  value: string
  baseline: string
  ratio: string
  target: string
  pass?: boolean
}

/** The short lock the lock test's control uses: a gap of a quarter of it leaves renewal plenty of time. */
const SHORT_LOCK_MS = 600
const ITERATIONS = Number(process.env.BENCH_LOOP_ITERATIONS ?? 10_000_000)

/**
 * Runs one task of `iterations` in this process with the default slice and reports the event
 * loop's delay (perf_hooks histogram, 1 ms resolution) and the longest gap a 1 ms timer saw.
 */
export async function measureWorkerEventLoop(iterations = ITERATIONS): Promise<BenchRow[]> {
  const histogram = monitorEventLoopDelay({resolution: 1})
  let last = performance.now()
  let worstGap = 0
  const timer = setInterval(() => {
    const now = performance.now()
    worstGap = Math.max(worstGap, now - last)
    last = now
  }, 1)
  const started = performance.now()
  histogram.enable()
  try {
    await runTask({iterations})
  } finally {
    histogram.disable()
    clearInterval(timer)
  }
  const elapsed = performance.now() - started
  const ms = (ns: number) => ns / 1e6
  const fmt = (n: number) => n.toFixed(1)
  return [
    {
      measure: `Worker event-loop gap during a task of ${iterations.toLocaleString('en-US')} iterations (ms, worst)`,
      value: fmt(worstGap),
      baseline: `task ${fmt(elapsed)} ms`,
      ratio: '',
      target: `< ${SHORT_LOCK_MS / 4} ms (¼ of a ${SHORT_LOCK_MS} ms lock)`,
      pass: worstGap < SHORT_LOCK_MS / 4,
    },
    {
      measure: '  event-loop delay p99 (ms)',
      value: fmt(ms(histogram.percentile(99))),
      baseline: `p50 ${fmt(ms(histogram.percentile(50)))}, max ${fmt(ms(histogram.max))}`,
      ratio: '',
      target: '(for scale)',
    },
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await measureWorkerEventLoop()) console.log(`${row.measure}: ${row.value} (${row.baseline}; target ${row.target})`)
}
