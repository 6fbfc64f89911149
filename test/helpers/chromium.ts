/**
 * A real headless Chromium (Debian's `chromium`) driven over the DevTools protocol with Node's
 * built-in WebSocket: opens a page, records every console message, uncaught exception, log entry
 * and network request, evaluates expressions and takes screenshots. Used to check that an HTML
 * report loads offline without an error, as a user's browser would.
 *
 * Chromium gets its own throw-away profile and a host resolver that resolves nothing, so even a
 * page that tried would reach no other machine (the request is still recorded, and fails the test).
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {requireBinary, spawnTracked, stopProcess, waitFor} from './processes.js'

export interface PageEvents {
  console: {type: string; text: string}[]
  exceptions: string[]
  log: {level: string; text: string; url?: string}[]
  /** Every request the page made (its own file:// URL included). */
  requests: string[]
  failedRequests: string[]
}

export interface Browser {
  /** Opens URL in a new tab and waits for its load event; events are recorded from before navigation. */
  open(url: string, viewport?: {width: number; height: number}): Promise<Page>
  close(): Promise<void>
}

export interface Page {
  readonly events: PageEvents
  evaluate<T>(expression: string): Promise<T>
  /** A PNG of the whole page (full height). */
  screenshot(): Promise<Buffer>
}

interface CdpMessage {
  id?: number
  method?: string
  params?: Record<string, unknown>
  result?: Record<string, unknown>
  error?: {message: string}
  sessionId?: string
}

/** Starts Chromium headless on a free debugging port (chosen by Chromium itself: port 0). */
export async function startChromium(): Promise<Browser> {
  const binary = requireBinary(['chromium', 'chromium-browser'], "install Debian's chromium: sudo apt-get install chromium")
  const profile = mkdtempSync(join(tmpdir(), 'keda-lab-chromium-'))
  const child = spawnTracked(
    binary,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND',
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    {stdio: ['ignore', 'ignore', 'pipe']},
  )
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  // Chromium writes the port it chose and the browser's WebSocket path to DevToolsActivePort.
  const wsUrl = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`chromium exited (${child.exitCode}): ${stderr.slice(-2000)}`)
      try {
        const [port, path] = readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').trim().split('\n')
        return port && path ? `ws://127.0.0.1:${port}${path}` : undefined
      } catch {
        return undefined
      }
    },
    {timeoutMs: 30_000, what: 'chromium to open its DevTools port'},
  )
  const ws = new WebSocket(wsUrl)
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), {once: true})
    ws.addEventListener('error', () => reject(new Error(`cannot connect to ${wsUrl}`)), {once: true})
  })
  let nextId = 1
  const pending = new Map<number, {resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void}>()
  const listeners = new Set<(m: CdpMessage) => void>()
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as CdpMessage
    if (message.id !== undefined) {
      const p = pending.get(message.id)
      pending.delete(message.id)
      if (message.error) p?.reject(new Error(message.error.message))
      else p?.resolve(message.result ?? {})
      return
    }
    for (const l of listeners) l(message)
  })
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++
      pending.set(id, {resolve, reject})
      ws.send(JSON.stringify({id, method, params, ...(sessionId ? {sessionId} : {})}))
    })

  return {
    async open(url, viewport = {width: 1200, height: 900}) {
      const {targetId} = (await send('Target.createTarget', {url: 'about:blank'})) as {targetId: string}
      const {sessionId} = (await send('Target.attachToTarget', {targetId, flatten: true})) as {sessionId: string}
      const events: PageEvents = {console: [], exceptions: [], log: [], requests: [], failedRequests: []}
      let loaded = false
      listeners.add((m) => {
        if (m.sessionId !== sessionId || !m.params) return
        // biome-ignore lint/suspicious/noExplicitAny: CDP event parameters, read field by field per method
        const p = m.params as Record<string, any>
        switch (m.method) {
          case 'Runtime.consoleAPICalled':
            events.console.push({
              type: p.type,
              text: (p.args as {value?: unknown; description?: string}[]).map((a) => String(a.value ?? a.description ?? '')).join(' '),
            })
            break
          case 'Runtime.exceptionThrown': {
            const d = p.exceptionDetails as {text: string; exception?: {description?: string}}
            events.exceptions.push(d.exception?.description ?? d.text)
            break
          }
          case 'Log.entryAdded': {
            const e = p.entry as {level: string; text: string; url?: string}
            events.log.push({level: e.level, text: e.text, url: e.url})
            break
          }
          case 'Network.requestWillBeSent':
            events.requests.push((p.request as {url: string}).url)
            break
          case 'Network.loadingFailed':
            events.failedRequests.push(`${p.errorText}`)
            break
          case 'Page.loadEventFired':
            loaded = true
            break
        }
      })
      for (const domain of ['Runtime', 'Log', 'Network', 'Page']) await send(`${domain}.enable`, {}, sessionId)
      await send('Emulation.setDeviceMetricsOverride', {...viewport, deviceScaleFactor: 1, mobile: false}, sessionId)
      await send('Page.navigate', {url}, sessionId)
      await waitFor(() => loaded, {timeoutMs: 30_000, what: `the load event of ${url}`})
      const evaluate = async <T>(expression: string): Promise<T> => {
        const r = (await send('Runtime.evaluate', {expression, returnByValue: true, awaitPromise: true}, sessionId)) as {
          result: {value: T}
          exceptionDetails?: {text: string}
        }
        if (r.exceptionDetails) throw new Error(`evaluate ${expression}: ${r.exceptionDetails.text}`)
        return r.result.value
      }
      return {
        events,
        evaluate,
        async screenshot() {
          const height = await evaluate<number>('document.documentElement.scrollHeight')
          const r = (await send(
            'Page.captureScreenshot',
            {format: 'png', captureBeyondViewport: true, clip: {x: 0, y: 0, width: viewport.width, height, scale: 1}},
            sessionId,
          )) as {
            data: string
          }
          return Buffer.from(r.data, 'base64')
        },
      }
    },
    async close() {
      ws.close()
      await stopProcess(child)
      rmSync(profile, {recursive: true, force: true})
    },
  }
}
