/**
 * Group commit for the API's Redis calls: the calls made while the event loop handles one round
 * of I/O (every request whose bytes arrived together) go to Redis as ONE script call, run when
 * that round is over (setImmediate). Under load, 50 connections' requests share one round trip,
 * one script invocation and one command timer instead of paying each per request; a lone request
 * is a batch of one and waits for nothing (no timer, no fixed delay).
 *
 * The batch succeeds or fails as a whole (one script, atomic in Redis): an error, such as Redis
 * being down, reaches every caller of the batch.
 */
export type Batched<I, O> = (item: I) => Promise<O>

interface Pending<I, O> {
  item: I
  resolve: (value: O) => void
  reject: (error: unknown) => void
}

/**
 * Returns a function that queues one item and resolves with its own result. `run` receives the
 * items of one batch (at most `maxBatch`, in call order) and returns one result per item, in the
 * same order.
 */
export function batched<I, O>(run: (items: I[]) => Promise<O[]>, maxBatch = 64): Batched<I, O> {
  let pending: Pending<I, O>[] = []
  let scheduled = false

  function flush(): void {
    scheduled = false
    const batch = pending.length > maxBatch ? pending.splice(0, maxBatch) : pending
    if (batch === pending) pending = []
    if (pending.length > 0) schedule()
    let results: Promise<O[]>
    try {
      results = run(batch.map((entry) => entry.item))
    } catch (error) {
      results = Promise.reject(error)
    }
    results.then(
      (values) => {
        if (values.length !== batch.length) {
          const error = new Error(`a batch of ${batch.length} returned ${values.length} results`)
          for (const entry of batch) entry.reject(error)
          return
        }
        // The lengths are equal (checked above), so every entry gets its own result.
        for (const [i, value] of values.entries()) batch[i]?.resolve(value)
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error)
      },
    )
  }

  function schedule(): void {
    scheduled = true
    setImmediate(flush)
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({item, resolve, reject})
      if (!scheduled) schedule()
    })
}
