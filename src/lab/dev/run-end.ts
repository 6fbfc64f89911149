import type {ProcessExit} from './supervisor.js'

/** A child that exited during start-up, or kept exiting (`restarts` set once everything ran). */
export interface Crash {
  name: string
  pid: number
  exit: ProcessExit
  restarts?: number
}

/** Why the run stops: a signal, the parent process gone, or a crash. */
export type StopReason = {kind: 'signal'; signal: NodeJS.Signals} | {kind: 'parent-gone'; parentPid: number} | {kind: 'crash'; crash: Crash}

/**
 * The one place that knows whether the run is ending and why. Stop requests arrive at any time,
 * even during start-up; the first reason wins, and `ended` resolves when there is one.
 */
export interface RunEnd {
  readonly ended: Promise<void>
  /** The reason, once there is one. */
  reason(): StopReason | undefined
  /** Records a stop request; returns false when the run was already ending (a second Ctrl-C). */
  stop(reason: StopReason): boolean
  /** For pollUntil's abort: a short account of why start-up should give up, if it should. */
  interrupted(): string | undefined
}

export function describeExit(exit: ProcessExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`
}

export function createRunEnd(): RunEnd {
  let reason: StopReason | undefined
  let wake: () => void = () => {}
  const ended = new Promise<void>((resolve) => (wake = resolve))
  return {
    ended,
    reason: () => reason,
    stop(next) {
      if (reason) return false
      reason = next
      wake()
      return true
    },
    interrupted() {
      if (!reason) return undefined
      if (reason.kind === 'signal') return `stopped by ${reason.signal}`
      if (reason.kind === 'parent-gone') return `the parent process (pid ${reason.parentPid}) is gone`
      return `${reason.crash.name} exited (${describeExit(reason.crash.exit)})`
    },
  }
}
