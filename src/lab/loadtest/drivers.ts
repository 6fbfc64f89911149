/**
 * The executors' drivers: they start the iterations of an executor (executors.ts) on a run's state
 * (run-state.ts). Each returns a `Load`: `starting` settles when no more iterations will start,
 * `finished` when the last one ended. The closed model (shared/per-VU iterations, constant VUs),
 * ramping VUs, and the open model (constant/ramping arrival rate).
 */
import {setImmediate as nextTurn} from 'node:timers/promises'

import {onAbort} from './abort.js'
import {type ExecutorConfig, isOpenModel, type RampingVus, type Shard, vusAt} from './executors.js'
import type {RunState} from './run-state.js'
import {arrivalSchedule} from './schedule.js'
import {aborted, deferred, pause} from './waits.js'

/** A driven load: `starting` settles when no more iterations will start; `finished` when the last one ended. */
export interface Load {
  starting: Promise<void>
  finished: Promise<void>
}

type OpenModel = Extract<ExecutorConfig, {type: 'constant-arrival-rate' | 'ramping-arrival-rate'}>
type ClosedModel = Exclude<ExecutorConfig, OpenModel>

/** Far behind schedule, the open model starts iterations for at most this long before letting I/O in. */
const BURST_MS = 5

/** Starts `config`'s load (this shard's slice of it) on `state`. */
export function startLoad(state: RunState, config: ExecutorConfig, shard: Shard): Load {
  return isOpenModel(config) ? runOpen(state, config, shard) : runClosed(state, config)
}

/** The closed model: each VU runs one iteration after the other while there are iterations left. */
function runClosed(state: RunState, c: ClosedModel): Load {
  const stop = state.stopStarting.signal
  const {metrics} = state
  const vuLoop = async (more: () => boolean) => {
    state.activeVUs++
    try {
      while (!stop.aborted && more()) await state.iterate(state.now())
    } finally {
      state.activeVUs--
    }
  }
  if (c.type === 'ramping-vus') return runRamping(state, c)
  let loops: Promise<void>[]
  if (c.type === 'shared-iterations') {
    let left = c.iterations
    const take = () => {
      if (left <= 0) return false
      left--
      metrics.iterationStarted()
      return true
    }
    loops = Array.from({length: Math.min(c.vus, c.iterations)}, () => vuLoop(take))
  } else if (c.type === 'per-vu-iterations') {
    loops = Array.from({length: c.vus}, () => {
      let left = c.iterations
      return vuLoop(() => {
        if (left <= 0) return false
        left--
        metrics.iterationStarted()
        return true
      })
    })
  } else {
    loops = Array.from({length: c.vus}, () =>
      vuLoop(() => {
        metrics.iterationStarted()
        return true
      }),
    )
  }
  const all = Promise.all(loops).then(() => undefined)
  // Iteration-based executors stop starting when the iterations are all taken; the loops'
  // end is also when the last iteration finished.
  return {starting: all, finished: all}
}

interface RampingVu {
  running?: AbortController
  rampDownTimer?: NodeJS.Timeout
  loop: Promise<void>
}

/**
 * Ramping VUs: VU i runs while i < the wanted count. A VU no longer wanted starts nothing new
 * and gets gracefulRampDown to finish its iteration (0: interrupted at once).
 */
function runRamping(state: RunState, c: RampingVus): Load {
  const stop = state.stopStarting.signal
  const {hardStop, metrics} = state
  let wanted = vusAt(c, 0)
  const vus: RampingVu[] = []
  let changed: {promise: Promise<void>; resolve: () => void} = deferred()
  const loop = async (vu: RampingVu, i: number) => {
    while (!stop.aborted) {
      if (i >= wanted) {
        await Promise.race([changed.promise, aborted(stop)])
        continue
      }
      state.activeVUs++
      metrics.iterationStarted()
      const own = new AbortController()
      const forget = onAbort(hardStop.signal, () => own.abort(hardStop.signal.reason))
      vu.running = own
      try {
        await state.iterate(state.now(), own.signal)
      } finally {
        forget()
        vu.running = undefined
        clearTimeout(vu.rampDownTimer)
        vu.rampDownTimer = undefined
        state.activeVUs--
      }
    }
  }
  const grow = () => {
    while (vus.length < wanted) {
      const vu: RampingVu = {loop: Promise.resolve()}
      const i = vus.length
      vus.push(vu)
      vu.loop = loop(vu, i)
    }
  }
  const update = () => {
    const next = vusAt(c, state.now() - state.t0)
    if (next !== wanted) {
      wanted = next
      grow()
      for (const [i, vu] of vus.entries()) {
        if (i >= wanted && vu.running && !vu.rampDownTimer) {
          const running = vu.running
          vu.rampDownTimer = setTimeout(() => running.abort(new Error('ramped down')), c.gracefulRampDownMs)
        } else if (i < wanted && vu.rampDownTimer) {
          clearTimeout(vu.rampDownTimer)
          vu.rampDownTimer = undefined
        }
      }
      const previous = changed
      changed = deferred()
      previous.resolve()
    }
  }
  grow()
  const driver = (async () => {
    // The wanted count is re-read 20 times a second: fine enough for ramps of seconds.
    while (!stop.aborted) {
      await pause(50, stop)
      update()
    }
    changed.resolve()
  })()
  const finished = driver.then(() => Promise.all(vus.map((v) => v.loop))).then(() => undefined)
  return {starting: aborted(stop), finished}
}

/**
 * The open model: starts on the absolute schedule, drops what --max-vus cannot hold. Each turn of
 * the loop starts every iteration due by now (their lag is now minus their due time), then sleeps
 * on a timer until the next one is due (whole milliseconds: above 1,000/s a tick starts every
 * iteration of its millisecond, each late by less than a tick). Far behind schedule, starting
 * stops after BURST_MS to let the responses in, and goes on at the next turn: no fixed batch size.
 */
function runOpen(state: RunState, c: OpenModel, s: Shard): Load {
  const stop = state.stopStarting.signal
  const {metrics, now, t0} = state
  let running = 0
  let failure: unknown
  let idle: (() => void) | undefined
  const start = (dueAt: number, at: number) => {
    if (state.inFlight >= c.maxVUs) {
      metrics.dropped()
      return
    }
    metrics.iterationStarted(at - dueAt)
    running++
    state.iterate(dueAt).then(ended, (error: unknown) => {
      failure ??= error
      ended()
    })
  }
  const ended = () => {
    if (--running === 0) idle?.()
  }
  const starting = (async () => {
    const schedule = arrivalSchedule(c, s)
    let due = schedule.next()
    while (due !== undefined && !stop.aborted) {
      const wait = t0 + due - now()
      if (wait > 0) {
        // A timer, never a spin: a loop of setImmediate waiting out the last millisecond kept a
        // core busy at any rate above ~500/s, taken from the target on the same machine.
        await pause(Math.ceil(wait), stop)
        continue
      }
      const turnStarted = now()
      let at = turnStarted
      do {
        start(t0 + due, at)
        due = schedule.next()
        at = now()
      } while (due !== undefined && t0 + due <= at && at - turnStarted < BURST_MS)
      if (due !== undefined && t0 + due <= at) await nextTurn()
    }
  })()
  const finished = starting.then(async () => {
    if (running > 0) await new Promise<void>((resolve) => (idle = resolve))
    if (failure !== undefined) throw failure
  })
  return {starting, finished}
}
