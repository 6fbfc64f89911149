/**
 * Loki's own LogQL parser and log pipeline, for tests: test/tools/logql-check, a small Go program
 * on Loki's Go module at a commit from before Loki's relicensing to AGPL-3.0 (Apache-2.0; see its
 * go.mod), built by scripts/build-logql-check.sh into the tools cache outside the repository.
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {toolsCache} from '../cluster/control-plane.js'
import {repoRoot} from './cli.js'
import {runTracked} from './processes.js'

const TOOL_DIR = join(repoRoot, 'test', 'tools', 'logql-check')

export interface LogQLMatcher {
  label: string
  op: '=' | '!=' | '=~' | '!~'
  value: string
}

/** A log stream as Loki stores it: its labels and its lines. */
export interface LogQLStream {
  labels: Record<string, string>
  lines: string[]
}

export interface LogQLResult {
  query: string
  ok: boolean
  /** The parser's own error when the query does not parse. */
  error?: string
  kind?: 'log' | 'metric'
  /** The parsed expression printed back by Loki (its String()). */
  canonical?: string
  /** A log query's stream selector. */
  matchers?: LogQLMatcher[]
  /** Per input stream, in order: whether the selector selects it, and the lines the pipeline keeps with their labels. */
  streams?: {selected: boolean; kept: {line: string; labels: Record<string, string>}[]}[]
}

/** The Loki version the tool is built on: the one its go.mod requires. */
export function lokiVersion(): string {
  const version = /^\s*(?:require\s+)?github\.com\/grafana\/loki (v\S+)$/m.exec(readFileSync(join(TOOL_DIR, 'go.mod'), 'utf8'))?.[1]
  if (!version) throw new Error(`no github.com/grafana/loki requirement in ${join(TOOL_DIR, 'go.mod')}`)
  return version
}

/** Path of the built tool; a missing or stale build is a clear error naming the command that builds it. */
export function logqlCheckBinary(): string {
  const dir = join(toolsCache(), `logql-check-${lokiVersion()}`)
  const stamp = join(dir, '.complete')
  const build = 'Build it once (cached outside the repository): ./scripts/build-logql-check.sh'
  if (!existsSync(stamp)) throw new Error(`logql-check (Loki's LogQL parser) is not built in ${dir}. ${build}`)
  const sources = createHash('sha256')
  for (const file of ['go.mod', 'go.sum', 'main.go']) sources.update(readFileSync(join(TOOL_DIR, file)))
  if (readFileSync(stamp, 'utf8').trim() !== sources.digest('hex')) {
    throw new Error(`logql-check in ${dir} was built from other sources than test/tools/logql-check. ${build}`)
  }
  return join(dir, 'logql-check')
}

/**
 * Parses each query with Loki's parser; with `streams`, also runs each log query over them as Loki
 * would (stream selector, then the pipeline line by line). One result per query, in order.
 */
export async function checkLogQL(queries: string[], streams: LogQLStream[] = []): Promise<LogQLResult[]> {
  const result = await runTracked(logqlCheckBinary(), [], {input: JSON.stringify({queries, streams}), timeoutMs: 60_000})
  if (result.exitCode !== 0) throw new Error(`logql-check exited with ${result.exitCode ?? result.signal}: ${result.stderr}`)
  const results = JSON.parse(result.stdout) as LogQLResult[]
  if (results.length !== queries.length) throw new Error(`logql-check answered ${results.length} results for ${queries.length} queries`)
  return results
}
