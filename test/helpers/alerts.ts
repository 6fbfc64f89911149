import type {Alert, AlertmanagerPayload} from '../../src/services/webhook/alertmanager-schema.js'

/** One firing Alertmanager alert (KedaLabWorkersAtMax), with overrides. */
export function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    status: 'firing',
    labels: {alertname: 'KedaLabWorkersAtMax', severity: 'warning', namespace: 'keda', deployment: 'worker', pod: 'worker-1'},
    annotations: {summary: 'Workers at their maximum replicas', description: 'The worker HPA has been at 10/10 for 30s.'},
    startsAt: '2026-11-28T08:00:00.123456789Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=up&g0.tab=1',
    fingerprint: 'c0ffee',
    ...overrides,
  }
}

/** An Alertmanager webhook notification (payload version 4) carrying `alerts`. */
export function alertmanagerPayload(alerts: Alert[], overrides: Partial<AlertmanagerPayload> = {}): AlertmanagerPayload {
  return {
    version: '4',
    groupKey: '{}:{alertname="KedaLabWorkersAtMax"}',
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'telegram',
    groupLabels: {alertname: 'KedaLabWorkersAtMax'},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
    ...overrides,
  }
}
