/**
 * Kubernetes' quantity grammar (apimachinery resource.ParseQuantity), value by value. The real API
 * server's own canonical forms are checked in test/cluster/quantity.test.ts.
 */
import {describe, expect, it} from 'vitest'

import {parseCpuMillis, parseMemoryBytes, parseQuantity} from '../../src/adapters/kube/quantity.js'
import {KedaLabError} from '../../src/errors.js'

const nanos = (text: string) => parseQuantity(text).nanos

describe('parseQuantity: the grammar', () => {
  it('decimal SI suffixes n u m "" k M G T P E', () => {
    expect([nanos('1n'), nanos('1u'), nanos('1m'), nanos('1'), nanos('1k'), nanos('1M'), nanos('1G')]).toEqual([
      1n,
      1000n,
      1_000_000n,
      10n ** 9n,
      10n ** 12n,
      10n ** 15n,
      10n ** 18n,
    ])
    expect([nanos('1T'), nanos('1P'), nanos('1E')]).toEqual([10n ** 21n, 10n ** 24n, 10n ** 27n])
  })

  it('binary SI suffixes Ki … Ei', () => {
    expect(['1Ki', '1Mi', '1Gi', '1Ti', '1Pi', '1Ei'].map(nanos)).toEqual([10, 20, 30, 40, 50, 60].map((p) => 2n ** BigInt(p) * 10n ** 9n))
    expect(nanos('0.5Gi')).toBe(2n ** 29n * 10n ** 9n)
  })

  it('decimal exponents e/E with a signed integer; a bare E is exa, a bare e is no suffix', () => {
    expect([nanos('1e9'), nanos('1E9'), nanos('1e+3'), nanos('1e-3'), nanos('2.5e2')]).toEqual([
      10n ** 18n,
      10n ** 18n,
      10n ** 12n,
      10n ** 6n,
      250n * 10n ** 9n,
    ])
    expect(nanos('1E')).toBe(10n ** 27n)
    expect(() => parseQuantity('1e')).toThrow(/unknown suffix "e"/)
  })

  it('signs and the forms of a number: 1, 1.5, 1., .5', () => {
    expect([nanos('+1'), nanos('-1'), nanos('1.'), nanos('.5'), nanos('-.5m'), nanos('0')]).toEqual([
      10n ** 9n,
      -(10n ** 9n),
      10n ** 9n,
      5n * 10n ** 8n,
      -500_000n,
      0n,
    ])
  })

  it('takes a missing number as 0, as the API server does (seen on the real one)', () => {
    expect(['.', '+', '-', 'm', 'Ki', 'e3', 'E', '.m'].map(nanos)).toEqual([0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n])
  })

  it('rounds what is finer than a nano up to the next nano, away from zero (as the API server does)', () => {
    expect([nanos('0.1n'), nanos('1e-10'), nanos('-0.1n'), nanos('1.0000000001')]).toEqual([1n, 1n, -1n, 10n ** 9n + 1n])
  })

  it('rejects what the API server rejects, saying what is wrong and how to write it', () => {
    for (const bad of ['', ' ', 'junk', '1x', '1KI', '1ki', '1Kib', '1.5.3', '1e1.5', '1e', '1b', '--1', '1m0'])
      expect(() => parseQuantity(bad), bad).toThrow(KedaLabError)
    const error = (() => {
      try {
        parseQuantity('2kb')
      } catch (e) {
        return e as KedaLabError
      }
    })()
    expect(error?.message).toBe('"2kb" is not a Kubernetes quantity: unknown suffix "kb"')
    expect(error?.hint).toMatch(/Ki Mi Gi/)
  })
})

describe('parseCpuMillis / parseMemoryBytes: MilliValue() and Value(), rounded up', () => {
  it('gives the right answers where the hand-written parsers did not', () => {
    // 250u is a quarter of a millicore (was 250000), 2k is 2000 cores (was 2000 millicores), 1E9 is 10^9 bytes (was 0).
    expect([parseCpuMillis('250u'), parseCpuMillis('2k'), parseMemoryBytes('1E9')]).toEqual([1, 2_000_000, 1e9])
    expect(() => parseMemoryBytes('8GB')).toThrow(/unknown suffix "GB"/)
  })

  it('the usual node figures', () => {
    expect([parseCpuMillis('4'), parseCpuMillis('3800m'), parseCpuMillis('0.5'), parseCpuMillis('250000000n'), parseCpuMillis('1500001n')]).toEqual([
      4000, 3800, 500, 250, 2,
    ])
    expect([
      parseMemoryBytes('16318948Ki'),
      parseMemoryBytes('512M'),
      parseMemoryBytes('1.5Ki'),
      parseMemoryBytes('100m'),
      parseMemoryBytes(undefined),
    ]).toEqual([16_318_948 * 1024, 512e6, 1536, 1, 0])
  })
})
