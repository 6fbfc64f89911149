/**
 * Checks are data (after linkerd's healthcheck): reused by `install` pre-flight, `doctor`
 * and `status`. Each check gets what it needs through `ctx`, never state left by another check.
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip'

export interface CheckOutcome {
  status: CheckStatus
  /** One line: what was found ("helm v3.17.3", "2 nodes", "StorageClass standard is default"). */
  detail?: string
  /** How to fix it, when status is warn or fail: a command or a concrete step. */
  hint?: string
}

export interface Check<Ctx> {
  id: string
  category: string
  title: string
  /** A fatal failure stops the run (install pre-flight); others are reported and the run goes on. */
  fatal?: boolean
  /** Fix hint used when the outcome does not carry its own. */
  hint?: string
  run(ctx: Ctx): Promise<CheckOutcome>
}

export interface CheckResult {
  id: string
  category: string
  title: string
  status: CheckStatus
  fatal: boolean
  detail?: string
  hint?: string
}

/** Runs checks in order; an exception inside a check becomes a failure with its message. */
export async function runChecks<Ctx>(checks: readonly Check<Ctx>[], ctx: Ctx, onResult?: (result: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = []
  for (const check of checks) {
    let outcome: CheckOutcome
    try {
      outcome = await check.run(ctx)
    } catch (error) {
      outcome = {status: 'fail', detail: error instanceof Error ? error.message : String(error)}
    }
    const result: CheckResult = {
      id: check.id,
      category: check.category,
      title: check.title,
      status: outcome.status,
      fatal: Boolean(check.fatal),
      detail: outcome.detail,
      hint: outcome.status === 'fail' || outcome.status === 'warn' ? (outcome.hint ?? check.hint) : undefined,
    }
    results.push(result)
    onResult?.(result)
  }
  return results
}

/** True when a fatal check failed. */
export function hasFatalFailure(results: readonly CheckResult[]): boolean {
  return results.some((r) => r.fatal && r.status === 'fail')
}
