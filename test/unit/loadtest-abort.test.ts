import {getEventListeners} from 'node:events'

import {describe, expect, it} from 'vitest'

import {onAbort} from '../../src/lab/loadtest/abort.js'

describe('onAbort (one listener per signal, however many wait on it)', () => {
  it('calls every waiter still registered once, and only those', () => {
    const controller = new AbortController()
    const calls: number[] = []
    const forgets = Array.from({length: 1000}, (_, i) => onAbort(controller.signal, () => calls.push(i)))
    // A thousand waiters, one EventTarget listener.
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    for (let i = 0; i < 1000; i += 2) forgets[i]?.()
    controller.abort()
    expect(calls).toEqual(Array.from({length: 500}, (_, i) => 2 * i + 1))
    controller.abort()
    expect(calls).toHaveLength(500)
  })

  it('on a signal already aborted, calls the waiter at once', () => {
    const calls: string[] = []
    const forget = onAbort(AbortSignal.abort(), () => calls.push('now'))
    expect(calls).toEqual(['now'])
    forget()
    expect(calls).toEqual(['now'])
  })

  it('keeps signals apart', () => {
    const a = new AbortController()
    const b = new AbortController()
    const calls: string[] = []
    onAbort(a.signal, () => calls.push('a'))
    onAbort(b.signal, () => calls.push('b'))
    b.abort()
    expect(calls).toEqual(['b'])
  })
})
