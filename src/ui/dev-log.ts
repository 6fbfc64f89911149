/**
 * Turns a child's output line into one prefixed line for the terminal: `[worker-1] …`.
 * Services log pino JSON; those lines are shortened to `time LEVEL message key=value…` so the
 * stream stays readable, and every line starts with its bracketed name so `grep '^\[api\]'` works.
 */

const LEVELS: Record<number, string> = {10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL'}
/** Keys pino adds that say nothing useful on a developer's terminal. */
const DROPPED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v', 'service'])

/** ANSI colours, one per process name, stable for a name; none when colour is off. */
const PALETTE = [36, 33, 35, 32, 34, 96, 93, 95, 92, 94]

export interface LogFormatOptions {
  /** Colour the prefix (only when writing to a terminal and NO_COLOR is not set). */
  color: boolean
  /** Width the bracketed prefix is padded to, so messages line up. */
  width?: number
}

/** Formats one line of `name`'s output. */
export function formatChildLine(name: string, line: string, options: LogFormatOptions): string {
  const width = options.width ?? 11
  const tag = `[${name}]`.padEnd(width)
  const prefix = options.color ? `\u001B[${colorFor(name)}m${tag}\u001B[39m` : tag
  return `${prefix} ${prettyPino(line, name) ?? line}`
}

/** A line from keda-lab dev itself (decisions, URLs, shutdown). */
export function formatDevLine(line: string, options: LogFormatOptions): string {
  return formatChildLine('dev', line, options)
}

function colorFor(name: string): number {
  if (name === 'dev') return 1 // bold
  const base = name.replace(/-\d+$/, '')
  const index = name === base ? [...base].reduce((sum, c) => sum + c.charCodeAt(0), 0) : Number(name.slice(base.length + 1)) + 3
  return PALETTE[index % PALETTE.length]!
}

/** `HH:MM:SS.mmm LEVEL msg k=v …` for a pino JSON line, or undefined for anything else. */
function prettyPino(line: string, name: string): string | undefined {
  if (!line.startsWith('{')) return undefined
  let record: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(line)
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined
    record = parsed as Record<string, unknown>
  } catch {
    return undefined
  }
  if (!('level' in record) || !('msg' in record || 'time' in record)) return undefined
  const level = typeof record.level === 'number' ? (LEVELS[record.level] ?? String(record.level)) : String(record.level).toUpperCase()
  // pino's epoch milliseconds, or an ISO string (pino.stdTimeFunctions.isoTime).
  const date = typeof record.time === 'number' || typeof record.time === 'string' ? new Date(record.time) : undefined
  const time = date && !Number.isNaN(date.getTime()) ? date.toISOString().slice(11, 23) : ''
  const fields = Object.entries(record)
    // `service`/`worker` repeat what the [name] prefix already says.
    .filter(([key, value]) => !DROPPED.has(key) && !(key === 'worker' && value === name))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? quote(value) : JSON.stringify(value)}`)
  return [time, level.padEnd(5), String(record.msg ?? ''), ...fields].filter(Boolean).join(' ')
}

function quote(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
}
