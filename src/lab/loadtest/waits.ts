/**
 * The load engine's small waits: a sleep that a signal cuts short, a promise of a signal's abort,
 * a deferred and a timeout that never rejects. Shared by the run (run.ts), its drivers (drivers.ts)
 * and its per-second records (seconds.ts).
 */

/** Waits `ms` or until `signal` aborts (never rejects). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve()
      return
    }
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })
}

/** Resolves once `signal` aborts (at once if it has). */
export const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), {once: true})))

/** A promise and the function that resolves it. */
export function deferred(): {promise: Promise<void>; resolve: () => void} {
  let resolve = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return {promise, resolve}
}

/** `promise`'s value, or undefined if it rejects or takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      () => {
        clearTimeout(timer)
        resolve(undefined)
      },
    )
  })
}
