import {describe, expect, it} from 'vitest'

import {formatScalingRules, hpaBehavior, parseScalingRules} from '../../src/lab/install/behavior.js'
import {resolveInstallOptions} from '../../src/lab/install/options.js'
import {renderAppValues} from '../../src/lab/values/render.js'
import {sampleAnswers} from '../helpers/install-answers.js'
import {parse} from 'yaml'

describe('HPA scaling rules (install answers)', () => {
  it('parses windows, policies and select in any order, and prints them back', () => {
    const rules = parseScalingRules(' 1pods/30s , window=60s, 10%/60s,select=min')
    expect(rules).toEqual({
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Min',
      policies: [
        {type: 'Pods', value: 1, periodSeconds: 30},
        {type: 'Percent', value: 10, periodSeconds: 60},
      ],
    })
    expect(formatScalingRules(rules)).toBe('window=60s,select=min,1pods/30s,10%/60s')
    expect(parseScalingRules(formatScalingRules(rules))).toEqual(rules)
    expect(parseScalingRules('window=0')).toEqual({stabilizationWindowSeconds: 0})
    expect(parseScalingRules('select=disabled')).toEqual({selectPolicy: 'Disabled'})
  })

  it.each([
    ['', 'is empty'],
    ['window=3601s', 'window must be 0-3600 s, got 3601'],
    ['window=10s,window=20s', 'gives the window twice'],
    ['0pods/15s', 'at least 1 pod'],
    ['4pods/0s', 'period must be 1-1800 s, got 0'],
    ['4pods/1801s', 'period must be 1-1800 s, got 1801'],
    ['select=fastest', 'select must be max, min or disabled'],
    ['select=disabled,1pods/15s', 'drop its policies'],
    ['fast', '"fast" is not a window, a policy or a select'],
  ])('rejects %j with a message saying what is wrong', (raw, message) => {
    expect(() => parseScalingRules(raw)).toThrow(message)
  })

  it('comes from flags, env or a values file, is never prompted, and reaches the chart values of both HPAs', async () => {
    const asked: string[] = []
    const prompter = {
      input: async (o: {message: string; default?: string}) => {
        asked.push(o.message)
        return o.default ?? ''
      },
      password: async () => '',
      confirm: async () => false,
      select: async (o: {default?: string}) => o.default ?? '',
    }
    const {answers, sources} = await resolveInstallOptions({
      flags: {'api-scale-down': 'window=30s,1pods/15s', webhook: false},
      env: {KEDA_LAB_WORKER_SCALE_DOWN: 'window=20s'},
      valuesFile: {'api-scale-up': 'window=0s,2pods/15s'},
      prompter,
    })
    // Other answers were asked; none of the four behavior answers (worker-scale-up was given nowhere).
    expect(asked.length).toBeGreaterThan(0)
    expect(asked.filter((m) => /rules of the/.test(m))).toEqual([])
    expect(answers.apiScaleDown).toEqual({stabilizationWindowSeconds: 30, policies: [{type: 'Pods', value: 1, periodSeconds: 15}]})
    expect(sources.apiScaleDown).toBe('flag')
    expect(answers.apiScaleUp).toEqual({stabilizationWindowSeconds: 0, policies: [{type: 'Pods', value: 2, periodSeconds: 15}]})
    expect(sources.apiScaleUp).toBe('values')
    expect(answers.workerScaleDown).toEqual({stabilizationWindowSeconds: 20})
    expect(sources.workerScaleDown).toBe('env')
    expect(answers.workerScaleUp).toBeUndefined()

    const values = parse(
      renderAppValues({
        answers,
        appNamespace: 'keda-lab',
        monitoringNamespace: 'monitoring',
        image: {repository: 'keda-lab', tag: 'dev', pullPolicy: 'IfNotPresent'},
      }),
    ) as {api: {autoscaling: {behavior: unknown}}; worker: {autoscaling: {behavior: unknown}}}
    expect(values.api.autoscaling.behavior).toEqual({scaleUp: answers.apiScaleUp, scaleDown: answers.apiScaleDown})
    expect(values.worker.autoscaling.behavior).toEqual({scaleDown: {stabilizationWindowSeconds: 20}})
  })

  it('a bad answer is one clear error naming where it came from', async () => {
    await expect(resolveInstallOptions({flags: {'worker-scale-down': 'window=1h'}, env: {}, valuesFile: {webhook: false}})).rejects.toThrow(
      '--worker-scale-down: "window=1h" is not a window, a policy or a select',
    )
  })

  it('without answers the chart keeps Kubernetes defaults (empty behavior)', () => {
    expect(hpaBehavior(undefined, undefined)).toEqual({})
    const values = parse(
      renderAppValues({answers: sampleAnswers, appNamespace: 'a', monitoringNamespace: 'm', image: {repository: 'r', tag: 't', pullPolicy: 'IfNotPresent'}}),
    ) as {api: {autoscaling: {behavior: unknown}}}
    expect(values.api.autoscaling.behavior).toEqual({})
  })
})
