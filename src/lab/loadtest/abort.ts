/**
 * Reacting to an AbortSignal without one EventTarget listener per waiter. A run has one hard-stop
 * signal shared by every iteration, request and sleep in flight (thousands at once in the open
 * model); Node's EventTarget keeps listeners in a list that `removeEventListener` walks, so adding
 * and removing one per request made each removal cost the number in flight. Here each signal gets
 * one listener, the first time it is seen, and the callbacks sit in a Set: adding and removing one
 * is constant time.
 */

const waiters = new WeakMap<AbortSignal, Set<() => void>>()
const forgetNothing = () => {}
/**
 * Calls `fn` once when `signal` aborts (at once if it already has); returns the function that
 * forgets it. `fn` must not throw.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn()
    return forgetNothing
  }
  let set = waiters.get(signal)
  if (!set) {
    const fresh = new Set<() => void>()
    set = fresh
    waiters.set(signal, fresh)
    signal.addEventListener(
      'abort',
      () => {
        waiters.delete(signal)
        for (const waiter of fresh) waiter()
        fresh.clear()
      },
      {once: true},
    )
  }
  const own = set
  own.add(fn)
  return () => own.delete(fn)
}
