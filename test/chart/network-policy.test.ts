/**
 * The NetworkPolicies the chart renders (real Helm 3 and 4), evaluated as "who may reach whom":
 * only the API port is reachable from outside; Redis (redis-ha's pods, selected by their labels)
 * only from the app, the KEDA operator and redis-ha itself; metrics ports only from the
 * monitoring namespace; DNS egress everywhere; the webhook alone may call out (Telegram, 443).
 */
import {describe, expect, it} from 'vitest'

import {type HelmMajor, renderChart} from '../helpers/helm.js'
import {allowed, type Endpoint} from './network-policy.js'

const NS = 'keda'
const app = (component: string): Endpoint => ({
  namespace: NS,
  labels: {'app.kubernetes.io/name': 'keda-lab', 'app.kubernetes.io/instance': 'keda-lab', 'app.kubernetes.io/component': component},
})
const api = app('api')
const worker = app('worker')
const webhook = app('webhook')
// Labels as the redis-ha and keda charts put them on their pods.
const redis: Endpoint = {namespace: NS, labels: {app: 'redis-ha', release: 'redis-ha'}}
const haproxy: Endpoint = {namespace: NS, labels: {app: 'redis-ha-haproxy', release: 'redis-ha'}}
const kedaOperator: Endpoint = {namespace: NS, labels: {app: 'keda-operator', 'app.kubernetes.io/name': 'keda-operator'}}
const kedaOperatorElsewhere: Endpoint = {namespace: 'keda-system', labels: {app: 'keda-operator'}}
const prometheus: Endpoint = {namespace: 'keda-monitoring', labels: {'app.kubernetes.io/name': 'prometheus'}}
const alertmanager: Endpoint = {namespace: 'keda-monitoring', labels: {'app.kubernetes.io/name': 'alertmanager'}}
const strangerHere: Endpoint = {namespace: NS, labels: {run: 'debug'}}
const strangerElsewhere: Endpoint = {namespace: 'default', labels: {run: 'debug'}}
const kubeDns: Endpoint = {namespace: 'kube-system', labels: {'k8s-app': 'kube-dns'}}
const internet: Endpoint = {external: true}

type Case = [string, Endpoint, Endpoint, number, ('TCP' | 'UDP')?]

const ALLOWED: Case[] = [
  ['anyone outside -> API port', internet, api, 8000],
  ['a pod of another namespace -> API port', strangerElsewhere, api, 8000],
  ['Prometheus -> API metrics', prometheus, api, 9001],
  ['Prometheus -> worker metrics', prometheus, worker, 9002],
  ['Prometheus -> webhook metrics', prometheus, webhook, 9003],
  ['Alertmanager -> webhook', alertmanager, webhook, 8080],
  ['API -> Sentinel', api, redis, 26379],
  ['API -> Redis', api, redis, 6379],
  ['worker -> Sentinel', worker, redis, 26379],
  ['worker -> Redis', worker, redis, 6379],
  ['worker -> HAProxy (standalone mode)', worker, haproxy, 6379],
  ['KEDA operator -> Sentinel', kedaOperator, redis, 26379],
  ['KEDA operator -> Redis', kedaOperator, redis, 6379],
  ['KEDA operator -> HAProxy', kedaOperator, haproxy, 6379],
  ['Redis replica -> master (replication)', redis, redis, 6379],
  ['Sentinel -> Sentinel (gossip)', redis, redis, 26379],
  ['HAProxy -> Redis (health checks)', haproxy, redis, 6379],
  ['Prometheus -> redis_exporter', prometheus, redis, 9121],
  ['API -> DNS (UDP)', api, kubeDns, 53, 'UDP'],
  ['worker -> DNS (TCP)', worker, kubeDns, 53, 'TCP'],
  ['webhook -> DNS', webhook, kubeDns, 53, 'UDP'],
  ['webhook -> Telegram (HTTPS)', webhook, internet, 443],
  ['webhook -> Sentinel', webhook, redis, 26379],
  ['webhook -> Redis (message ids per alert, the one-press guard, the polling lease)', webhook, redis, 6379],
  ['webhook -> Alertmanager API (silences from the buttons)', webhook, alertmanager, 9093],
]

const DENIED: Case[] = [
  ['anyone outside -> API metrics', internet, api, 9001],
  ['a pod of the app namespace -> API metrics', strangerHere, api, 9001],
  ['anyone outside -> worker metrics', internet, worker, 9002],
  ['a pod of the app namespace -> worker metrics', strangerHere, worker, 9002],
  ['anyone outside -> webhook', internet, webhook, 8080],
  ['a pod of another namespace -> webhook', strangerElsewhere, webhook, 8080],
  ['a pod of the app namespace -> Redis', strangerHere, redis, 6379],
  ['a pod of the app namespace -> Sentinel', strangerHere, redis, 26379],
  ['a pod of another namespace -> Redis', strangerElsewhere, redis, 6379],
  ['anyone outside -> HAProxy', internet, haproxy, 6379],
  ['Prometheus -> Redis data port', prometheus, redis, 6379],
  ['a KEDA in another namespace (not configured) -> Redis', kedaOperatorElsewhere, redis, 6379],
  ['API -> the internet', api, internet, 443],
  ['worker -> the internet', worker, internet, 80],
  ['API -> webhook', api, webhook, 8080],
  ['webhook -> plain HTTP outside', webhook, internet, 80],
  ['webhook -> Prometheus', webhook, prometheus, 9090],
]

const MAJORS: HelmMajor[] = [3, 4]

describe.each(MAJORS)('NetworkPolicies rendered by Helm %i', (major) => {
  it('allow exactly the intended connections', async () => {
    const objects = await renderChart(major)
    for (const [what, from, to, port, protocol] of ALLOWED) {
      expect(allowed(objects, NS, from, to, port, protocol), `allowed: ${what}`).toBe(true)
    }
    for (const [what, from, to, port, protocol] of DENIED) {
      expect(allowed(objects, NS, from, to, port, protocol), `denied: ${what}`).toBe(false)
    }
  })

  it('admit a reused KEDA from another namespace once networkPolicy.keda.namespace names it', async () => {
    const objects = await renderChart(major, {values: {networkPolicy: {keda: {namespace: 'keda-system'}}}})
    expect(allowed(objects, NS, kedaOperatorElsewhere, redis, 26379)).toBe(true)
    expect(allowed(objects, NS, kedaOperator, redis, 26379)).toBe(false)
  })

  it('follow a custom monitoring namespace', async () => {
    const objects = await renderChart(major, {values: {monitoring: {namespace: 'observability'}}})
    const otherPrometheus: Endpoint = {namespace: 'observability', labels: {}}
    expect(allowed(objects, NS, otherPrometheus, worker, 9002)).toBe(true)
    expect(allowed(objects, NS, prometheus, worker, 9002)).toBe(false)
  })

  it('leave everything open when networkPolicy.enabled is false', async () => {
    const objects = await renderChart(major, {values: {networkPolicy: {enabled: false}}})
    expect(allowed(objects, NS, strangerHere, redis, 6379)).toBe(true)
    expect(allowed(objects, NS, internet, api, 9001)).toBe(true)
  })
})
