/**
 * `keda-lab status --watch`: reads and prints the status every interval until the signal aborts.
 * A failed read (the cluster went away for a moment) is printed as a frame and the loop goes on.
 */
import type {StatusReport} from './model.js'

export interface WatchOptions {
  collect: () => Promise<StatusReport>
  intervalMs: number
  /** Prints one frame: the report, or the error of a failed read. */
  print: (frame: {report?: StatusReport; error?: Error; at: Date}) => void
  signal: AbortSignal
}

/** Runs until `signal` aborts; returns the last report read (undefined when none could be). */
export async function watchStatus(options: WatchOptions): Promise<StatusReport | undefined> {
  let last: StatusReport | undefined
  while (!options.signal.aborted) {
    try {
      last = await options.collect()
      options.print({report: last, at: new Date()})
    } catch (error) {
      options.print({error: error instanceof Error ? error : new Error(String(error)), at: new Date()})
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, options.intervalMs)
      function done() {
        clearTimeout(timer)
        options.signal.removeEventListener('abort', done)
        resolve()
      }
      options.signal.addEventListener('abort', done, {once: true})
    })
  }
  return last
}
