import {type AutoscaleOptions, type ScaleDecision, decideScale, initialAutoscaleState} from '../autoscale.js'

/** Reads the two lists KEDA's triggers count. */
export type QueueReader = () => Promise<{waiting: number; active: number}>

export interface AutoscalerLoopOptions {
  rule: AutoscaleOptions
  pollingIntervalMs: number
  /** Replicas running when the loop starts. */
  initialReplicas: number
  read: QueueReader
  /** Applies a change of replica count (start or gracefully stop local workers). */
  scaleTo(replicas: number, decision: ScaleDecision): Promise<void>
  /** Receives the lines worth printing (each change, and when a scale-down is being held back). */
  report(line: string): void
  now?: () => number
}

/** A running loop; `stop()` waits for a poll in progress to finish. */
export interface AutoscalerLoop {
  stop(): Promise<void>
}

/**
 * Every polling interval: read `LLEN bull:<q>:wait` and `LLEN bull:<q>:active`, apply the rule,
 * and scale. A failed read skips that poll and says so once (KEDA would keep the last replicas,
 * or use its fallback, while the scaler errors).
 */
export function startAutoscalerLoop(options: AutoscalerLoopOptions): AutoscalerLoop {
  const now = options.now ?? Date.now
  let state = initialAutoscaleState(options.initialReplicas, now())
  let stopped = false
  let current: Promise<void> = Promise.resolve()
  let lastNote = ''
  let readFailing = false

  const poll = async () => {
    let sample: {waiting: number; active: number}
    try {
      sample = await options.read()
      if (readFailing) options.report('autoscale: reading the queue works again')
      readFailing = false
    } catch (error) {
      if (!readFailing) options.report(`autoscale: cannot read the queue length (${(error as Error).message}); keeping ${state.replicas} worker(s)`)
      readFailing = true
      return
    }
    const decision = decideScale(options.rule, state, {...sample, now: now()})
    if (decision.to !== decision.from) {
      lastNote = ''
      options.report(decision.message)
      await options.scaleTo(decision.to, decision)
    } else if (['stabilising', 'cooldown-pending', 'rate-limited'].includes(decision.cause) && decision.message !== lastNote) {
      // Say why nothing happens when the user would expect a change; once, not every poll.
      lastNote = decision.message
      options.report(decision.message)
    }
    state = decision.state
  }

  let busy = false
  const tick = () => {
    // A poll slower than the interval (a slow scale-down) skips ticks instead of piling them up.
    if (stopped || busy) return
    busy = true
    current = poll().finally(() => (busy = false))
  }
  const timer = setInterval(tick, options.pollingIntervalMs)
  tick()

  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await current.catch(() => {})
    },
  }
}
