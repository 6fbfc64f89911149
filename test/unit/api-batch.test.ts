import {describe, expect, it} from 'vitest'

import {batched} from '../../src/services/api/batch.js'

/** A batched doubler that records the batches it ran. */
function doubler(maxBatch?: number) {
  const batches: number[][] = []
  const call = batched(async (items: number[]) => {
    batches.push(items)
    return items.map((item) => item * 2)
  }, maxBatch)
  return {call, batches}
}

describe('batched (group commit of one event-loop round)', () => {
  it('runs the calls of one round as one batch, in call order, each caller getting its own result', async () => {
    const {call, batches} = doubler()
    const results = await Promise.all([call(1), call(2), call(3)])
    expect(results).toEqual([2, 4, 6])
    expect(batches).toEqual([[1, 2, 3]])
  })

  it('runs a call made in a later round as a batch of its own, without waiting for more', async () => {
    const {call, batches} = doubler()
    expect(await call(1)).toBe(2)
    expect(await call(2)).toBe(4)
    expect(batches).toEqual([[1], [2]])
  })

  it('splits a round larger than maxBatch into batches of at most maxBatch', async () => {
    const {call, batches} = doubler(2)
    const results = await Promise.all([1, 2, 3, 4, 5].map(call))
    expect(results).toEqual([2, 4, 6, 8, 10])
    expect(batches).toEqual([[1, 2], [3, 4], [5]])
  })

  it("gives the batch's error to every caller of that batch, and only to them", async () => {
    let fail = true
    const call = batched(async (items: number[]) => {
      if (fail) throw new Error('Redis is down')
      return items
    })
    const failed = await Promise.allSettled([call(1), call(2)])
    expect(failed.map((result) => (result.status === 'rejected' ? (result.reason as Error).message : 'ok'))).toEqual(['Redis is down', 'Redis is down'])
    fail = false
    expect(await call(3)).toBe(3)
  })

  it('turns a synchronous throw and a wrong number of results into rejections', async () => {
    const throwing = batched((): Promise<number[]> => {
      throw new Error('bad arguments')
    })
    await expect(throwing(1)).rejects.toThrow('bad arguments')
    const short = batched(async (items: number[]) => items.slice(1))
    await expect(Promise.all([short(1), short(2)])).rejects.toThrow('a batch of 2 returned 1 results')
  })
})
