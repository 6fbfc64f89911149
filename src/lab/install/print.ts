/**
 * The plan as text (`install --dry-run`): the answers with where each came from, every command in
 * order, every Secret (keys and origins only) and every rendered file. Secret values never appear:
 * the token is shown as ********, and the whole text is masked again before it is printed.
 */
import type {Action, Plan} from './plan.js'
import {OPTION_SPECS} from './options.js'

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

/** A command line as a shell would take it. */
export function commandLine(bin: string, args: readonly string[], cwd?: string): string {
  return `${cwd ? `(cd ${quote(cwd)} && ` : ''}${[bin, ...args].map(quote).join(' ')}${cwd ? ')' : ''}`
}

function actionLine(action: Action): string {
  switch (action.type) {
    case 'run':
      return `$ ${commandLine(action.command.bin, action.command.args, action.command.cwd)}${
        action.recordCrds
          ? `\n   • record on its CRDs (${commandLine(action.recordCrds.showCrds.bin, action.recordCrds.showCrds.args)}) that release ${action.recordCrds.release} brought them`
          : ''
      }`
    case 'namespace':
      return `• create namespace ${action.name} (if missing)`
    case 'secret':
      return `• apply Secret ${action.secret.namespace}/${action.secret.name}: ${Object.entries(action.secret.origin)
        .map(([key, origin]) => `${key}=${origin === 'empty' ? '(empty)' : `******** (${origin})`}`)
        .join(', ')}`
    case 'rollout':
      return `• wait until the Deployments with ${action.labelSelector} in ${action.namespace} are rolled out (up to ${action.timeoutSeconds} s)`
  }
}

/** The full dry-run text. */
export function formatPlan(plan: Plan): string {
  const out: string[] = ['Answers:']
  for (const spec of OPTION_SPECS) {
    const value = plan.answers[spec.key]
    if (value === undefined) continue
    const shown = spec.kind === 'secret' ? '********' : Array.isArray(value) ? value.join(',') || '(none)' : spec.show ? spec.show(value) : String(value)
    out.push(`  ${spec.flag}: ${shown} (${plan.sources[spec.key] ?? 'default'})`)
  }
  out.push('', `Plan (dry run: nothing below is executed):`)
  plan.steps.forEach((step, i) => {
    out.push(`${i + 1}. ${step.title}${step.skipped ? ` — skipped: ${step.skipped}` : ''}`)
    for (const action of step.actions) out.push(`   ${actionLine(action)}`)
    for (const note of step.notes) out.push(`   note: ${note}`)
  })
  out.push('', `Files (written to ${plan.outputDir} by a real run):`)
  for (const file of plan.files) {
    out.push(`--- ${file.path}`, file.content.trimEnd(), '')
  }
  return out.join('\n')
}

/** The closing lines of a successful install. */
export function formatSummary(plan: Plan): string {
  return [
    '',
    'keda-lab is installed.',
    ...plan.summary.api,
    ...plan.summary.grafana,
    `Values files: ${plan.outputDir}`,
    'Next:',
    ...plan.summary.next.map((c) => `  ${c}`),
  ].join('\n')
}
