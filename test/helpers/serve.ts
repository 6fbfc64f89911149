import type {ChildProcess} from 'node:child_process'

import {cliEntry, repoRoot} from './cli.js'
import {connectionRefused, notYet, spawnTracked, stopProcess, waitFor} from './processes.js'

/** One line a service printed on stdout: its JSON log line (pino), or `{raw: line}` if it was not JSON. */
export type LogLine = Record<string, unknown> & {msg?: string; time?: string; taskId?: string; raw?: string}

/** A `keda-lab serve <service>` process a test started, and everything it printed. */
export interface ServeProcess {
  readonly name: string
  readonly child: ChildProcess
  /** stdout, line by line, parsed as it arrives. */
  readonly lines: LogLine[]
  stdout(): string
  stderr(): string
  /** Everything it printed: stdout, then stderr. */
  output(): string
  /** Resolves when the process has exited, with how. */
  readonly exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  /** When the process exited (Date.now()), once it has. */
  exitedAt?: number
}

/**
 * Starts `keda-lab serve <service>` as a user (or the chart) does: the CLI in a subprocess from the
 * repository, with `env` on top of this process's environment. Stopped whatever happens to the test
 * (see spawnTracked); does not wait for anything — see {@link waitUntilReady}.
 */
export function spawnServe(service: 'api' | 'worker' | 'webhook', env: Record<string, string>, name: string = service): ServeProcess {
  const child = spawnTracked(process.execPath, [cliEntry(), 'serve', service], {cwd: repoRoot, env: {...process.env, ...env}})
  const lines: LogLine[] = []
  let stdout = ''
  let stderr = ''
  let buffer = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString()
    stdout += text
    buffer += text
    let newline: number
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      try {
        lines.push(JSON.parse(line) as LogLine)
      } catch {
        lines.push({raw: line})
      }
    }
  })
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const served: ServeProcess = {
    name,
    child,
    lines,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => stdout + stderr,
    exited: new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        served.exitedAt = Date.now()
        resolve({code, signal})
      }),
    ),
  }
  return served
}

/** When a service counts as ready: a URL answers 200, or it logged a line with this `msg`. */
export type Readiness = {http: string} | {log: string}

/**
 * Waits until `service` is ready. Not listening yet, or a request that hangs (2 s), means "not yet";
 * the process exiting first fails at once, and a timeout fails with what it printed on stderr.
 */
export async function waitUntilReady(service: ServeProcess, readiness: Readiness, timeoutMs = 60_000): Promise<void> {
  const {child} = service
  let exitedEarly = false
  await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        exitedEarly = true
        throw new Error(
          `${service.name} exited (${child.exitCode ?? child.signalCode}) before it was ready: ${service.stderr().slice(-2000) || service.stdout().slice(-2000)}`,
        )
      }
      if ('log' in readiness) return service.lines.some((l) => l.msg === readiness.log) || notYet(`no "${readiness.log}" log line yet`)
      const response = await fetch(readiness.http, {signal: AbortSignal.timeout(2000)})
      return response.status === 200 || notYet(`${readiness.http} answered ${response.status}`)
    },
    {timeoutMs, intervalMs: 100, what: `${service.name} ready`, ignore: (error) => connectionRefused(error) || (error as Error).name === 'TimeoutError'},
  ).catch((error: unknown) => {
    if (exitedEarly) throw error
    throw new Error(`${(error as Error).message}; ${service.name} stderr: ${service.stderr().slice(-2000)}`)
  })
}

/**
 * {@link spawnServe} then {@link waitUntilReady}; a service that does not get ready is killed before
 * the error is thrown.
 */
export async function startServe(
  service: 'api' | 'worker' | 'webhook',
  env: Record<string, string>,
  options: {ready: Readiness; name?: string; timeoutMs?: number},
): Promise<ServeProcess> {
  const served = spawnServe(service, env, options.name)
  try {
    await waitUntilReady(served, options.ready, options.timeoutMs)
  } catch (error) {
    await stopProcess(served.child, 'SIGKILL')
    throw error
  }
  return served
}
