import {type ChildProcess, spawn, type SpawnOptions} from 'node:child_process'

import {findOnPath} from '../../src/lab/dev/net.js'

/** A free TCP port on 127.0.0.1 (the same helper `keda-lab dev` uses). */
export {freePort} from '../../src/lab/dev/net.js'

/**
 * Full path of the first of `names` found on PATH; a missing tool is a clear failure with an
 * install hint, never a silent skip.
 */
export function requireBinary(names: string | string[], hint: string): string {
  const list = typeof names === 'string' ? [names] : names
  for (const name of list) {
    const path = findOnPath(name)
    if (path) return path
  }
  throw new Error(`${list.join(' or ')} is not on PATH; the tests run the real one. Install it: ${hint}`)
}

/** The real Alertmanager: Debian ships it as prometheus-alertmanager, upstream as alertmanager. */
export function alertmanagerBinary(): string {
  return requireBinary(['alertmanager', 'prometheus-alertmanager'], 'sudo apt-get install -y prometheus-alertmanager')
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  {timeoutMs = 15_000, intervalMs = 50, what = 'condition'}: {timeoutMs?: number; intervalMs?: number; what?: string} = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value) return value as T
    } catch (error) {
      lastError = error
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`)
}

const started = new Set<ChildProcess>()

/** Spawns a process that is killed when the test process exits, whatever happens. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe'], ...options})
  started.add(child)
  child.on('exit', () => started.delete(child))
  return child
}

/** Sends `signal`, waits for exit, escalates to SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill(signal)
  })
}

process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL')
})
