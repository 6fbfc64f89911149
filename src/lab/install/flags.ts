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
        : Flags.string({description: spec.kind === 'choice' ? `${description} <options: ${spec.choices.join('|')}>` : description, helpGroup: 'ANSWERS'})
  }
  return flags
}

/** --values: the same answers from a YAML file. */
export const valuesFlag = Flags.string({
  description: 'YAML file with install answers, keyed by flag name (e.g. worker-max-replicas: 10)',
  env: 'KEDA_LAB_VALUES',
})

/**
 * --chart-repo NAME=URL (repeatable): a mirror for a chart repository. KEDA_LAB_CHART_REPO (comma-
 * separated) is read by src/lab/chart-sources.ts: oclif splits a `multiple` flag's env value into
 * characters.
 */
export const chartRepoFlag = Flags.string({
  description:
    'Use a mirror for a chart repository, NAME=URL (names: kedacore, dandydeveloper, prometheus-community, grafana-community, grafana); repeatable [env: KEDA_LAB_CHART_REPO, comma-separated]',
  multiple: true,
  helpGroup: 'CHARTS',
})

/** --charts DIR and --chart-repo: where the third-party charts come from (shared by `install` and `render`). */
export const chartSourceFlags = {
  charts: Flags.string({
    description: 'Install the third-party charts from this folder, written by `keda-lab charts pull DIR` (versions and digests are checked)',
    env: 'KEDA_LAB_CHARTS',
    helpGroup: 'CHARTS',
  }),
  'chart-repo': chartRepoFlag,
}
