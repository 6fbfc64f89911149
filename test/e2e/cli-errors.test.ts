/**
 * Errors as a new user meets them, through the CLI in a subprocess: under `--json` an error is a
 * JSON object on stdout with the exit code (oclif silences stderr there), and a machine with no
 * kubeconfig at all is told so, with how to get a cluster, instead of "localhost:8080".
 */
import {mkdtempSync, readFileSync, renameSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {startFakeKubeApi} from '../fakes/kube-api.js'
import {repoRoot, runCli} from '../helpers/cli.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

/** A HOME without ~/.kube, no KUBECONFIG, and none of the user's KEDA_LAB_* settings. */
function bareEnv(): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'keda-lab-home-'))
  dirs.push(home)
  const env: NodeJS.ProcessEnv = {HOME: home, KUBECONFIG: undefined}
  for (const key of Object.keys(process.env)) if (key.startsWith('KEDA_LAB_')) env[key] = undefined
  return env
}

interface JsonError {
  error: {name: string; message: string; hint?: string; exitCode: number}
}

function parseError(stdout: string): JsonError {
  const parsed = JSON.parse(stdout) as JsonError
  expect(Object.keys(parsed)).toEqual(['error'])
  expect(Object.keys(parsed.error).sort()).toEqual(expect.arrayContaining(['exitCode', 'message', 'name']))
  return parsed
}

const NO_KUBECONFIG = /^No kubeconfig found: KUBECONFIG is not set and .*\/\.kube\/config does not exist/

describe('errors under --json', () => {
  it('uninstall, install and doctor without a kubeconfig: a JSON error on stdout, nothing on stderr, exit 4', async () => {
    const env = bareEnv()
    for (const args of [
      ['uninstall', '--yes', '--json'],
      ['install', '--yes', '--no-webhook', '--json'],
      ['doctor', '--json'],
    ]) {
      const r = await runCli(args, {env, timeoutMs: 60_000})
      expect(r.code, args.join(' ')).toBe(4)
      expect(r.stderr, args.join(' ')).toBe('')
      const {error} = parseError(r.stdout)
      expect(error.message).toMatch(NO_KUBECONFIG)
      // uninstall has nothing to do on a new cluster: it is not told to create one.
      if (args[0] === 'uninstall') expect(error.hint).not.toMatch(/create a cluster|minikube start/i)
      else expect(error.hint).toContain('minikube start')
      expect(error.exitCode).toBe(4)
    }
  }, 240_000)

  it('uninstall against a cluster that does not answer: the JSON error names the API server', async () => {
    const env = bareEnv()
    const closed = await startFakeKubeApi()
    const kubeconfig = closed.writeKubeconfig(join(env.HOME!, 'kube'))
    await closed.close()
    const r = await runCli(['uninstall', '--yes', '--json'], {env: {...env, KUBECONFIG: kubeconfig}, timeoutMs: 60_000})
    expect(r.code).toBe(4)
    expect(r.stderr).toBe('')
    const {error} = parseError(r.stdout)
    expect(error.message).toMatch(/^Cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+ \(context fake\)/)
    expect(error.hint).toContain('kubectl cluster-info')
  })

  it('render: a bad answer exits 78 and an unknown flag exits 2, each with a small JSON error', async () => {
    const env = bareEnv()
    const bad = await runCli(['render', '--stdout', '--no-webhook', '--worker-max-replicas', 'lots', '--json'], {env, timeoutMs: 60_000})
    expect(bad.code).toBe(78)
    expect(bad.stderr).toBe('')
    const badError = parseError(bad.stdout).error
    expect(badError).toMatchObject({name: 'ConfigError', exitCode: 78})
    expect(badError.message).toBe('--worker-max-replicas: must be a whole number between 1 and 200, got "lots"')

    const unknown = await runCli(['render', '--bogus', '--json'], {env, timeoutMs: 60_000})
    expect(unknown.code).toBe(2)
    const unknownError = parseError(unknown.stdout).error
    expect(unknownError.message).toContain('Nonexistent flag: --bogus')
    expect(unknownError.exitCode).toBe(2)
    // Only the four fields: oclif's default would dump the whole CLI configuration here.
    expect(unknown.stdout.length).toBeLessThan(500)
  }, 180_000)

  it('without --json the same error is two lines on stderr and stdout stays empty', async () => {
    const r = await runCli(['doctor'], {env: bareEnv(), timeoutMs: 60_000})
    expect(r.code).toBe(4)
    expect(r.stdout).toBe('')
    const [error, fix] = r.stderr.trim().split('\n')
    expect(error).toMatch(/^Error: No kubeconfig found: KUBECONFIG is not set and .*\/\.kube\/config does not exist/)
    expect(fix).toMatch(/^Fix: Create a cluster, which writes ~\/\.kube\/config: `minikube start/)
  })
})

describe('no kubeconfig at all', () => {
  it('says none was found (not "localhost:8080"), also with --context, and how to get a cluster (uninstall: where the lab was)', async () => {
    const env = bareEnv()
    for (const args of [['uninstall', '--yes'], ['uninstall', '--yes', '--context', 'nope'], ['doctor'], ['install', '--yes', '--no-webhook', '--dry-run']]) {
      const r = await runCli(args, {env, timeoutMs: 60_000})
      expect(r.code, args.join(' ')).toBe(4)
      expect(r.stderr, args.join(' ')).toMatch(/^Error: No kubeconfig found: KUBECONFIG is not set and .*\/\.kube\/config does not exist/)
      if (args[0] === 'uninstall') {
        expect(r.stderr).toContain('uninstall needs the cluster keda-lab was installed in')
        expect(r.stderr).not.toMatch(/create a cluster|kind create cluster|minikube start/i)
      } else {
        expect(r.stderr).toContain('kind create cluster')
      }
      expect(r.stderr).toContain('set KUBECONFIG')
      expect(r.stderr).not.toContain('localhost:8080')
      expect(r.stderr).not.toContain('loaded-context')
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
  }, 300_000)

  it('KUBECONFIG naming files that do not exist is said as such', async () => {
    const env = bareEnv()
    const missing = join(env.HOME!, 'nowhere', 'config')
    const r = await runCli(['uninstall', '--yes'], {env: {...env, KUBECONFIG: missing}, timeoutMs: 60_000})
    expect(r.code).toBe(4)
    expect(r.stderr.split('\n')[0]!.startsWith(`Error: No kubeconfig found: KUBECONFIG is set to ${missing}, but no such file exists`)).toBe(true)
  })

  it('an existing ~/.kube/config is used as before (the check does not get in the way)', async () => {
    const env = bareEnv()
    const closed = await startFakeKubeApi()
    // ~/.kube/config itself (the file client-node finds without KUBECONFIG), at an API that is gone.
    renameSync(closed.writeKubeconfig(join(env.HOME!, '.kube')), join(env.HOME!, '.kube', 'config'))
    await closed.close()
    const r = await runCli(['uninstall', '--yes'], {env, timeoutMs: 60_000})
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/^Error: Cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+ \(context fake\)/)
  })
})

/** The commands that need a cluster, as a script runs them; the README's exit-code table names each. */
const CLUSTER_COMMANDS: string[][] = [
  ['status'],
  ['tunnel', '--port-forward'],
  ['alert', 'test'],
  ['install', '--dry-run', '--yes', '--no-webhook'],
  ['doctor'],
  ['uninstall', '--yes'],
]

describe('one exit code for "no cluster"', () => {
  it("is the README's: its exit-code table gives 4 to no cluster and names every command that needs one", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('## Exit codes'))
    const row = section.split('\n').find((line) => /^\| `4`\s+\|/.test(line))
    expect(row, 'a row for exit code 4 in README.md ## Exit codes').toBeDefined()
    expect(row).toMatch(/no cluster/)
    for (const args of CLUSTER_COMMANDS) expect(row, args[0]).toContain(`\`${args[0] === 'alert' ? 'alert test' : args[0]}\``)
  })

  it.each(CLUSTER_COMMANDS.map((args) => [args.join(' '), args] as const))(
    '%s: exit 4 without a kubeconfig and with an API server that does not answer',
    async (_, args) => {
      const env = bareEnv()
      const none = await runCli(args, {env, timeoutMs: 60_000})
      expect(none.code, none.stderr).toBe(4)
      expect(none.stdout + none.stderr).toMatch(/No kubeconfig found/)

      const closed = await startFakeKubeApi()
      const kubeconfig = closed.writeKubeconfig(join(env.HOME!, 'kube'))
      await closed.close()
      const down = await runCli(args, {env: {...env, KUBECONFIG: kubeconfig}, timeoutMs: 60_000})
      expect(down.code, down.stdout + down.stderr).toBe(4)
      expect(down.stdout + down.stderr).toMatch(/Cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+/)
      expect(down.stderr).not.toMatch(/\n\s+at /)
    },
    120_000,
  )
})
