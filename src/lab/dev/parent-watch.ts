/**
 * Notices that the process which started `keda-lab dev` is gone. Under `npx keda-lab dev` the chain
 * is npx → sh → keda-lab; a process manager's SIGTERM to npx ends npx alone, and the shell and dev
 * are re-parented, still holding the API's port. So dev watches its parent and its parent's
 * parent, and a change of either means whoever started it has gone.
 */
export interface ParentWatchOptions {
  /** This process's parent now (`process.ppid`). */
  ownParent: () => number
  /** The parent of another process, undefined when it is gone or cannot be read (/proc on Linux). */
  parentOf: (pid: number) => number | undefined
  intervalMs?: number
  /** Called once, with the pid of the ancestor that went away. */
  onGone: (pid: number) => void
}

/** Starts watching; returns the function that stops it. */
export function watchParent(options: ParentWatchOptions): () => void {
  const parent = options.ownParent()
  const grandparent = options.parentOf(parent)
  const check = () => {
    if (options.ownParent() !== parent) return gone(parent)
    // PID 1 (or a subreaper) adopting our parent means its own parent ended. When the grandparent
    // was already init or unknown there is nothing more to watch.
    if (grandparent !== undefined && grandparent > 1 && options.parentOf(parent) !== grandparent) return gone(grandparent)
  }
  const timer = setInterval(check, options.intervalMs ?? 1000)
  timer.unref()
  const gone = (pid: number) => {
    clearInterval(timer)
    options.onGone(pid)
  }
  return () => clearInterval(timer)
}

/** The parent pid of `pid` from /proc/PID/stat (Linux); undefined elsewhere or when it is gone. */
export function parentFromProc(readFile: (path: string) => string): (pid: number) => number | undefined {
  return (pid) => {
    try {
      const stat = readFile(`/proc/${pid}/stat`)
      // The command name may hold spaces and parentheses: the fields start after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      return Number.isInteger(ppid) ? ppid : undefined
    } catch {
      return undefined
    }
  }
}
