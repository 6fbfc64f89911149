/**
 * The README's faster way for repeated use: a global install from the clone (what `npm link`
 * does) puts a `keda-lab` on PATH that runs this clone's CLI without npx. Installed into a
 * temporary prefix, so the machine's global packages are not touched.
 */
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {repoRoot} from '../helpers/cli.js'
import {spawnTracked} from '../helpers/processes.js'

const prefix = mkdtempSync(join(tmpdir(), 'keda-lab-prefix-'))
afterAll(() => rmSync(prefix, {recursive: true, force: true}))

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{code: number | null; stdout: string; stderr: string}> {
  const child = spawnTracked(command, args, {cwd: repoRoot, env: {...process.env, NO_COLOR: '1', ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    }),
  )
}

describe('keda-lab installed globally from the clone (npm link / npm install -g .)', () => {
  it('puts keda-lab on PATH, linked to the clone, and it answers like npx keda-lab', async () => {
    // --ignore-scripts: the clone is built already (npm ci, npm test); no rebuild under other tests.
    const install = await run('npm', ['install', '--global', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund', repoRoot])
    expect(install.code, install.stderr).toBe(0)
    const bin = join(prefix, 'bin', 'keda-lab')
    expect(existsSync(bin)).toBe(true)

    const help = await run('keda-lab', ['help', 'dev'], {PATH: `${join(prefix, 'bin')}:${process.env.PATH}`})
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toContain('$ keda-lab dev')
    const version = await run('keda-lab', ['--version'], {PATH: `${join(prefix, 'bin')}:${process.env.PATH}`})
    expect(version.stdout).toMatch(/^keda-lab\/\d+\.\d+\.\d+ /)
  }, 180_000)
})
