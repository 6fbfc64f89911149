/**
 * The webhook's `/status` answer built from `keda-lab status`'s report (the cluster path is tested
 * end to end on the real control plane in test/cluster/status.test.ts): Telegram's limits, hostile
 * text, and what it says when the cluster cannot be read.
 */
import {describe, expect, it} from 'vitest'

import type {ClusterStatusReport, ComponentStatus} from '../../src/status/model.js'
import {renderStatus} from '../../src/status/screen.js'
import {createAlertmanagerClient} from '../../src/services/webhook/alertmanager-client.js'
import {labStatusMessage, statusReport} from '../../src/services/webhook/status.js'
import {parseTelegramHtml} from '../fakes/telegram.js'
import {freePort} from '../helpers/processes.js'

const component = (i: number, title = `Component ${i}`): ComponentStatus => ({
  id: `c${i}`,
  title,
  namespace: 'lab',
  workload: `Deployment/c${i}`,
  state: 'ok',
  ready: 1,
  desired: 1,
  restarts: 0,
  version: '1.0',
  pods: [],
})

const report = (over: Partial<ClusterStatusReport> = {}): ClusterStatusReport => ({
  target: 'cluster',
  verdict: 'healthy',
  reasons: [],
  exitCode: 0,
  context: 'in-cluster',
  server: 'https://10.96.0.1:443',
  namespace: 'lab',
  monitoringNamespace: 'mon',
  checkedAt: '2026-12-02T07:00:00.000Z',
  components: [component(1, 'API')],
  queue: {available: true, name: 'tasks', waiting: 3, active: 1, completed: 10, failed: 0, workers: 1},
  alerts: {available: true, firing: []},
  notes: [],
  ...over,
})

const plain = (html: string) => {
  const parsed = parseTelegramHtml(html)
  if (!parsed.ok) throw new Error(`Telegram would refuse it: ${parsed.error}`)
  return parsed.text
}

describe("the /status answer from keda-lab status's report", () => {
  it("is the verdict line, then keda-lab status's own screen, line for line", async () => {
    const r = report()
    const text = plain(await labStatusMessage(r, new Date('2026-12-02T07:01:00Z')))
    expect(text.split('\n')[0]).toBe('✅ keda-lab: healthy (namespace lab)')
    expect(text.split('\n').slice(1).join('\n')).toBe(renderStatus(r, new Date('2026-12-02T07:01:00Z')))
  })

  it('escapes hostile text and stays within 4096 characters, saying how many lines it left out', async () => {
    const hostile = '<b>boom</b> & <a href="x">'
    const r = report({
      verdict: 'degraded',
      reasons: Array.from({length: 300}, (_, i) => `Alert firing: A${i}: ${hostile}${'x'.repeat(i % 7 === 0 ? 500 : 10)}`),
      components: Array.from({length: 50}, (_, i) => component(i)),
      alerts: {available: true, firing: [{name: hostile, summary: hostile}]},
    })
    const html = await labStatusMessage(r)
    const text = plain(html)
    expect(text.length).toBeLessThanOrEqual(4096)
    expect(html).not.toContain('<b>boom')
    expect(text).toContain(`Alert firing: A0: ${hostile}`)
    expect(text.split('\n').at(-1)).toMatch(/^… \d+ more lines: run keda-lab status for all of it$/)
  })

  it('says why the cluster could not be read, then shows what the webhook sees itself', async () => {
    const closed = await freePort()
    const html = await statusReport({
      alertmanager: createAlertmanagerClient(`http://127.0.0.1:${closed}`, {timeoutMs: 2000}),
      queueName: 'tasks',
      lab: async () => {
        throw new Error('Not allowed to list pods in namespace lab on https://10.96.0.1:443: pods is forbidden <sa>')
      },
    })
    const text = plain(html)
    const lines = text.split('\n')
    expect(lines[0]).toBe('⚠️ keda-lab: Alertmanager unreachable')
    expect(lines[1]).toBe('Cannot read the cluster: Not allowed to list pods in namespace lab on https://10.96.0.1:443: pods is forbidden <sa>')
    expect(lines[2]).toBe('What the webhook sees itself:')
  })
})
