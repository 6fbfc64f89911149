/**
 * What `keda-lab loadtest` shows while it runs, from the record stream alone (records.ts):
 *
 * - in a terminal: one frame redrawn in place each second, at most 80 columns wide (stage and VUs
 *   or rate, req/s, p50/p95/p99 per step, errors and checks, queue and workers, and charts of the
 *   queue depth and the workers over the run). Each redraw is a single write wrapped in the
 *   terminal's synchronized-output mode, with the cursor hidden, so it does not flicker;
 * - without a terminal (CI, a pipe): one plain line every 5 s;
 * - under `--json`: nothing (stdout carries only the final JSON).
 */
import asciichart from 'asciichart'

import {backlogOf} from '../lab/loadtest/facts.js'
import type {LatencyStats, SecondRecord, Step} from '../lab/loadtest/records.js'
import {STEPS} from '../lab/loadtest/records.js'

export type ViewMode = 'tty' | 'plain' | 'json'

export interface LoadTestViewOptions {
  mode: ViewMode
  /** Writes to the terminal (stdout); no newline added. */
  write(text: string): void
  /** The terminal's width now (default 80); the frame never exceeds min(80, columns). */
  columns?: () => number
  color?: boolean
  /** Shown in the frame's first line. */
  profile: string
  /** The planned duration of the load in seconds, when known (for "0:42 / 2:00"). */
  plannedS?: number
  /** Plain mode: seconds between two lines (default 5). */
  plainEveryS?: number
}

export interface LoadTestView {
  update(record: SecondRecord): void
  /** A line for people during the run (target, Ctrl-C notice): above the frame in a terminal, never under --json. */
  note(line: string): void
  /** Leaves the last frame on screen and gives the cursor back. */
  stop(): void
}

export const VIEW_WIDTH = 80
const CHART_POINTS = 62

const clock = (s: number) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`

/** A latency in a fixed width of 8 ("  4.1 ms", " 1.20 s"). */
export function fmtMs(n: number | undefined): string {
  if (n === undefined) return '       –'
  if (n >= 10_000) return `${(n / 1000).toFixed(1)} s`.padStart(8)
  if (n >= 1000) return `${(n / 1000).toFixed(2)} s`.padStart(8)
  return `${n.toFixed(n < 10 ? 1 : 0)} ms`.padStart(8)
}

/** The most recent latency figures of a step (the last second that had requests of it). */
function lastLatency(records: readonly SecondRecord[], step: Step): LatencyStats | undefined {
  for (let i = records.length - 1; i >= 0 && i >= records.length - 5; i--) {
    const l = records[i]?.latency[step]
    if (l) return l
  }
  return undefined
}

/** `values` squeezed into at most `points` buckets, each keeping its bucket's maximum. */
export function squeeze(values: readonly number[], points: number): number[] {
  if (values.length <= points) return [...values]
  const out: number[] = []
  for (let i = 0; i < points; i++) {
    const from = Math.floor((i * values.length) / points)
    const to = Math.floor(((i + 1) * values.length) / points)
    out.push(Math.max(...values.slice(from, Math.max(to, from + 1))))
  }
  return out
}

/** Carries the last known value over gaps (a failed sample), starting from 0. */
function filled(values: readonly (number | undefined)[]): number[] {
  let last = 0
  return values.map((v) => {
    if (v !== undefined) last = v
    return last
  })
}

/** The frame for the records so far, as lines of at most `width` columns (no colour codes counted). */
export function renderFrame(records: readonly SecondRecord[], o: {profile: string; plannedS?: number; width?: number; color?: boolean}): string[] {
  const width = Math.min(VIEW_WIDTH, o.width ?? VIEW_WIDTH)
  const last = records.at(-1)
  const lines: string[] = []
  const elapsed = last ? last.t + 1 : 0
  const planned = o.plannedS ? ` / ${clock(o.plannedS)}` : ''
  lines.push(`keda-lab loadtest · ${o.profile} · ${clock(elapsed)}${planned}${last?.stage ? ` · ${last.stage}` : last ? ' · after the load' : ''}`)
  if (!last) {
    lines.push('starting…')
    return lines.map((l) => l.slice(0, width))
  }
  const total = records.reduce(
    (a, r) => ({
      started: a.started + r.iterationsStarted,
      completed: a.completed + r.iterationsCompleted,
      dropped: a.dropped + r.droppedIterations,
      errors: a.errors + r.errors,
      passed: a.passed + r.checks.passed,
      failed: a.failed + r.checks.failed,
      tasks: a.tasks + r.tasksCompleted,
    }),
    {started: 0, completed: 0, dropped: 0, errors: 0, passed: 0, failed: 0, tasks: 0},
  )
  const load = last.targetRate !== undefined ? `rate ${last.targetRate.toFixed(1)}/s asked, ${last.vus} in flight` : `VUs ${last.vus}`
  lines.push(
    `${load} · req/s add ${last.requests.add}, status ${last.requests.status} · iterations ${total.completed}/${total.started}${total.dropped ? ` (${total.dropped} dropped)` : ''}`,
  )
  lines.push(`${''.padEnd(8)}${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'p99'.padStart(8)}   (last second)`)
  for (const step of STEPS) {
    const l = lastLatency(records, step)
    lines.push(`${step.padEnd(8)}${fmtMs(l?.p50)} ${fmtMs(l?.p95)} ${fmtMs(l?.p99)}`)
  }
  const checks = total.passed + total.failed
  const rate = checks > 0 ? `${((100 * total.passed) / checks).toFixed(checks > 1000 ? 2 : 1)}%` : '–'
  lines.push(`errors ${total.errors} · checks ${rate}${total.failed ? ` (${total.failed} failed)` : ''} · tasks completed ${total.tasks}`)
  const s = last.scaling
  if (!s) {
    lines.push('scaling: not watched')
  } else if (s.error !== undefined) {
    lines.push(`scaling: ${s.error}`.slice(0, width))
  } else {
    const so =
      s.scaledObjectReady === undefined ? '' : ` · ScaledObject ${s.scaledObjectReady ? 'Ready' : 'not Ready'}${s.scaledObjectActive ? ', Active' : ''}`
    const desired = s.workersDesired !== undefined && s.workersDesired !== s.workers ? ` → ${s.workersDesired}` : ''
    const api = s.apiReplicas !== undefined ? ` · API ${s.apiReplicas}${s.apiCpuPercent !== undefined ? ` (${s.apiCpuPercent}% CPU)` : ''}` : ''
    lines.push(`queue ${s.queueWaiting ?? '?'} waiting, ${s.queueActive ?? '?'} active · workers ${s.workers ?? '?'}${desired}${api}${so}`)
  }

  const sampled = records.filter((r) => r.scaling)
  if (sampled.length >= 2) {
    const points = Math.min(CHART_POINTS, width - 12)
    const queue = squeeze(filled(sampled.map((r) => (r.scaling?.error === undefined ? backlogOf(r.scaling) : undefined))), points)
    const workers = squeeze(filled(sampled.map((r) => (r.scaling?.error === undefined ? r.scaling?.workers : undefined))), points)
    const span = sampled.length > points ? `whole run, ${clock(sampled.length)}` : `${sampled.length} s`
    const c = o.color
    lines.push(`queue depth (waiting + active), ${span}`)
    lines.push(...chart(queue, 5, c ? asciichart.blue : undefined))
    if (workers.some((w) => w > 0)) {
      lines.push('workers')
      lines.push(...chart(workers, 6, c ? asciichart.green : undefined))
    }
  }
  return lines.map((l) => (visibleLength(l) > width ? l.slice(0, width) : l))
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes are what this pattern removes
const visibleLength = (line: string) => line.replace(/\u001B\[[0-9;]*m/g, '').length

function chart(values: number[], height: number, color: string | undefined): string[] {
  const max = Math.max(1, ...values)
  return asciichart
    .plot(values, {
      min: 0,
      max,
      height: Math.min(height, max),
      padding: '       ',
      format: (x) => String(Math.round(x)).padStart(7),
      ...(color ? {colors: [color]} : {}),
    })
    .split('\n')
}

/** One plain line for the last `n` records (without a terminal). */
export function plainLine(records: readonly SecondRecord[], n: number): string {
  const window = records.slice(-n)
  const last = window.at(-1)
  if (!last) return ''
  const secs = window.length
  const perS = (f: (r: SecondRecord) => number) => (window.reduce((a, r) => a + f(r), 0) / secs).toFixed(1)
  const checks = window.reduce((a, r) => ({p: a.p + r.checks.passed, f: a.f + r.checks.failed}), {p: 0, f: 0})
  const parts = [
    `t=${last.t + 1}s`,
    ...(last.stage ? [last.stage] : []),
    last.targetRate !== undefined ? `rate ${last.targetRate.toFixed(1)}/s, ${last.vus} in flight` : `VUs ${last.vus}`,
    `req/s add ${perS((r) => r.requests.add)} status ${perS((r) => r.requests.status)}`,
    ...STEPS.map((step) => `${step} p95 ${fmtMs(lastLatency(window, step)?.p95).trim()}`),
    `errors ${window.reduce((a, r) => a + r.errors, 0)}`,
    `checks ${checks.p + checks.f > 0 ? `${((100 * checks.p) / (checks.p + checks.f)).toFixed(1)}%` : '–'}`,
  ]
  const s = last.scaling
  if (s && s.error === undefined) parts.push(`queue ${s.queueWaiting ?? '?'}+${s.queueActive ?? '?'}`, `workers ${s.workers ?? '?'}`)
  else if (s?.error) parts.push(`scaling: ${s.error}`)
  return parts.join(' · ')
}

const HIDE_CURSOR = '\u001B[?25l'
const SHOW_CURSOR = '\u001B[?25h'
const SYNC_START = '\u001B[?2026h'
const SYNC_END = '\u001B[?2026l'

/** The view for a run; `update` with each record, `stop` at the end. */
export function createLoadTestView(o: LoadTestViewOptions): LoadTestView {
  const records: SecondRecord[] = []
  let drawn = 0
  let sincePlain = 0
  const every = o.plainEveryS ?? 5
  const draw = () => {
    const lines = renderFrame(records, {profile: o.profile, plannedS: o.plannedS, width: o.columns?.() ?? VIEW_WIDTH, color: o.color})
    // Back to the frame's first line, each line rewritten and cleared to its end, then whatever
    // an older, longer frame left below is cleared: one write, no blank moment.
    const up = drawn > 0 ? `\u001B[${drawn}F` : HIDE_CURSOR
    o.write(`${SYNC_START}${up}${lines.map((l) => `${l}\u001B[K\n`).join('')}\u001B[J${SYNC_END}`)
    drawn = lines.length
  }
  return {
    update(record) {
      records.push(record)
      if (o.mode === 'json') return
      if (o.mode === 'plain') {
        sincePlain++
        if (sincePlain >= every) {
          sincePlain = 0
          o.write(`${plainLine(records, every)}\n`)
        }
        return
      }
      draw()
    },
    note(line) {
      if (o.mode === 'json') return
      if (o.mode === 'plain' || drawn === 0) {
        o.write(`${line}\n`)
        return
      }
      // The note takes the frame's place; the frame is drawn again below it.
      o.write(`${SYNC_START}\u001B[${drawn}F\u001B[J${line}\n${SYNC_END}`)
      drawn = 0
      draw()
    },
    stop() {
      if (o.mode === 'plain' && sincePlain > 0) o.write(`${plainLine(records, sincePlain)}\n`)
      if (o.mode === 'tty' && drawn > 0) o.write(SHOW_CURSOR)
      // The last frame stays; what is printed after it goes below.
      drawn = 0
      sincePlain = 0
    },
  }
}
