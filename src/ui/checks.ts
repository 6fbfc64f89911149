/**
 * Prints check results (install pre-flight, doctor, status) as `√ / ‼ / ×` lines with the fix hint
 * under the ones that need it.
 */
import type {CheckResult} from '../lab/checks.js'

const SYMBOL = {pass: '√', warn: '‼', fail: '×', skip: '-'} as const

/** One check as one or two lines. */
export function formatCheckResult(result: CheckResult): string {
  const line = `${SYMBOL[result.status]} ${result.title}${result.detail ? `: ${result.detail}` : ''}`
  return result.hint ? `${line}\n    hint: ${result.hint}` : line
}

/** The whole list with a one-line tally. */
export function formatCheckResults(results: readonly CheckResult[]): string {
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length
  return `${results.map(formatCheckResult).join('\n')}\n${count('pass')} passed, ${count('warn')} warnings, ${count('fail')} failed${count('skip') ? `, ${count('skip')} skipped` : ''}`
}
