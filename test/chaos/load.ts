/** One request the load made: when, how long, and whether the API answered as it should. */
export interface Attempt {
  kind: 'submit' | 'poll'
  at: number
  ms: number
  ok: boolean
  /** HTTP status, or the network error's code (ECONNREFUSED, TimeoutError…). */
  status: number | string
}

/** A task the API accepted: 2xx with an id. */
export interface AcceptedTask {
  id: string
  at: number
  /** Queued with failAt: its Failed end is the expected one. */
  failAt?: number
}

export interface LoadOptions {
  apiUrl: string
  /** Task size in loop iterations. */
  iterations: number
  submitEveryMs: number
  pollEveryMs: number
  /** Every n-th task fails on purpose at step 50 (0: none), so that "failed with a reason" is exercised. */
  failEvery?: number
  /** Per-request client time limit. */
  timeoutMs?: number
}

/** A steady stream of submissions (`POST /api/tasks`) and status polls (`GET /api/tasks/status/:id`). */
export interface Load {
  readonly accepted: AcceptedTask[]
  readonly attempts: Attempt[]
  /** Submits one task now, retrying until the API accepts it or the deadline passes (the recovery probe). */
  submitUntilAccepted(deadlineMs: number): Promise<AcceptedTask>
  stop(): Promise<void>
}

const errorCode = (error: unknown): string => {
  const cause = (error as {cause?: {code?: string}}).cause
  return cause?.code ?? (error as Error).name ?? 'error'
}

export function startLoad(options: LoadOptions): Load {
  const accepted: AcceptedTask[] = []
  const attempts: Attempt[] = []
  const inFlight = new Set<Promise<unknown>>()
  const timeoutMs = options.timeoutMs ?? 5000
  let serial = 0

  const submit = async (): Promise<AcceptedTask | undefined> => {
    serial++
    const failAt = options.failEvery && serial % options.failEvery === 0 ? 50 : undefined
    const at = Date.now()
    try {
      const response = await fetch(`${options.apiUrl}/api/tasks`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({iterations: options.iterations, ...(failAt ? {failAt} : {})}),
        signal: AbortSignal.timeout(timeoutMs),
      })
      const body = (await response.json().catch(() => ({}))) as {id?: string}
      const ok = response.status >= 200 && response.status < 300 && typeof body.id === 'string'
      attempts.push({kind: 'submit', at, ms: Date.now() - at, ok, status: response.status})
      if (!ok) return undefined
      const task = {id: body.id!, at, ...(failAt ? {failAt} : {})}
      accepted.push(task)
      return task
    } catch (error) {
      attempts.push({kind: 'submit', at, ms: Date.now() - at, ok: false, status: errorCode(error)})
      return undefined
    }
  }

  const poll = async () => {
    const task = accepted[Math.floor(Math.random() * accepted.length)]
    if (!task) return
    const at = Date.now()
    try {
      const response = await fetch(`${options.apiUrl}/api/tasks/status/${task.id}`, {signal: AbortSignal.timeout(timeoutMs)})
      await response.arrayBuffer()
      // A 404 for an accepted id is an error too: the task is gone (or was never stored).
      attempts.push({kind: 'poll', at, ms: Date.now() - at, ok: response.status === 200, status: response.status})
    } catch (error) {
      attempts.push({kind: 'poll', at, ms: Date.now() - at, ok: false, status: errorCode(error)})
    }
  }

  const track = (work: Promise<unknown>) => {
    inFlight.add(work)
    void work.finally(() => inFlight.delete(work))
  }
  // Requests in flight are capped, so that a stalled API is not buried under thousands of sockets.
  const submitTimer = setInterval(() => inFlight.size < 50 && track(submit()), options.submitEveryMs)
  const pollTimer = setInterval(() => inFlight.size < 50 && track(poll()), options.pollEveryMs)

  return {
    accepted,
    attempts,
    async submitUntilAccepted(deadlineMs) {
      while (Date.now() < deadlineMs) {
        const task = await submit()
        if (task) return task
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error('the API did not accept a task before the deadline')
    },
    async stop() {
      clearInterval(submitTimer)
      clearInterval(pollTimer)
      await Promise.allSettled([...inFlight])
    },
  }
}

/** Error rate and the longest stretch in which the API answered nothing right. */
export function availability(attempts: Attempt[]): {
  requests: number
  errors: number
  errorRate: number
  longestOutageMs: number
  errorKinds: Record<string, number>
} {
  const sorted = [...attempts].sort((a, b) => a.at + a.ms - (b.at + b.ms))
  let lastGood: number | undefined
  let sawFailure = false
  let longest = 0
  const errorKinds: Record<string, number> = {}
  for (const attempt of sorted) {
    const end = attempt.at + attempt.ms
    if (attempt.ok) {
      if (sawFailure) longest = Math.max(longest, end - (lastGood ?? sorted[0]!.at))
      lastGood = end
      sawFailure = false
    } else {
      sawFailure = true
      errorKinds[String(attempt.status)] = (errorKinds[String(attempt.status)] ?? 0) + 1
    }
  }
  if (sawFailure && sorted.length > 0) longest = Math.max(longest, sorted.at(-1)!.at + sorted.at(-1)!.ms - (lastGood ?? sorted[0]!.at))
  const errors = attempts.filter((a) => !a.ok).length
  return {requests: attempts.length, errors, errorRate: attempts.length ? errors / attempts.length : 0, longestOutageMs: longest, errorKinds}
}
