/**
 * The one Kube adapter path the real API server here cannot answer: the service proxy REACHING a
 * Service's pod (the control plane's pods have loopback IPs, which Endpoints refuse, so its service
 * proxy only ever answers "no endpoints available"). Against the loopback fake API server, the real
 * @kubernetes/client-node (through createKube) sends the path, port, query and headers through.
 * Every other method runs against the real API server: test/cluster/kube-adapter.test.ts.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createKube, type Kube} from '../../src/adapters/kube/index.js'
import {type FakeKubeApi, startFakeKubeApi} from '../fakes/kube-api.js'

let api: FakeKubeApi
let kube: Kube
let dir: string

beforeAll(async () => {
  api = await startFakeKubeApi({version: {major: '1', minor: '30+', gitVersion: 'v1.30.4'}})
  dir = mkdtempSync(join(tmpdir(), 'kube-adapter-'))
  kube = await createKube({kubeconfig: api.writeKubeconfig(dir)})
})

afterAll(async () => {
  await api?.close()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('createKube against the fake API: the service proxy reaching a pod', () => {
  it('sends requests through the service proxy, with query and headers', async () => {
    api.put({apiVersion: 'v1', kind: 'Service', metadata: {name: 'prom', namespace: 'mon'}, spec: {ports: [{port: 9090}]}})
    api.setProxy('mon', 'prom', (r) => ({body: {path: r.path, port: r.port, query: r.query, cookie: r.headers.cookie}}))
    const res = await kube.proxyService({
      namespace: 'mon',
      service: 'prom',
      port: 9090,
      path: '/api/v1/query',
      query: {query: 'up{job="x"}'},
      headers: {Cookie: 'a=b'},
    })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({path: '/api/v1/query', port: '9090', query: {query: 'up{job="x"}'}, cookie: 'a=b'})
  })
})
