import {fileURLToPath} from 'node:url'

import {spawnTracked} from './processes.js'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The CLI entry point tests spawn. `npm test` builds first and sets KEDA_LAB_TEST_CLI=dist, so
 * CI runs the real `bin/run.js` on the compiled output; while developing, tests run the
 * TypeScript sources through `bin/dev.js` (no build needed, and no race with a build).
 */
export function cliEntry(): string {
  return fileURLToPath(new URL(process.env.KEDA_LAB_TEST_CLI === 'dist' ? '../../bin/run.js' : '../../bin/dev.js', import.meta.url))
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs `keda-lab <args>` to completion in a subprocess (bounded by timeoutMs). */
export async function runCli(args: string[], options: {env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number} = {}): Promise<CliResult> {
  const child = spawnTracked(process.execPath, [cliEntry(), ...args], {
    cwd: options.cwd ?? repoRoot,
    env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env},
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  if (options.input !== undefined) child.stdin!.end(options.input)
  else child.stdin!.end()
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr})
    })
  })
}
