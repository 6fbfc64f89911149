/**
 * What a shard says in its pod's log, read back by the coordinator. The pod runs `keda-lab loadtest
 * --shard i/N --json`, which prints each second's record as it ends, one JSON line on stderr
 * (`{"kedaLabShardRecord": {...}}`, formatShardRecord), and at the end its summary as one JSON
 * document on stdout. A pod's log carries both streams and anything else (a Node warning, an
 * error), so records are recognised by their key and the summary is the last JSON document that is
 * a shard summary, rather than the log being parsed whole.
 */
import {KedaLabError} from '../../errors.js'
import type {LoadSummary, SecondRecord} from './records.js'

/** The key of a shard's per-second record line. */
export const SHARD_RECORD_KEY = 'kedaLabShardRecord'
const RECORD_PREFIX = `{"${SHARD_RECORD_KEY}":`

/** One second of a shard, as the line it prints (no newline). */
export function formatShardRecord(record: SecondRecord): string {
  return JSON.stringify({[SHARD_RECORD_KEY]: record})
}

/** The record on a log line, or undefined when the line is something else. */
export function parseShardRecord(line: string): SecondRecord | undefined {
  if (!line.startsWith(RECORD_PREFIX)) return undefined
  try {
    const value = (JSON.parse(line) as Record<string, unknown>)[SHARD_RECORD_KEY] as Partial<SecondRecord> | undefined
    return value && typeof value.t === 'number' && typeof value.at === 'string' && typeof value.requests === 'object' ? (value as SecondRecord) : undefined
  } catch {
    return undefined
  }
}

/**
 * Follows one pod's log as it grows: `append` takes each piece of a followed log (`follow=true`),
 * `feed` a whole log read at once (only what was not seen yet is taken). Both return the records of
 * the lines completed since, and notice the summary once it is there. A line being written is taken
 * once it is complete. Record lines are not kept, only the others (where the summary is).
 */
export class ShardLogReader {
  private consumed = 0
  private rest = ''
  private readonly others: string[] = []
  private last: LoadSummary | undefined
  /** The key of the wall-clock second of the last record read (see recordSecond). */
  lastSecond: number | undefined

  constructor(readonly pod: string) {}

  append(text: string): SecondRecord[] {
    this.consumed += text.length
    const lines = (this.rest + text).split('\n')
    this.rest = lines.pop() ?? ''
    const records: SecondRecord[] = []
    let closing = false
    for (const raw of lines) {
      const line = raw.replace(/\r$/, '')
      const record = parseShardRecord(line)
      if (record) {
        records.push(record)
        this.lastSecond = recordSecond(record)
        continue
      }
      this.others.push(line)
      if (line === '}' || (line.startsWith('{') && line.endsWith('}'))) closing = true
    }
    if (closing && !this.last) this.last = findSummary(this.others)
    return records
  }

  feed(log: string): SecondRecord[] {
    return log.length > this.consumed ? this.append(log.slice(this.consumed)) : []
  }

  /** The shard's summary, once its log has it. */
  get summary(): LoadSummary | undefined {
    return this.last
  }
}

/**
 * The wall-clock second a record belongs to: the one its 1 s span (ending at `at`) overlaps most.
 * Shards start apart, so their seconds are merged by this key, not by their own `t`.
 */
export function recordSecond(record: Pick<SecondRecord, 'at'>): number {
  return Math.round(Date.parse(record.at) / 1000) - 1
}

function isShardSummary(value: unknown): value is LoadSummary {
  if (!value || typeof value !== 'object') return false
  const v = value as Partial<LoadSummary>
  return v.schemaVersion === 1 && typeof v.histograms === 'object' && v.histograms !== null && typeof v.shard === 'object'
}

/**
 * The shard summary in a pod's log: the last JSON document (one line, or indented over several
 * lines from a `{` line to a `}` line) that is a shard summary. Throws a KedaLabError naming the
 * pod and quoting the log's tail when there is none (the shard failed before it could print).
 */
export function parseShardLog(log: string, pod: string): LoadSummary {
  const lines = log.split('\n')
  const found = findSummary(lines)
  if (found) return found
  const tail = lines.filter((l) => l.trim() !== '' && !l.startsWith(RECORD_PREFIX)).slice(-5)
  throw new KedaLabError(`pod ${pod} printed no load-test summary${tail.length > 0 ? `; its log ends with:\n  ${tail.join('\n  ')}` : ' (its log is empty)'}`, {
    hint: `read the whole log with: kubectl logs ${pod}`,
  })
}

/** The last JSON document of the lines that is a shard summary. */
function findSummary(raw: readonly string[]): LoadSummary | undefined {
  const lines = raw.map((l) => l.replace(/\r$/, ''))
  for (let end = lines.length - 1; end >= 0; end--) {
    const last = lines[end] ?? ''
    if (last.startsWith(RECORD_PREFIX)) continue
    if (last.startsWith('{') && last.endsWith('}')) {
      const found = tryParse(last)
      if (found) return found
    }
    if (last !== '}') continue
    for (let start = end - 1; start >= 0; start--) {
      if (lines[start] !== '{') continue
      const found = tryParse(lines.slice(start, end + 1).join('\n'))
      if (found) return found
    }
  }
  return undefined
}

function tryParse(text: string): LoadSummary | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return isShardSummary(value) ? value : undefined
  } catch {
    return undefined
  }
}
