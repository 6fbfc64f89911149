/**
 * How a running `keda-lab dev` can be found: it keeps a small JSON file (its API URL, workers and
 * recent autoscaling decisions) in a per-user state folder while it runs, and removes it when it
 * stops. `keda-lab status --local` reads it; a file whose process is gone (a killed run) is ignored
 * and removed.
 */
import {mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import type {DevDecision} from './model.js'

/**
 * What the file holds. One secret: the webhook's bearer token, which `alert test --local` needs
 * and dev may have generated; the file is written 0600 in a 0700 folder, like an SSH key. No Redis
 * password, no Telegram token.
 */
export interface DevState {
  pid: number
  apiUrl: string
  queue: string
  startedAt: string
  workers: string[]
  /** The dev webhook, when one runs: its URL and bearer token. */
  webhook?: {url: string; token: string}
  autoscale?: {minWorkers: number; maxWorkers: number; tasksPerWorker: number; pollingIntervalMs: number}
  /** With autoscale: the workers its last decision asked for (`workers` catches up as they start and stop). */
  desiredWorkers?: number
  /** The most recent autoscaling decisions, oldest first (at most MAX_DECISIONS). */
  decisions: DevDecision[]
}

export const MAX_DECISIONS = 20

/** The folder: $KEDA_LAB_STATE_DIR, else $XDG_RUNTIME_DIR/keda-lab, else <tmp>/keda-lab-<user>. */
export function devStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KEDA_LAB_STATE_DIR) return env.KEDA_LAB_STATE_DIR
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'keda-lab')
  let user = 'user'
  try {
    user = userInfo().username
  } catch {
    // no passwd entry (a container): the generic name will do
  }
  return join(tmpdir(), `keda-lab-${user}`)
}

/** Keeps one dev run's state file up to date; `remove()` deletes it. Write errors are ignored (status is a convenience). */
export interface DevStateFile {
  readonly path: string
  write(state: Omit<DevState, 'decisions'>): void
  /** Records an autoscaling decision and rewrites the file. */
  decision(message: string, at?: Date): void
  remove(): void
}

export function createDevStateFile(pid: number, env: NodeJS.ProcessEnv = process.env): DevStateFile {
  const dir = devStateDir(env)
  const path = join(dir, `dev-${pid}.json`)
  let last: Omit<DevState, 'decisions'> | undefined
  const decisions: DevDecision[] = []
  const flush = () => {
    if (!last) return
    try {
      mkdirSync(dir, {recursive: true, mode: 0o700})
      // Written whole and renamed: a reader never sees half a file.
      const tmp = `${path}.${process.pid}.tmp`
      writeFileSync(tmp, JSON.stringify({...last, decisions}, null, 2), {mode: 0o600})
      renameSync(tmp, path)
    } catch {
      // best effort
    }
  }
  return {
    path,
    write(state) {
      last = state
      flush()
    },
    decision(message, at = new Date()) {
      decisions.push({at: at.toISOString(), message})
      if (decisions.length > MAX_DECISIONS) decisions.splice(0, decisions.length - MAX_DECISIONS)
      flush()
    },
    remove() {
      last = undefined
      rmSync(path, {force: true})
    },
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The running dev stacks' states, newest first; files of runs that are gone are removed. */
export function findDevStates(env: NodeJS.ProcessEnv = process.env): DevState[] {
  const dir = devStateDir(env)
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => /^dev-\d+\.json$/.test(n))
  } catch {
    return []
  }
  const states: DevState[] = []
  for (const name of names) {
    const path = join(dir, name)
    try {
      const state = JSON.parse(readFileSync(path, 'utf8')) as DevState
      if (typeof state.pid === 'number' && typeof state.apiUrl === 'string' && alive(state.pid)) states.push(state)
      else rmSync(path, {force: true})
    } catch {
      // unreadable or half-removed: skip
    }
  }
  return states.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt))
}

/**
 * The origin of a URL as typed (scheme optional), with `localhost` as 127.0.0.1, where dev listens:
 * how a URL given by the user is matched against the URLs in the state files.
 */
export function loopbackOrigin(url: string): string | undefined {
  try {
    const parsed = new URL(/^[a-z]+:\/\//i.test(url) ? url : `http://${url}`)
    if (parsed.hostname === 'localhost') parsed.hostname = '127.0.0.1'
    return parsed.origin
  } catch {
    return undefined
  }
}
