import {connect} from 'node:net'

import Fastify from 'fastify'
import {describe, expect, it} from 'vitest'

import {addRequestHooks} from '../../src/services/api/app.js'
import {markOptionalBodies} from '../../src/services/api/docs.js'
import {clientErrorHandler, createErrorHandler, createNotFound, formatValidation, notFoundBody} from '../../src/services/api/http-errors.js'
import {OPTIONAL_BODY} from '../../src/services/api/route-deps.js'
import {createRouteTable} from '../../src/services/api/route-table.js'
import {RedisUnavailableError} from '../../src/services/api/task-redis.js'
import {acceptEmptyJsonBody} from '../../src/services/shared/json-body.js'

describe('the API app, piece by piece', () => {
  it("names the field of Ajv's first error", () => {
    const error = (instancePath: string, keyword: string, params: Record<string, unknown>, message?: string) => ({
      instancePath,
      schemaPath: '',
      keyword,
      params,
      message,
    })
    expect(formatValidation([error('/iterations', 'maximum', {limit: 1000}, 'must be <= 1000')], 'body').message).toBe('body.iterations must be <= 1000')
    expect(formatValidation([error('', 'additionalProperties', {additionalProperty: 'colour'})], 'body').message).toBe('body.colour is not a known field')
    expect(formatValidation([error('/a/b', 'type', {}, 'must be string')], 'querystring').message).toBe('querystring.a.b must be string')
    expect(formatValidation([], 'body').message).toBe('body is invalid')
  })

  it('says "Task not found." under /api/tasks/ and names any other unknown route, shortened', () => {
    expect(notFoundBody('GET', '/api/tasks/nope')).toEqual({success: false, error: {message: 'Task not found.'}})
    expect(notFoundBody('GET', '/nope').error.message).toBe('Route GET /nope not found. The API is described at /docs.')
    expect(notFoundBody('GET', `/${'x'.repeat(200)}`).error.message).toBe(`Route GET /${'x'.repeat(79)}… not found. The API is described at /docs.`)
  })

  it('answers 405 with Allow for a known path under another method, 404 otherwise, always in the error shape', async () => {
    const routes = createRouteTable()
    routes.add('/api/tasks', ['POST', 'OPTIONS'])
    const app = Fastify()
    app.setNotFoundHandler(createNotFound(routes))
    try {
      const wrongMethod = await app.inject({method: 'PUT', url: '/api/tasks?x=1'})
      expect([wrongMethod.statusCode, wrongMethod.headers.allow, wrongMethod.headers['content-type']]).toEqual([405, 'OPTIONS, POST', 'application/json'])
      expect(wrongMethod.json().error.message).toBe('Method PUT is not allowed on /api/tasks; use OPTIONS, POST.')
      const unknown = await app.inject({method: 'GET', url: '/api/nothing'})
      expect([unknown.statusCode, unknown.json().success]).toEqual([404, false])
    } finally {
      await app.close()
    }
  })

  it('answers 503 while Redis is unavailable, 4xx with their message, 5xx with nothing but "Internal Server Error"', async () => {
    const app = Fastify({bodyLimit: 10})
    app.setErrorHandler(createErrorHandler({bodyLimit: 10, notFound: createNotFound(createRouteTable())}))
    acceptEmptyJsonBody(app)
    const fail = (error: Error) => async () => {
      throw error
    }
    app.get('/redis', fail(new RedisUnavailableError('down')))
    app.get('/teapot', fail(Object.assign(new Error('short and stout'), {statusCode: 418})))
    app.get('/bug', fail(new Error('secret detail')))
    app.post('/body', async () => ({ok: true}))
    try {
      const redis = await app.inject('/redis')
      expect([redis.statusCode, redis.headers['retry-after'], redis.json().error.message]).toEqual([
        503,
        '1',
        'Service Unavailable: the task queue (Redis) is not reachable. Retry shortly.',
      ])
      expect([(await app.inject('/teapot')).statusCode, (await app.inject('/teapot')).json().error.message]).toEqual([418, 'short and stout'])
      const bug = await app.inject('/bug')
      expect([bug.statusCode, bug.json().error.message]).toEqual([500, 'Internal Server Error'])
      const headers = {'content-type': 'application/json'}
      const invalid = await app.inject({method: 'POST', url: '/body', headers, payload: '{x'})
      expect([invalid.statusCode, invalid.json().error.message]).toEqual([400, expect.stringMatching(/^Invalid JSON body: /)])
      const large = await app.inject({method: 'POST', url: '/body', headers, payload: '{"a":"0123456789"}'})
      expect([large.statusCode, large.json().error.message]).toEqual([413, 'Request body is too large (limit 10 bytes).'])
    } finally {
      await app.close()
    }
  })

  it('sends JSON as bare application/json and counts each response by its route', async () => {
    const observed: unknown[] = []
    const app = Fastify()
    addRequestHooks(app, {observeRequest: (...args) => observed.push(args.slice(0, 3))})
    app.get('/thing/:id', async () => ({ok: true}))
    try {
      const response = await app.inject('/thing/1')
      expect(response.headers['content-type']).toBe('application/json')
      await app.inject('/other')
      expect(observed).toEqual([
        ['GET', '/thing/:id', 200],
        ['GET', 'unmatched', 404],
      ])
    } finally {
      await app.close()
    }
  })

  it('marks a flagged request body optional in the OpenAPI document and drops the flag', () => {
    const document = {
      paths: {
        '/api/tasks': {post: {[OPTIONAL_BODY]: true, requestBody: {required: true}}, get: {}},
        '/api/queue': {get: {requestBody: {required: true}}},
      },
    }
    expect(markOptionalBodies(document)).toEqual({
      paths: {'/api/tasks': {post: {requestBody: {required: false}}, get: {}}, '/api/queue': {get: {requestBody: {required: true}}}},
    })
  })

  it("answers what Node's HTTP parser refuses in the API's error shape: 431 for a request line over 16 KiB", async () => {
    const app = Fastify({clientErrorHandler})
    await app.listen({host: '127.0.0.1', port: 0})
    try {
      const {port} = app.server.address() as {port: number}
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(`GET /api/tasks/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`))
        let text = ''
        socket.on('data', (chunk) => (text += chunk))
        socket.on('end', () => resolve(text))
        socket.on('error', reject)
      })
      expect(answer).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\nContent-Type: application\/json\r\n/)
      expect(answer).toContain('"The request line and headers are too large (16 KiB at most). Task ids are UUIDs: check the URL."')
    } finally {
      await app.close()
    }
  })
})
