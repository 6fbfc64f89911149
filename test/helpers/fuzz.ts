/**
 * Randomised tests that can be replayed: fast-check properties (seeded, shrinking to a minimal
 * counterexample) run with ONE fixed seed by default — CI runs the same inputs every time — and two
 * knobs for long local runs:
 *
 *   FUZZ_SEED=<integer>  another seed (fast-check prints the seed and path of a failure: set it here to replay)
 *   FUZZ_RUNS=<integer>  how many inputs each property tries (default: the test's own count)
 *   FUZZ_PATH=<path>     with FUZZ_SEED, replays exactly the failing (shrunk) case fast-check reported
 *
 * e.g. `FUZZ_RUNS=20000 FUZZ_SEED=$RANDOM npx vitest run test/unit/values-file-fuzz.test.ts`.
 */
import fc from 'fast-check'

/** The seed CI uses (a date: 2026-12-07). */
export const DEFAULT_FUZZ_SEED = 20_261_207

function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(
      `${name}=${JSON.stringify(raw)} is not an integer${min > Number.MIN_SAFE_INTEGER ? ` of at least ${min}` : ''}: e.g. ${name}=${min > 0 ? 5000 : 42}`,
    )
  }
  return value
}

/** The seed of this run: FUZZ_SEED, or the fixed default. */
export const FUZZ_SEED = intFromEnv('FUZZ_SEED', DEFAULT_FUZZ_SEED, Number.MIN_SAFE_INTEGER)

/** How many inputs a property tries: FUZZ_RUNS, or the test's own default. */
export function fuzzRuns(defaultRuns: number): number {
  return intFromEnv('FUZZ_RUNS', defaultRuns, 1)
}

/** fast-check parameters for one property: this run's seed, its number of runs, FUZZ_PATH to replay one case. */
export function fuzzParameters<T>(defaultRuns: number): fc.Parameters<T> {
  const path = process.env.FUZZ_PATH?.trim()
  return {seed: FUZZ_SEED, numRuns: fuzzRuns(defaultRuns), ...(path ? {path} : {})}
}

/**
 * Checks a property with this run's parameters. On failure the error names the seed and path to
 * replay it (FUZZ_SEED, FUZZ_PATH) and the shrunk counterexample, then fast-check's own report.
 */
export async function checkProperty<T>(property: fc.IProperty<T> | fc.IAsyncProperty<T>, defaultRuns: number): Promise<void> {
  const details = await fc.check(property as fc.IAsyncProperty<T>, fuzzParameters<T>(defaultRuns))
  if (!details.failed) return
  throw new Error(
    `property failed (replay: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''})\n${fc.defaultReportMessage(details) ?? ''}`,
    {cause: details.errorInstance},
  )
}
