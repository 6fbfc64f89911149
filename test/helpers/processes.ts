import {type ChildProcess, spawn, type SpawnOptions} from 'node:child_process'
import {createServer} from 'node:net'

import {findOnPath} from '../../src/lab/dev/net.js'
import {forgetChild, killGroup, recordChild} from '../setup/process-registry.js'

/** A free TCP port on 127.0.0.1 (the same helper `keda-lab dev` uses). */
export {freePort} from '../../src/lab/dev/net.js'

/** A free TCP port on a given loopback address (e.g. a Service's ClusterIP in 127.100.0.0/16). */
export function freePortOn(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

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

/** What a `waitFor` check returns to say "not yet", with what it saw (shown if the wait times out). */
export class NotYet {
  constructor(readonly detail: string) {}
}

/** "Not ready yet, here is what I saw": `return notYet(\`status ${status}\`)` inside a `waitFor` check. */
export function notYet(detail: string): NotYet {
  return new NotYet(detail)
}

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Deadline for the whole wait (default 15 s). */
  timeoutMs?: number
  /** Pause between two checks (default 50 ms). */
  intervalMs?: number
  /** What is awaited, for the timeout message. */
  what?: string
  /**
   * Errors that mean "not ready yet" rather than "wrong", e.g. {@link connectionRefused} while a
   * server is starting. Without it, an error thrown by the check (a failed assertion included)
   * fails the wait at once.
   */
  ignore?: (error: unknown) => boolean
}

/**
 * Polls `check` until it returns a truthy value (which is returned) or the deadline passes.
 *
 * `undefined`, `null`, `false` or {@link notYet} mean "not yet": the check runs again. An error
 * thrown by the check means "wrong" and fails at once (an `expect` inside a check is enforced, not
 * retried), unless `ignore` names it as transient. A check that hangs is bounded by the deadline too.
 */
export async function waitFor<T>(
  check: () => Promise<T | NotYet | undefined | false | null> | T | NotYet | undefined | false | null,
  {timeoutMs = 15_000, intervalMs = 50, what = 'condition', ignore}: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    const remaining = deadline - Date.now()
    if (remaining <= 0) break
    let timer: NodeJS.Timeout | undefined
    const expired = Symbol('expired')
    const attempt = Promise.resolve().then(check)
    attempt.catch(() => {}) // a check abandoned at the deadline must not end as an unhandled rejection
    try {
      const value = await Promise.race([attempt, new Promise<typeof expired>((resolve) => (timer = setTimeout(() => resolve(expired), remaining)))])
      if (value === expired) {
        last = 'the last check did not finish'
        break
      }
      if (value instanceof NotYet) last = value.detail
      else if (value) return value as T
    } catch (error) {
      if (!ignore?.(error)) throw error
      last = `${String(error)}${causeCode(error) ? ` (${causeCode(error)})` : ''}`
    } finally {
      clearTimeout(timer)
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `; last seen: ${last}` : ''}`)
}

const TRANSIENT_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET'])

function causeCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as {cause?: unknown}).cause, depth++) {
    const code = (e as {code?: unknown}).code
    if (typeof code === 'string') return code
    const inner = (e as {errors?: unknown}).errors
    if (Array.isArray(inner)) for (const one of inner) if (causeCode(one)) return causeCode(one)
  }
  return undefined
}

/**
 * True for the errors of a server that is not listening yet (or restarting): ECONNREFUSED and
 * ECONNRESET, whether thrown directly (net, ioredis) or as the cause of fetch's "fetch failed".
 * For `waitFor(..., {ignore: connectionRefused})`; nothing else is treated as transient.
 */
export function connectionRefused(error: unknown): boolean {
  const code = causeCode(error)
  return code !== undefined && TRANSIENT_CONNECTION_CODES.has(code)
}

const started = new Set<ChildProcess>()

/**
 * Spawns a process that is stopped whatever happens to the test: it gets its own process group
 * (so its descendants go with it), is killed when the test process exits, and is recorded in the
 * run's registry, where the global teardown (test/setup/processes.ts) kills it if the vitest
 * worker that started it died without cleaning up (SIGKILL, out of memory).
 */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true})
  if (child.pid === undefined) return child // spawn failed; the 'error' event reports it
  const pid = child.pid
  started.add(child)
  recordChild(pid, [command, ...args].join(' '))
  child.on('exit', () => {
    started.delete(child)
    forgetChild(pid)
  })
  return child
}

/** What {@link runTracked} returns: how the process ended and what it printed. */
export interface RunResult {
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** stdout and stderr interleaved in order of arrival. */
  all: string
}

/**
 * Runs a command to completion through {@link spawnTracked} (so it is stopped even if the worker
 * dies) and never throws on a non-zero exit; a run longer than `timeoutMs` is killed and throws.
 */
export async function runTracked(
  command: string,
  args: string[],
  options: {cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string} = {},
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000
  const child = spawnTracked(command, args, {cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  let all = ''
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d
    all += d
  })
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d
    all += d
  })
  child.stdin!.on('error', () => {}) // a command that does not read its input
  child.stdin!.end(options.input ?? '')
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    killGroup(child.pid!, 'SIGKILL')
  }, timeoutMs)
  try {
    return await new Promise<RunResult>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (exitCode, signal) => {
        if (timedOut) reject(new Error(`${command} ${args.join(' ')} timed out after ${timeoutMs} ms; output so far:\n${all.slice(-2000)}`))
        else resolve({exitCode, signal, stdout, stderr, all})
      })
    })
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Sends `signal` to the process, waits for it to exit, escalates to SIGKILL after `graceMs`; then
 * kills whatever is left of its process group (descendants it did not stop itself).
 */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      child.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      child.kill(signal)
    })
  }
  if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL')
}

process.on('exit', () => {
  for (const child of started) if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL')
})
