import {describe, expect, it} from 'vitest'

import {validateAnyObject} from './k8s-validate.js'

// The generic validator used on the third-party charts' output must be able to fail.
describe('validateAnyObject', () => {
  const sts = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {name: 's'},
    spec: {serviceName: 's', selector: {matchLabels: {a: 'b'}}, template: {metadata: {labels: {a: 'b'}}, spec: {containers: [{name: 'c', image: 'i'}]}}},
  }

  it('accepts a valid object and rejects a wrongly typed field', async () => {
    await validateAnyObject(sts)
    await expect(validateAnyObject({...sts, spec: {...sts.spec, replicas: 'three'}})).rejects.toThrow(/StatefulSet s is invalid/)
  })

  it('validates custom resources against their CRD models', async () => {
    const am = {apiVersion: 'monitoring.coreos.com/v1', kind: 'Alertmanager', metadata: {name: 'a'}, spec: {secrets: 'not-a-list'}}
    await expect(validateAnyObject(am)).rejects.toThrow(/Alertmanager a is invalid/)
  })

  it('fails on a kind it has no model for', async () => {
    await expect(validateAnyObject({apiVersion: 'example.com/v1', kind: 'Widget', metadata: {name: 'w'}})).rejects.toThrow(/no schema model/)
  })
})
