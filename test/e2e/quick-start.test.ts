/**
 * The README's quick start (no cluster) on a clean clone, exactly as written: its code blocks are
 * read from README.md and run by bash, line for line. Only what a test must change is changed, and
 * not in the commands: the clone's source is this repository (`<this repository>`), npm works
 * offline from its cache (npm_config_prefer_offline), `npm link` links into a temporary global
 * prefix (npm_config_prefix, so the machine's own is untouched: its `bin` is not on PATH, as with
 * Node from the npm `node` package), and the API listens on a free port (KEDA_LAB_API_PORT, the
 * --api-port flag's variable) where the README's curl lines say localhost:8000.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {repoRoot} from '../helpers/cli.js'
import {freePort, runTracked, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

/** The sh blocks of the README's "Quick start (no cluster)" section, comments and output lines dropped. */
function quickStartBlocks(): string[][] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Quick start (no cluster)'), readme.indexOf('## Quick start (cluster)'))
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
    m[1]!
      .split('\n')
      .map((line) => line.replace(/\s+#\s.*$/, '').trim())
      .filter((line) => line && !line.startsWith('#')),
  )
}

describe('README quick start (no cluster), on a clean clone', () => {
  it('clone, npm ci, npx keda-lab dev, the curl lines; then npm link with its PATH step and keda-lab dev', async () => {
    const [first, link, curls] = quickStartBlocks()
    expect(first!.slice(0, 2)).toEqual(['git clone <this repository> keda-lab && cd keda-lab', 'npm ci'])
    expect(first![2]).toBe('npx keda-lab dev')
    expect(link!.at(-1)).toBe('keda-lab dev')
    expect(curls!.every((line) => line.startsWith('curl '))).toBe(true)

    const work = mkdtempSync(join(tmpdir(), 'keda-lab-quick-start-'))
    dirs.push(work)
    const port = await freePort()
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // Node 24 first on PATH, as DEVELOPERS.md has it; nothing of this repository's node_modules.
      PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      npm_config_prefer_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_prefix: join(work, 'global'),
      KEDA_LAB_API_PORT: String(port),
      KEDA_LAB_STATE_DIR: join(work, 'state'),
      NO_COLOR: '1',
    }
    // A user's shell, not the test runner's: no npm script variables, no NODE_ENV=test or VITEST_*
    // (oclif reads NODE_ENV to decide whether to load TypeScript sources).
    for (const key of Object.keys(env)) {
      if ((key.startsWith('npm_') && !key.startsWith('npm_config_')) || key === 'NODE_ENV' || key.startsWith('VITEST') || key === 'KEDA_LAB_TEST_CLI')
        delete env[key]
    }
    const clone = first![0]!.replace('<this repository>', repoRoot)
    const setup = await runTracked('bash', ['-euo', 'pipefail', '-c', `${clone}\n${first![1]}`], {cwd: work, env, timeoutMs: 900_000})
    expect(setup.exitCode, setup.all).toBe(0)
    const dir = join(work, 'keda-lab')

    /** Runs a block ending in a long-running `dev`, checks it serves, then Ctrl-C (SIGINT to its group). */
    const runDevBlock = async (lines: string[]) => {
      const child = spawnTracked('bash', ['-euo', 'pipefail', '-c', lines.join('\n')], {cwd: dir, env})
      let out = ''
      child.stdout!.on('data', (d) => (out += d))
      child.stderr!.on('data', (d) => (out += d))
      await waitFor(() => /keda-lab dev is running/.test(out), {timeoutMs: 180_000, what: `"keda-lab dev is running" from: ${lines.join('; ')}`})
      const answers: string[] = []
      for (const line of curls!) {
        let command = line.replaceAll('localhost:8000', `localhost:${port}`)
        if (command.includes('<id>')) command = command.replace('<id>', (JSON.parse(answers[0]!) as {result: {id: string}}).result.id)
        const r = await runTracked('bash', ['-c', command], {env, timeoutMs: 30_000})
        expect(r.exitCode, command).toBe(0)
        answers.push(r.stdout)
      }
      expect(JSON.parse(answers[0]!)).toMatchObject({success: true, result: {message: 'Task queued.'}})
      expect(JSON.parse(answers[1]!)).toMatchObject({success: true, result: {progress: {status: expect.any(String)}}})
      process.kill(-child.pid!, 'SIGINT')
      await stopProcess(child, 'SIGINT', 60_000)
      return out
    }

    await runDevBlock([`cd ${dir}`, first![2]!])
    const linked = await runDevBlock(link!)
    // `command -v keda-lab` printed where npm link put it: under the global prefix's bin.
    expect(linked).toContain(join(work, 'global', 'bin', 'keda-lab'))
  }, 1_200_000)
})
