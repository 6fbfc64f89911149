/**
 * Turns a child's output line into one prefixed line for the terminal: `[worker-1] …`.
 * Services log pino JSON; those lines are shortened to `time LEVEL message key=value…` so the
 * stream stays readable, and every line starts with its bracketed name so `grep '^\[api\]'` works.
 */

const LEVELS: Record<number, string> = {10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL'}
/** Keys pino adds that say nothing useful on a developer's terminal. */
const DROPPED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v', 'service'])

/**
 * ANSI colours of the prefixes: each service has its own, and workers take turns in a palette
 * that none of the services uses, so [api], [redis] and [worker-N] never look alike.
 */
const SERVICE_COLOURS: Record<string, string> = {dev: '1', redis: '31', api: '32', webhook: '35'}
const WORKER_COLOURS = ['36', '33', '34', '96', '93', '94']
const OTHER_COLOUR = '37'

export interface LogFormatOptions {
  /** Colour the prefix (see wantsColor). */
  color: boolean
  /** Width the bracketed prefix is padded to, so messages line up. */
  width?: number
}

/**
 * Colour or not: FORCE_COLOR (other than 0) forces it, NO_COLOR turns it off, otherwise only
 * when writing to a terminal.
 */
export function wantsColor(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  if (env.NO_COLOR) return false
  return isTTY
}

/** Formats one line of `name`'s output. */
export function formatChildLine(name: string, line: string, options: LogFormatOptions): string {
  const width = options.width ?? 11
  const tag = `[${name}]`.padEnd(width)
  const prefix = options.color ? `\u001B[${colorFor(name)}m${tag}\u001B[0m` : tag
  return `${prefix} ${prettyPino(line, name) ?? line}`
}

/**
 * A line from keda-lab dev itself (decisions, URLs, shutdown), with the time like the services'
 * lines (UTC, milliseconds), so that an autoscale decision can be timed against the workers' logs.
 */
export function formatDevLine(line: string, options: LogFormatOptions & {now?: Date}): string {
  return formatChildLine('dev', `${clock(options.now ?? new Date())} ${line}`, options)
}

/** The SGR parameter of a process name's prefix. */
export function colorFor(name: string): string {
  const service = SERVICE_COLOURS[name]
  if (service) return service
  const worker = /^worker-(\d+)$/.exec(name)
  if (worker) return WORKER_COLOURS[(Number(worker[1]) - 1) % WORKER_COLOURS.length] ?? OTHER_COLOUR
  return OTHER_COLOUR
}

/** `HH:MM:SS.mmm` in UTC, as the services' pino lines are shown. */
function clock(date: Date): string {
  return date.toISOString().slice(11, 23)
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
  const time = date && !Number.isNaN(date.getTime()) ? clock(date) : ''
  const fields = Object.entries(record)
    // `service`/`worker` repeat what the [name] prefix already says.
    .filter(([key, value]) => !DROPPED.has(key) && !(key === 'worker' && value === name))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? quote(value) : JSON.stringify(value)}`)
  return [time, level.padEnd(5), String(record.msg ?? ''), ...fields].filter(Boolean).join(' ')
}

function quote(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
}
