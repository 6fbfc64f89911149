import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {readAddReply, readStatusReply} from '../../src/lab/loadtest/scenario.js'
import {checkProperty, FUZZ_SEED} from '../helpers/fuzz.js'

/** What the checks read, the slow sure way: JSON.parse, then the fields (undefined when not there). */
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
function parsed(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
function referenceAdd(text: string) {
  const b = parsed(text)
  const r = isObject(b) && isObject(b.result) ? b.result : undefined
  return {success: isObject(b) ? b.success : undefined, id: r?.id, message: r?.message}
}
function referenceStatus(text: string) {
  const b = parsed(text)
  const p = isObject(b) && isObject(b.result) && isObject(b.result.progress) ? b.result.progress : undefined
  return {success: isObject(b) ? b.success : undefined, progress: p}
}

// Strings the fast path must read exactly or hand over: quotes, backslashes, control characters, unicode.
const text = fc.oneof(fc.string({unit: 'grapheme', maxLength: 12}), fc.constantFrom('', '"', '\\', '\n', '\u0000', 'a"b', 'Task queued.', 'Completed', 'é ✓'))
const value = fc.oneof(text, fc.boolean(), fc.integer(), fc.constant(null))

describe(`the scenario reads the API's answers without JSON.parse when it can (fast-check seed ${FUZZ_SEED})`, () => {
  it("the add: the same as JSON.parse for the serializer's form, other key orders, spaces and any text", async () => {
    await checkProperty(
      fc.property(
        fc.record({success: value, id: value, message: fc.oneof(fc.constant('Task queued.'), value)}),
        fc.boolean(),
        fc.boolean(),
        (r, reorder, spaced) => {
          const body = reorder ? {result: {message: r.message, id: r.id}, success: r.success} : {success: r.success, result: {id: r.id, message: r.message}}
          const json = JSON.stringify(body, null, spaced ? 1 : undefined)
          expect(readAddReply(json)).toEqual(referenceAdd(json))
          // Cut anywhere: never JSON of the right shape, so never read as one.
          const cut = json.slice(0, Math.floor(json.length / 2))
          expect(readAddReply(cut)).toEqual(referenceAdd(cut))
        },
      ),
      500,
    )
  })

  it("the poll: the same as JSON.parse for the serializer's form, extra fields and any text", async () => {
    await checkProperty(
      fc.property(fc.record({status: value, progress: value, timeElapsed: value}), fc.boolean(), (p, extra) => {
        const json = JSON.stringify({success: true, result: {progress: extra ? {...p, more: 1} : p}})
        expect(readStatusReply(json)).toEqual(referenceStatus(json))
      }),
      500,
    )
  })

  it("the API's usual answers take the fast path and read right", () => {
    expect(readAddReply('{"success":true,"result":{"id":"42","message":"Task queued."}}')).toEqual({success: true, id: '42', message: 'Task queued.'})
    expect(readStatusReply('{"success":true,"result":{"progress":{"status":"Completed","progress":"100.0","timeElapsed":"1.2345"}}}')).toEqual({
      success: true,
      progress: {status: 'Completed', progress: '100.0', timeElapsed: '1.2345'},
    })
    // An escaped quote in the id is JSON's, not the text's: read through JSON.parse.
    expect(readAddReply('{"success":true,"result":{"id":"a\\"b","message":"Task queued."}}').id).toBe('a"b')
    expect(readAddReply('not json')).toEqual({success: undefined, id: undefined, message: undefined})
  })
})
