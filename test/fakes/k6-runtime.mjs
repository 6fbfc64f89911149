/**
 * A stand-in for k6's JavaScript runtime, for test/unit/loadtest-k6-export.test.ts only: k6 is
 * AGPL and may not be run or downloaded here, so the exported script's default function is run
 * under Node with these modules in place of `k6`, `k6/http` and `k6/metrics`. `http` answers from
 * a script of canned responses (synchronously, as k6's does) and everything called is recorded
 * on `globalThis.k6Calls`.
 *
 * Used as `node --import ./k6-runtime.mjs runner.mjs`: it registers resolve/load hooks that serve
 * the three module names from this file's exports.
 */
import {registerHooks} from 'node:module'

const self = import.meta.url
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'k6' || specifier === 'k6/http' || specifier === 'k6/metrics') return {url: `${self}?module=${specifier}`, shortCircuit: true}
    return next(specifier, context)
  },
  load(url, context, next) {
    if (url.startsWith(`${self}?module=`)) {
      const name = url.slice(url.indexOf('=') + 1)
      const source = {
        k6: 'export const check = (...a) => globalThis.k6Fake.check(...a); export const sleep = (s) => globalThis.k6Fake.sleep(s)',
        'k6/http':
          'export default {get: (url, params) => globalThis.k6Fake.request("GET", url, null, params), post: (...a) => globalThis.k6Fake.request("POST", ...a)}',
        'k6/metrics':
          'export class Trend {constructor(n) {this.n = n} add(v) {globalThis.k6Fake.metric(this.n, v)}}; export class Counter {constructor(n) {this.n = n} add(v) {globalThis.k6Fake.metric(this.n, v)}}',
      }[name]
      return {format: 'module', source, shortCircuit: true}
    }
    return next(url, context)
  },
})

/** A k6-like response: `json(path)` reads a dotted path, and throws when the body is not JSON (as k6's does). */
function response(status, contentType, body) {
  return {
    status,
    headers: {'Content-Type': contentType},
    body,
    json(path) {
      let value = JSON.parse(body)
      for (const key of path ? path.split('.') : []) value = value?.[key]
      return value
    },
  }
}

const calls = []
globalThis.k6Calls = calls
globalThis.__ENV = {}
/** Answers: the add, then `Processing` once and `Completed`. */
const statuses = ['Processing', 'Completed']
globalThis.k6Fake = {
  request(method, url, body, params) {
    calls.push({kind: 'request', method, url, body, tags: params?.tags, headers: params?.headers})
    if (method === 'POST' && url.endsWith('/api/tasks/add'))
      return response(200, 'application/json', JSON.stringify({success: true, result: {id: '42', message: 'Task queued.'}}))
    if (method === 'POST' && url.endsWith('/api/tasks')) return response(202, 'application/json', JSON.stringify({id: '42', status: 'Queued'}))
    const status = statuses.shift() ?? 'Completed'
    return response(200, 'application/json', JSON.stringify({success: true, result: {progress: {status, progress: '50', timeElapsed: '1.5'}}}))
  },
  check(value, checks) {
    let all = true
    for (const [name, fn] of Object.entries(checks)) {
      const ok = fn(value) === true
      calls.push({kind: 'check', name, ok})
      all &&= ok
    }
    return all
  },
  sleep(seconds) {
    calls.push({kind: 'sleep', seconds})
  },
  metric(name, value) {
    calls.push({kind: 'metric', name, value})
  },
}
