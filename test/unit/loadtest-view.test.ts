import {describe, expect, it} from 'vitest'

import type {SecondRecord} from '../../src/lab/loadtest/records.js'
import {createLoadTestView, plainLine, renderFrame, squeeze, VIEW_WIDTH} from '../../src/ui/loadtest-view.js'
import {rampShape, simulateRun} from '../helpers/loadtest-records.js'

const SEED = 4242
const strip = (s: string) => s.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '')

function records(): SecondRecord[] {
  console.log(`loadtest-view: simulated ramp, seed ${SEED}`)
  return simulateRun({
    seed: SEED,
    vus: rampShape(20, 20, 40),
    tailS: 40,
    minWorkers: 1,
    maxWorkers: 6,
    tasksPerWorker: 2,
    workerRate: 0.5,
    scaleDelayS: 3,
    scaleDownAfterS: 8,
    failedSamples: [30],
  })
}

describe('loadtest live view', () => {
  it('draws every frame within 80 columns, coloured or not, with the figures of the last second', () => {
    const rs = records()
    for (let n = 1; n <= rs.length; n++) {
      for (const color of [false, true]) {
        const lines = renderFrame(rs.slice(0, n), {profile: 'ramp', plannedS: 80, color})
        for (const l of lines) expect(strip(l).length, `frame ${n}: ${l}`).toBeLessThanOrEqual(VIEW_WIDTH)
      }
    }
    const at = rs[45] as SecondRecord
    const frame = renderFrame(rs.slice(0, 46), {profile: 'ramp', plannedS: 80}).join('\n')
    expect(frame).toContain(`keda-lab loadtest · ramp · 0:46 / 1:20 · ${at.stage}`)
    expect(frame).toContain(`VUs ${at.vus} · req/s add ${at.requests.add}, status ${at.requests.status}`)
    expect(frame).toContain(`workers ${at.scaling?.workers}`)
    expect(frame).toContain(`queue ${at.scaling?.queueWaiting} waiting, ${at.scaling?.queueActive} active`)
    expect(frame).toMatch(/queue depth \(waiting \+ active\), 46 s\n/)
    // The chart's top label is the highest backlog seen so far.
    const peak = Math.max(...rs.slice(0, 46).map((r) => (r.scaling?.queueWaiting ?? 0) + (r.scaling?.queueActive ?? 0)))
    expect(frame).toMatch(new RegExp(`^ +${peak} [┤┼]`, 'm'))
    // A narrower terminal gets narrower lines (no wrap to break the redraw).
    for (const l of renderFrame(rs, {profile: 'ramp', width: 60})) expect(l.length).toBeLessThanOrEqual(60)
  })

  it('redraws in place in a terminal, prints a plain line every 5 s without one, and nothing under --json', () => {
    const rs = records()
    const out = {tty: '', plain: '', json: ''}
    const views = (['tty', 'plain', 'json'] as const).map((mode) => createLoadTestView({mode, profile: 'ramp', write: (t) => (out[mode] += t)}))
    for (const r of rs.slice(0, 12)) for (const v of views) v.update(r)
    for (const v of views) v.stop()
    expect(out.json).toBe('')
    const plain = out.plain.trimEnd().split('\n')
    // 12 seconds: two lines of 5 s, and the remaining 2 s at the stop.
    expect(plain).toHaveLength(3)
    expect(plain[0]).toMatch(
      /^t=5s · ramp 1\/3 · VUs \d+ · req\/s add [\d.]+ status [\d.]+ · add p95 .* · status p95 .* · errors \d+ · checks .* · queue \d+\+\d+ · workers \d+$/,
    )
    expect(plain[2]).toMatch(/^t=12s /)
    expect(out.plain).not.toContain('\u001B')
    // Each frame after the first moves back over the previous frame's lines, in one synchronized write.
    const frames = out.tty.split('\u001B[?2026h').slice(1)
    expect(frames).toHaveLength(12)
    expect(frames[0]?.startsWith('\u001B[?25l')).toBe(true)
    const height = (f: string | undefined) => (f ?? '').split('\n').length - 1
    for (let i = 1; i < frames.length; i++) expect(frames[i]?.startsWith(`\u001B[${height(frames[i - 1])}F`), `frame ${i}`).toBe(true)
    expect(out.tty.endsWith('\u001B[?25h')).toBe(true)
  })

  it("squeezes a long run into the chart keeping each bucket's peak", () => {
    expect(squeeze([1, 5, 2, 2, 9, 0], 3)).toEqual([5, 2, 9])
    expect(squeeze([1, 2], 5)).toEqual([1, 2])
  })

  it('puts a note above the frame in a terminal and redraws the frame below it', () => {
    const rs = records()
    let tty = ''
    const view = createLoadTestView({mode: 'tty', profile: 'ramp', write: (t) => (tty += t)})
    for (const r of rs.slice(0, 3)) view.update(r)
    const before = tty.length
    view.note('Stopping: no new iterations')
    const after = tty.slice(before)
    const height = renderFrame(rs.slice(0, 3), {profile: 'ramp'}).length
    expect(after.startsWith(`\u001B[?2026h\u001B[${height}F\u001B[JStopping: no new iterations\n`)).toBe(true)
    expect(strip(after)).toContain('keda-lab loadtest · ramp · 0:03')
  })

  it('has no plain line before the first second', () => {
    expect(plainLine([], 5)).toBe('')
  })
})
