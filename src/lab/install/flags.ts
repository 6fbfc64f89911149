/**
 * oclif flags for every install answer, generated from OPTION_SPECS so that a flag, its KEDA_LAB_*
 * variable and its --values key can never drift apart. No oclif defaults and no oclif `env`: the
 * resolver must see what was really given to apply flag > env > --values > prompt > default.
 */
import {Flags, type Interfaces} from '@oclif/core'

import {OPTION_SPECS} from './options.js'

/** The answer flags (shared by `install` and `render`). */
export function answerFlags(): Interfaces.FlagInput {
  const flags: Interfaces.FlagInput = {}
  for (const spec of OPTION_SPECS) {
    const description = `${spec.description} [env: ${spec.env}]`
    flags[spec.flag] =
      spec.kind === 'boolean'
        ? Flags.boolean({description, allowNo: true, helpGroup: 'ANSWERS'})
        : Flags.string({description: spec.kind === 'choice' ? `${description} <options: ${spec.choices!.join('|')}>` : description, helpGroup: 'ANSWERS'})
  }
  return flags
}

/** --values: the same answers from a YAML file. */
export const valuesFlag = Flags.string({
  description: 'YAML file with install answers, keyed by flag name (e.g. worker-max-replicas: 10)',
  env: 'KEDA_LAB_VALUES',
})
