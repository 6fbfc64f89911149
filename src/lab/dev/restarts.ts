/**
 * When and whether `keda-lab dev` restarts a child that exited on its own, like a Pod's
 * restartPolicy Always with a short crash-loop back-off: the first restart at once, then 1 s, 2 s,
 * 4 s (at most 8 s); more than MAX_RESTARTS within RESTART_WINDOW_MS is a crash loop, and
 * restarting again would only hide its cause.
 */
export const MAX_RESTARTS = 5
export const RESTART_WINDOW_MS = 60_000

/** Restart after `delayMs` (this is restart number `attempt` in the window), or give up after `restarts`. */
export type RestartDecision = {restart: true; delayMs: number; attempt: number} | {restart: false; restarts: number}

/** The restarts of a run's children: the back-off decision and the restarts waiting for it. */
export interface Restarts {
  /** Decides about `name`, which exited at `now`, and records the restart when there is one. */
  decide(name: string, now: number): RestartDecision
  /** Runs `restart` after `delayMs`, unless cancelled; the name counts as pending until then. */
  schedule(name: string, delayMs: number, restart: () => void): void
  /** Drops a pending restart; true when there was one. */
  cancel(name: string): boolean
  /** The names waiting for their restart, in the order they were scheduled. */
  pending(): string[]
  /** Drops every pending restart (the run is ending). */
  cancelAll(): void
}

export function createRestarts(options: {maxRestarts?: number; windowMs?: number} = {}): Restarts {
  const max = options.maxRestarts ?? MAX_RESTARTS
  const windowMs = options.windowMs ?? RESTART_WINDOW_MS
  const history = new Map<string, number[]>()
  const timers = new Map<string, NodeJS.Timeout>()
  return {
    decide(name, now) {
      const recent = (history.get(name) ?? []).filter((t) => now - t < windowMs)
      if (recent.length >= max) return {restart: false, restarts: recent.length}
      recent.push(now)
      history.set(name, recent)
      const delayMs = recent.length === 1 ? 0 : Math.min(1000 * 2 ** (recent.length - 2), 8000)
      return {restart: true, delayMs, attempt: recent.length}
    },
    schedule(name, delayMs, restart) {
      timers.set(
        name,
        setTimeout(() => {
          timers.delete(name)
          restart()
        }, delayMs),
      )
    },
    cancel(name) {
      const timer = timers.get(name)
      if (!timer) return false
      clearTimeout(timer)
      timers.delete(name)
      return true
    },
    pending: () => [...timers.keys()],
    cancelAll() {
      for (const timer of timers.values()) clearTimeout(timer)
      timers.clear()
    },
  }
}
