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
