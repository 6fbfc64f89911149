/**
 * Reads a shard's summary back from its pod's log. The pod runs `keda-lab loadtest --json`, which
 * prints the summary as one JSON document on stdout; a pod's log also carries its stderr (a Node
 * warning, an error), so the log is searched for the last JSON document that is a shard summary
 * rather than parsed whole.
 */
import {KedaLabError} from '../../errors.js'
import type {LoadSummary} from './records.js'

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
  const lines = log.split('\n').map((l) => l.replace(/\r$/, ''))
  for (let end = lines.length - 1; end >= 0; end--) {
    const last = lines[end] ?? ''
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
  const tail = lines.filter((l) => l.trim() !== '').slice(-5)
  throw new KedaLabError(`pod ${pod} printed no load-test summary${tail.length > 0 ? `; its log ends with:\n  ${tail.join('\n  ')}` : ' (its log is empty)'}`, {
    hint: `read the whole log with: kubectl logs ${pod}`,
  })
}

function tryParse(text: string): LoadSummary | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return isShardSummary(value) ? value : undefined
  } catch {
    return undefined
  }
}
