import {accessSync, constants} from 'node:fs'
import {createServer} from 'node:net'
import {delimiter, join} from 'node:path'

/** A free TCP port on 127.0.0.1 (the OS picks one; it is released before use, a small race we accept). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** True when nothing listens on `port` (on any address, as a service bound to 0.0.0.0 would). */
export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen(port, () => server.close(() => resolve(true)))
  })
}

/** Full path of an executable found on PATH, or undefined. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** Polls `check` every `intervalMs` until it returns true, `abort` returns a reason, or time runs out. */
export async function pollUntil(
  check: () => Promise<boolean>,
  {timeoutMs, intervalMs = 100, abort}: {timeoutMs: number; intervalMs?: number; abort?: () => string | undefined},
): Promise<{ok: true} | {ok: false; reason: string}> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const aborted = abort?.()
    if (aborted) return {ok: false, reason: aborted}
    if (await check().catch(() => false)) return {ok: true}
    if (Date.now() >= deadline) return {ok: false, reason: `not ready after ${Math.round(timeoutMs / 1000)} s`}
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** True when an HTTP GET of `url` answers 2xx within a second. */
export async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, {signal: AbortSignal.timeout(1000)})
  await response.arrayBuffer()
  return response.ok
}
