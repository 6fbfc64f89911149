import {afterEach, describe, expect, it, vi} from 'vitest'

import {isoNow, isoTimestamp} from '../../src/services/shared/clock.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('isoNow (ISO time formatted once per millisecond)', () => {
  it('follows the clock to the millisecond, in toISOString format', () => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2026-12-02T08:00:00.123Z'))
    expect(isoNow()).toBe('2026-12-02T08:00:00.123Z')
    expect(isoNow()).toBe('2026-12-02T08:00:00.123Z')
    vi.setSystemTime(new Date('2026-12-02T08:00:00.124Z'))
    expect(isoNow()).toBe('2026-12-02T08:00:00.124Z')
    // Backwards too (a clock step): never a stale string.
    vi.setSystemTime(new Date('2026-12-01T23:59:59.999Z'))
    expect(isoNow()).toBe('2026-12-01T23:59:59.999Z')
  })

  it("gives pino the same fragment as pino's isoTime", () => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2026-12-02T08:00:00.500Z'))
    expect(isoTimestamp()).toBe(',"time":"2026-12-02T08:00:00.500Z"')
  })
})
