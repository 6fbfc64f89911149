import {Value} from 'typebox/value'
import {describe, expect, it} from 'vitest'

import {cancelRefusal, createTaskBody} from '../../src/services/api/routes/tasks.js'

describe('the modern task routes, piece by piece', () => {
  it('accepts a task body within the configured size, an optional failure step, and nothing else', () => {
    const body = createTaskBody({defaultIterations: 1000, maxIterations: 5000})
    for (const ok of [{}, {iterations: 0}, {iterations: 5000}, {iterations: 10, failAt: 1}, {failAt: 100}])
      expect(Value.Check(body, ok), JSON.stringify(ok)).toBe(true)
    for (const bad of [{iterations: 5001}, {iterations: -1}, {iterations: 1.5}, {failAt: 0}, {failAt: 101}, {colour: 'red'}, null, []]) {
      expect(Value.Check(body, bad), JSON.stringify(bad)).toBe(false)
    }
    // Swagger UI's example is the ordinary task.
    expect(body).toMatchObject({examples: [{iterations: 1000}]})
  })

  it('refuses a cancel with 404 for an unknown task and 409, saying why, for a running or finished one', () => {
    expect(cancelRefusal({outcome: 'not-found'})).toEqual({status: 404, body: {success: false, error: {message: 'Task not found.'}}})
    const running = cancelRefusal({outcome: 'conflict', reason: 'processing', status: 'Processing'})
    expect([running.status, running.body.error.message]).toEqual([409, expect.stringMatching(/^Task is already being processed and cannot be cancelled/)])
    const finished = cancelRefusal({outcome: 'conflict', reason: 'finished', status: 'Completed'})
    expect([finished.status, finished.body.error.message]).toEqual([409, 'Task has already finished (Completed); there is nothing to cancel.'])
  })
})
