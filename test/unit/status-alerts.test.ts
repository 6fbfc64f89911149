/**
 * The alerts `keda-lab status` reports, read from a REAL Alertmanager with the exact request status
 * sends through the service proxy (path and query of STATUS_SERVICES.alertmanager): a firing lab
 * alert is listed; Watchdog (always firing on purpose) and a silenced alert are not.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseAlerts, STATUS_SERVICES} from '../../src/status/cluster.js'
import {type Alertmanager, startAlertmanager} from '../helpers/alertmanager.js'
import {notYet, waitFor} from '../helpers/processes.js'

let alertmanager: Alertmanager
let url = ''

beforeAll(async () => {
  alertmanager = await startAlertmanager({config: 'route:\n  receiver: none\nreceivers:\n  - name: none\n'})
  url = alertmanager.url
})

afterAll(async () => {
  await alertmanager?.stop()
})

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${url}${path}`, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})
  expect(res.status, await res.clone().text()).toBe(200)
}

describe('alerts firing now, from a real Alertmanager', () => {
  it('lists the firing lab alert with severity, start and summary; leaves out Watchdog and silenced alerts', async () => {
    const startsAt = new Date(Date.now() - 60_000).toISOString()
    await post('/api/v2/alerts', [
      {
        labels: {alertname: 'KedaLabWorkersAtMax', severity: 'warning', namespace: 'keda'},
        annotations: {summary: 'Workers at their maximum replicas'},
        startsAt,
      },
      {labels: {alertname: 'Watchdog', severity: 'none'}, startsAt},
      {labels: {alertname: 'KedaLabQueueBacklogGrowing', severity: 'warning'}, startsAt},
    ])
    await post('/api/v2/silences', {
      matchers: [{name: 'alertname', value: 'KedaLabQueueBacklogGrowing', isRegex: false, isEqual: true}],
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      createdBy: 'keda-lab test',
      comment: 'status test',
    })
    const {path} = STATUS_SERVICES.alertmanager
    const query = new URLSearchParams({active: 'true', silenced: 'false', inhibited: 'false'})
    const alerts = await waitFor(
      async () => {
        const res = await fetch(`${url}${path}?${query}`)
        const parsed = parseAlerts({status: res.status, headers: {}, body: await res.text()})
        // The silence applies asynchronously; until it does the silenced alert is still listed.
        return parsed.firing.length === 1 ? parsed : notYet(JSON.stringify(parsed.firing.map((a) => a.name)))
      },
      {timeoutMs: 20_000, intervalMs: 200},
    )
    expect(alerts.available).toBe(true)
    expect(alerts.firing).toHaveLength(1)
    expect(alerts.firing[0]).toMatchObject({name: 'KedaLabWorkersAtMax', severity: 'warning', summary: 'Workers at their maximum replicas'})
    expect(Date.parse(alerts.firing[0]!.since!)).toBe(Date.parse(startsAt))
  })

  it('an answer that is not a list is a reason, not a crash', async () => {
    const res = await fetch(`${url}/api/v2/status`)
    expect(parseAlerts({status: res.status, headers: {}, body: await res.text()})).toEqual({
      available: false,
      firing: [],
      error: 'the answer is not a list of alerts',
    })
  })
})
