/**
 * The short version of `npm run chaos` (test/chaos/run.ts): the real `keda-lab serve api` and
 * workers against three redis-server and three redis-sentinel on loopback, under load, a fresh
 * set per test. Each asserts the promise — every accepted task ends Completed or Failed with a reason,
 * none runs twice at the same time — and that the fault really happened; figures (error rate,
 * unavailability, recovery time) are measured by `npm run chaos`, never asserted here.
 */
import {describe, expect, it} from 'vitest'

import {runScenario, type ScenarioResult, scenarios, SHORT_SETTINGS} from './scenarios.js'

/**
 * What each short scenario must show to prove that its fault hit something. The single faults
 * of scenarios 1, 3a and 5 run together here (scenario 7); `npm run chaos` runs them apart.
 */
const SHORT: Record<string, (result: ScenarioResult) => void> = {
  '3b worker SIGTERM': (r) => {
    expect(r.notes.join(' ')).toMatch(/exit 0, [1-9]\d* task\(s\) handed back/)
    expect(r.rerun, 'the handed-back task was resumed by another worker').toBeGreaterThanOrEqual(1)
  },
  '4 every worker gone': (r) => expect(r.notes.join(' ')).toMatch(/workers stopped \(SIGTERM\)/),
  '7 combined': (r) => {
    expect(r.notes.join(' ')).toMatch(/master :\d+ SIGKILL.*chaos-worker-\d+ SIGKILL, API SIGTERM/)
    expect(r.rerun, 'the killed worker’s task ran again elsewhere').toBeGreaterThanOrEqual(1)
  },
}

const chosen = scenarios().filter((s) => Object.keys(SHORT).some((prefix) => s.name.startsWith(prefix)))
const control = scenarios().find((s) => s.name.startsWith('6c control'))!

describe('faults: no accepted task lost, none run twice at once (real services, Redis with Sentinels)', () => {
  it('runs every short scenario it names', () => {
    expect(chosen.map((s) => s.name.split(' (')[0])).toHaveLength(Object.keys(SHORT).length)
  })

  // Without it, "lost = 0" below could mean a harness blind to losses.
  it('control: with AOF off, every Redis server killed at once loses tasks, and the harness sees it', {timeout: 360_000}, async () => {
    const result = await runScenario(control, SHORT_SETTINGS)
    expect(control.promised).toBe(false)
    expect(result.lost, JSON.stringify(result, null, 1)).toBeGreaterThan(0)
    expect(result.lostWhy).toContain('not found (404)')
  })

  for (const scenario of chosen) {
    it(scenario.name, {timeout: 360_000}, async () => {
      const result = await runScenario(scenario, SHORT_SETTINGS)
      const summary = JSON.stringify(result, null, 1)
      expect(result.accepted, summary).toBeGreaterThan(0)
      // The promise: every accepted task reached an end, and no task ran twice at the same time.
      expect(result.lost, summary).toBe(0)
      expect(result.twice, summary).toBe(0)
      expect(result.completed + result.failedOnPurpose + result.failedOther, summary).toBe(result.accepted)
      // The tasks queued with failAt failed as asked; any other failure carries its reason.
      expect(result.failedOnPurpose, summary).toBeGreaterThan(0)
      for (const reason of result.failedReasons) expect(reason, summary).not.toBe('(no reason)')
      SHORT[Object.keys(SHORT).find((prefix) => scenario.name.startsWith(prefix))!]!(result)
    })
  }
})
