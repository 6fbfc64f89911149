import {describe, expect, it} from 'vitest'

import {type AutoscaleOptions, hpaRecommendation} from '../../src/lab/autoscale.js'

const options: AutoscaleOptions = {minReplicas: 0, maxReplicas: 5, tasksPerReplica: 2, cooldownMs: 0}

describe('hpaRecommendation: the HPA step alone (AverageValue target, tolerance, clamp)', () => {
  it('recommends ceil(metric / tasksPerReplica) outside the tolerance', () => {
    expect(hpaRecommendation(7, 1, options)).toEqual({replicas: 4, cause: 'hpa', why: ''})
  })

  it('keeps the current count within the tolerance (default 0.1, or the one given)', () => {
    // 21 / (2 × 10) = 1.05: within 0.1, although ceil(21 / 2) = 11.
    expect(hpaRecommendation(21, 10, {...options, maxReplicas: 20})).toEqual({replicas: 10, cause: 'within-tolerance', why: ''})
    expect(hpaRecommendation(21, 10, {...options, maxReplicas: 20, tolerance: 0.01})).toEqual({replicas: 11, cause: 'hpa', why: ''})
  })

  it('clamps to [max(min, 1), max] and says so', () => {
    expect(hpaRecommendation(40, 2, options)).toEqual({replicas: 5, cause: 'clamped', why: 'clamped to [min, max]'})
    // minReplicas 0 still gives the HPA a floor of 1 (KEDA, not the HPA, goes to zero).
    expect(hpaRecommendation(0, 3, options)).toEqual({replicas: 1, cause: 'clamped', why: 'clamped to [min, max]'})
  })
})
