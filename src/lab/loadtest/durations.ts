/**
 * Durations and rates as load-test users write them: `500ms`, `30s`, `1m`, `1m30s`, `2h`, and
 * rates `5/s`, `120/m`, `2.5` (per second). Parsers return undefined on bad input; the callers say
 * which flag or line was wrong.
 */

const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}

/** Milliseconds of `30s`, `1m30s`, `500ms`, `1.5s`, `2h`; a bare number is seconds. undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim()
  if (s === '') return undefined
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== s) return undefined
  let ms = 0
  for (const [, value, unit] of parts) ms += Number(value) * (UNIT_MS[unit as string] as number)
  return ms
}

/** `90000` → `1m30s`, `1500` → `1.5s`, `250` → `250ms`: short and readable, for summaries and --list. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  if (ms < 1000) return `${round(ms, 1)}ms`
  if (ms < 60_000) return `${round(ms / 1000, 2)}s`
  const h = Math.floor(ms / 3_600_000)
  const m = Math.floor((ms % 3_600_000) / 60_000)
  const s = round((ms % 60_000) / 1000, 1)
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}` || '0s'
}

/** Iterations per second of `5/s`, `120/m`, `3/h`, `2.5` (per second). undefined when not a rate. */
export function parseRate(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|m|h|sec|min))?\s*$/.exec(text)
  if (!match) return undefined
  const per = match[2] ?? 's'
  const div = per.startsWith('m') ? 60 : per === 'h' ? 3600 : 1
  return Number(match[1]) / div
}

/** A rate for people: `5/s`, `0.5/s`. */
export function formatRate(perSecond: number): string {
  return `${round(perSecond, 3)}/s`
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
