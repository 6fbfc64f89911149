/**
 * The GitHub workflows (.github/workflows/): linted by the real actionlint v1.7.12 (built from its Go
 * module by scripts/build-release-tools.sh), and holding what a release needs: CI runs .ci/run; a
 * version tag publishes the npm package with provenance and the image install pulls (named after
 * package.json's repository) for two
 * architectures under the same version, with an SBOM.
 */
import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'

import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {packageJson, publishedImageName} from '../../src/config/package.js'
import {repoRoot} from '../helpers/cli.js'
import {runTracked} from '../helpers/processes.js'

const ACTIONLINT = join(process.env.KEDA_LAB_TOOLS_CACHE ?? join(homedir(), '.cache', 'keda-lab', 'tools'), 'actionlint-v1.7.12', 'actionlint')

type Workflow = {
  on: Record<string, unknown>
  jobs: Record<string, {permissions?: Record<string, string>; steps: {uses?: string; run?: string; with?: Record<string, unknown>}[]}>
}
const workflow = (name: string) => parse(readFileSync(join(repoRoot, '.github', 'workflows', name), 'utf8')) as Workflow
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((job) => job.steps)

describe('.github/workflows', () => {
  it('pass actionlint with no finding', async () => {
    if (!existsSync(ACTIONLINT)) throw new Error(`${ACTIONLINT} is missing: run ./scripts/build-release-tools.sh actionlint (npm test does)`)
    const result = await runTracked(ACTIONLINT, ['-color=false'], {cwd: repoRoot})
    expect(result.all).toBe('')
    expect(result.exitCode).toBe(0)
  })

  it('actionlint fails a broken workflow (the check can fail)', async () => {
    const result = await runTracked(ACTIONLINT, ['-color=false', '-'], {
      cwd: repoRoot,
      input: `on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${'$'}{{ github.nope }}\n`,
    })
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toContain('property "nope" is not defined')
  })

  it('CI runs .ci/run on pushes to main and on pull requests', () => {
    const ci = workflow('ci.yml')
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push'])
    expect(
      steps(ci)
        .map((s) => s.run)
        .filter(Boolean),
    ).toEqual(['./.ci/run'])
  })

  it('a version tag publishes npm with provenance and the image install pulls, two architectures, same tag, SBOM', async () => {
    const release = workflow('release.yml')
    expect(release.on).toEqual({push: {tags: ['v*.*.*']}})
    const runs = steps(release).map((s) => s.run ?? '')
    expect(runs).toContain('npm publish --provenance --access public')
    // The image the release pushes is the one install pulls: the workflow's own line, run here on
    // this checkout with this Node (24, as the workflow sets up), gives publishedImageName's answer.
    const imageLine = runs.flatMap((r) => r.split('\n')).find((line) => line.trim().startsWith('image=$('))
    expect(imageLine, 'the release workflow computes the image name').toBeDefined()
    const pushed = await runTracked('bash', ['-c', `${imageLine?.trim()} && echo "$image"`], {
      cwd: repoRoot,
      env: {...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}`},
    })
    expect(pushed.exitCode, pushed.all).toBe(0)
    expect(pushed.stdout.trim()).toBe(publishedImageName(packageJson()))
    expect(pushed.stdout.trim()).toBe('ghcr.io/keda-lab/keda-lab')
    expect(runs.some((r) => r.includes('"v$version" != "$GITHUB_REF_NAME"'))).toBe(true)
    expect(release.jobs.npm?.permissions?.['id-token']).toBe('write')
    const push = steps(release).find((s) => s.uses?.startsWith('docker/build-push-action@'))
    expect(push?.with).toMatchObject({platforms: 'linux/amd64,linux/arm64', push: true, tags: `${'$'}{{ env.IMAGE }}:${'$'}{{ env.VERSION }}`, sbom: true})
    expect(steps(release).some((s) => s.uses?.startsWith('anchore/sbom-action@'))).toBe(true)
  })
})
