import type {ChildProcess} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'

import {cliEntry, repoRoot} from '../helpers/cli.js'
import {spawnTracked, stopProcess} from '../helpers/processes.js'

/** A running `keda-lab dev`, driven as a user would from a terminal. */
export interface DevRun {
  child: ChildProcess
  /** Every line printed so far (stdout and stderr, in order of arrival). */
  lines: string[]
  /** Resolves with the first line (already printed or to come) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Resolves when the process has exited. */
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  output(): string
}

/** Spawns `keda-lab dev <args>` (bin/dev.js on the sources, or bin/run.js under npm test). */
export function startDev(args: string[], env: NodeJS.ProcessEnv = {}): DevRun {
  const child = spawnTracked(process.execPath, [cliEntry(), 'dev', ...args], {
    cwd: repoRoot,
    env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const waiters = new Set<{pattern: RegExp; resolve: (m: RegExpMatchArray) => void}>()
  const onLine = (line: string) => {
    lines.push(line)
    for (const waiter of waiters) {
      const match = line.match(waiter.pattern)
      if (match) {
        waiters.delete(waiter)
        waiter.resolve(match)
      }
    }
  }
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffer = ''
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const parts = buffer.split('\n')
      buffer = parts.pop()!
      for (const part of parts) onLine(part)
    })
    stream.on('end', () => buffer && onLine(buffer))
  }
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.on('close', (code, signal) => resolve({code, signal})))
  const output = () => lines.join('\n')
  return {
    child,
    lines,
    exited,
    output,
    waitForLine(pattern, timeoutMs = 60_000) {
      for (const line of lines) {
        const match = line.match(pattern)
        if (match) return Promise.resolve(match)
      }
      return new Promise((resolve, reject) => {
        const waiter = {
          pattern,
          resolve: (m: RegExpMatchArray) => {
            clearTimeout(timer)
            resolve(m)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output so far:\n${output().slice(-4000)}`))
        }, timeoutMs)
        waiters.add(waiter)
        void exited.then(() => {
          // The process ended without printing it: fail now rather than at the timeout.
          setTimeout(() => {
            if (!waiters.has(waiter)) return
            waiters.delete(waiter)
            clearTimeout(timer)
            reject(new Error(`keda-lab dev exited before printing a line matching ${pattern}; output:\n${output().slice(-4000)}`))
          }, 50)
        })
      })
    },
  }
}

/** Stops a dev run if a test left it running (SIGINT like Ctrl-C, then SIGKILL). */
export async function cleanupDev(run: DevRun | undefined): Promise<void> {
  if (run) await stopProcess(run.child, 'SIGINT', 20_000)
}

/** Every live descendant of `pid` (children, grandchildren…), read from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // The command name may contain spaces and parentheses: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ppid = Number(fields[1])
      const list = children.get(ppid) ?? []
      list.push(Number(entry))
      children.set(ppid, list)
    } catch {
      // exited while we were reading
    }
  }
  const found: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child)
      queue.push(child)
    }
  }
  return found
}

/** True when a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z'
  } catch {
    return false
  }
}

/** fetch + JSON body + the raw response, for contract checks. */
export async function request(url: string, init?: RequestInit): Promise<{status: number; contentType: string; body: unknown; text: string}> {
  const response = await fetch(url, {...init, signal: AbortSignal.timeout(10_000)})
  const text = await response.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return {status: response.status, contentType: response.headers.get('content-type') ?? '', body, text}
}

/**
 * The `keda-lab dev --autoscale` flags the autoscaling tests share: 1 to 3 workers, one task per
 * worker, the queue read every second and a scale-down held back 3 s, so that a burst of six tasks
 * scales up to 3 and back to 1 within a test's time; the task size (and log level) vary per test.
 */
export function autoscaleDevArgs(options: {taskIterations: number; logLevel?: 'warn'}): string[] {
  return [
    ...['--api-port', '0', '--autoscale', '--min-workers', '1', '--max-workers', '3', '--tasks-per-worker', '1'],
    ...['--polling-interval', '1', '--worker-scale-down', 'window=3s', '--task-iterations', String(options.taskIterations)],
    ...(options.logLevel ? ['--log-level', options.logLevel] : []),
  ]
}

/**
 * Waits until an autoscaling dev run is up: its API's URL printed (returned), then its autoscaler
 * started — by then dev has written its state file, which `status --local` and loadtest's watcher read.
 */
export async function autoscaledDevRunning(dev: DevRun): Promise<string> {
  const api = (await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+API\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000))[1]
  if (!api) throw new Error(`keda-lab dev printed its API line without a URL:\n${dev.output().slice(-2000)}`)
  await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+autoscale \(a local imitation of KEDA, not a replacement\)/, 90_000)
  return api
}
