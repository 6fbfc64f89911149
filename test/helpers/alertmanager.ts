import type {ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {alertmanagerBinary, connectionRefused, freePort, spawnTracked, stopProcess, waitFor} from './processes.js'

/**
 * One entry of alertmanager.yml's `receivers:` list: a webhook receiver that posts to `url` with
 * `Authorization: Bearer <token>` and sends resolved notifications — the shape the install writes
 * for keda-lab's webhook.
 */
export function bearerWebhookReceiver(name: string, url: string, token: string): string {
  return [
    `  - name: ${name}`,
    '    webhook_configs:',
    `      - url: ${url}`,
    '        send_resolved: true',
    '        http_config:',
    '          authorization:',
    '            type: Bearer',
    `            credentials: ${token}`,
  ].join('\n')
}

/** Options of {@link startAlertmanager}. */
export interface AlertmanagerOptions {
  /** The text of alertmanager.yml (routes and receivers of the test). */
  config: string
  /** How long Alertmanager may take to answer /-/ready (default 20 s). */
  readyTimeoutMs?: number
}

/** A running Alertmanager. */
export interface Alertmanager {
  /** Base URL, e.g. http://127.0.0.1:40123. */
  url: string
  port: number
  process: ChildProcess
  /** What it printed so far (it logs at warn level). */
  log(): string
  /** Stops it and deletes its folder (config and storage). */
  stop(): Promise<void>
}

/**
 * Starts the REAL Alertmanager (Debian prometheus-alertmanager) on a free loopback port, alone (no
 * cluster peers), with `config` as its alertmanager.yml and storage in a fresh temporary folder,
 * and waits until it is ready. If it exits or does not get ready in time, it is stopped and the
 * error carries its log.
 */
export async function startAlertmanager({config, readyTimeoutMs = 20_000}: AlertmanagerOptions): Promise<Alertmanager> {
  const binary = alertmanagerBinary()
  const dir = mkdtempSync(join(tmpdir(), 'keda-lab-alertmanager-'))
  let child: ChildProcess | undefined
  let log = ''
  const stop = async () => {
    if (child) await stopProcess(child)
    rmSync(dir, {recursive: true, force: true})
  }
  try {
    writeFileSync(join(dir, 'alertmanager.yml'), config)
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    child = spawnTracked(binary, [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${dir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ])
    child.stdout!.on('data', (d) => (log += d))
    child.stderr!.on('data', (d) => (log += d))
    const running = child
    await waitFor(
      async () => {
        if (running.exitCode !== null || running.signalCode !== null)
          throw new Error(`alertmanager exited (${running.exitCode ?? running.signalCode}) before it was ready`)
        return (await fetch(`${url}/-/ready`)).ok
      },
      {timeoutMs: readyTimeoutMs, what: 'alertmanager ready', ignore: connectionRefused},
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; alertmanager log: ${log || '(empty)'}`)
    })
    return {url, port, process: child, log: () => log, stop}
  } catch (error) {
    await stop()
    throw error
  }
}
