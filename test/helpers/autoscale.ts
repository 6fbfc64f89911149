import {type AutoscaleOptions, type AutoscaleState, decideScale, type ScaleDecision} from '../../src/lab/autoscale.js'

/**
 * Feeds readings `[now, waiting, active]` to decideScale one after another, each with the state the
 * previous decision left, and returns every decision.
 */
export function decideAll(options: AutoscaleOptions, start: AutoscaleState, samples: [number, number, number][]): ScaleDecision[] {
  let state = start
  return samples.map(([now, waiting, active]) => {
    const decision = decideScale(options, state, {now, waiting, active})
    state = decision.state
    return decision
  })
}
