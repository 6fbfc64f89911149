/**
 * `--values FILE` as a user meets it: every kind of bad file gets one clear error (what is wrong
 * with the file, how to fix it), exit code 78, no stack trace, no library warning, no secret —
 * through the CLI in a subprocess (`render`, which reads the file first, and `install` once).
 */
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'keda-lab-values-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const SECRET = '123456789:AAH-secret_secret_secret_secret_123'

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {HOME: dir, KUBECONFIG: undefined}
  for (const key of Object.keys(process.env)) if (key.startsWith('KEDA_LAB_')) e[key] = undefined
  return e
}

let aliasBomb = 'a: &a [x, x, x, x, x, x, x, x, x]\n'
for (const [prev, name] of [
  ['a', 'b'],
  ['b', 'c'],
  ['c', 'd'],
  ['d', 'e'],
  ['e', 'f'],
  ['f', 'g'],
])
  aliasBomb += `${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]\n`
aliasBomb += 'image: *g\n'

/** name, file content, the error line expected after "Error: --values <file>: ". */
const CASES: [string, string | Buffer, RegExp][] = [
  ['malformed.yaml', 'worker-max-replicas: [1, 2\n  foo: : :\n', /^not valid YAML \(.+ at line \d+, column \d+\)$/],
  ['oversized.yaml', `worker-max-replicas: 3\n# ${'x'.repeat(2 * 1024 * 1024)}\n`, /^larger than 64 KiB, too large for a file of install options$/],
  ['deep-lists.yaml', `worker-max-replicas: ${'['.repeat(30_000)}${']'.repeat(30_000)}\n`, /^nested too deeply to be read$/],
  ['deep-maps.yaml', `worker-max-replicas: ${'{a: '.repeat(8000)}1${'}'.repeat(8000)}\n`, /^nested too deeply to be read$/],
  ['latin1.yaml', Buffer.from('worker-max-replicas: 3\nimage: "caf\xe9"\n', 'latin1'), /^is not UTF-8 text \(line 2\)$/],
  ['utf16.yaml', Buffer.from('\uFEFFworker-max-replicas: 3\n', 'utf16le'), /^is UTF-16 text$/],
  ['binary.yaml', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00, 0x00]), /^is not a text file \(it contains NUL bytes\)$/],
  ['alias-bomb.yaml', aliasBomb, /^its aliases \(\*name\) expand to too much/],
  ['two-documents.yaml', 'worker-max-replicas: 3\n---\nworker-max-replicas: 4\n', /^holds 2 YAML documents \(separated by ---\)$/],
  ['duplicate.yaml', 'worker-max-replicas: 3\nworker-max-replicas: 4\n', /^not valid YAML \(Map keys must be unique at line 2, column 1\)$/],
  ['unknown-tag.yaml', 'worker-max-replicas: !custom 3\n', /^not valid YAML \(Unresolved tag: !custom at line 1, column 22\)$/],
  ['list-at-top.yaml', '- worker-max-replicas: 3\n', /^expected a mapping of option names to values, got a list$/],
  ['wrong-type.yaml', 'worker-max-replicas: {value: 3}\n', /^worker-max-replicas: expected a whole number, got a mapping$/],
  ['infinite.yaml', 'api-cpu-target: .inf\n', /^api-cpu-target: expected a whole number, Infinity is not a usable number$/],
  ['binary-tag.yaml', 'image: !!binary aGVsbG8=\n', /^image: expected a text value, got binary data$/],
  ['secret-in-a-mapping.yaml', `telegram-token: {token: "${SECRET}"}\n`, /^telegram-token: expected a text value, got a mapping$/],
  ['unknown-key.yaml', 'worker-max: 3\n', /^unknown option "worker-max"$/],
]

describe('--values: a clear error for every kind of bad file', () => {
  it.each(CASES)('%s', async (name, content, expected) => {
    const path = join(dir, name)
    writeFileSync(path, content)
    const r = await runCli(['render', '--stdout', '--no-webhook', '--values', path], {env: env(), timeoutMs: 60_000})
    expect(r.code, r.stderr).toBe(78)
    expect(r.stdout).toBe('')
    const [error, fix, ...rest] = r.stderr.trimEnd().split('\n')
    expect(error!.startsWith(`Error: --values ${path}: `), error).toBe(true)
    expect(error!.slice(`Error: --values ${path}: `.length)).toMatch(expected)
    expect(fix).toMatch(/^Fix: \S/)
    expect(rest, 'nothing else on stderr (no warning, no stack trace)').toEqual([])
    expect(r.stderr).not.toContain('AAH-secret')
  })

  it('a directory, and a missing file', async () => {
    const sub = join(dir, 'a-folder')
    mkdirSync(sub, {recursive: true})
    const folder = await runCli(['render', '--stdout', '--no-webhook', '--values', sub], {env: env(), timeoutMs: 60_000})
    expect(folder.code).toBe(78)
    expect(folder.stderr.split('\n')[0]).toBe(`Error: --values ${sub}: is a directory, not a file`)
    const missing = await runCli(['render', '--stdout', '--no-webhook', '--values', join(dir, 'nope.yaml')], {env: env(), timeoutMs: 60_000})
    expect(missing.code).toBe(78)
    expect(missing.stderr.split('\n')[0]).toBe(`Error: --values ${join(dir, 'nope.yaml')}: file not found or not readable`)
  })

  it('install reads the file the same way, before anything else (no kubeconfig needed to be told)', async () => {
    const path = join(dir, 'install-deep.yaml')
    writeFileSync(path, `worker-max-replicas: ${'['.repeat(30_000)}${']'.repeat(30_000)}\n`)
    const r = await runCli(['install', '--yes', '--no-webhook', '--values', path, '--json'], {env: env(), timeoutMs: 60_000})
    expect(r.code).toBe(78)
    expect(JSON.parse(r.stdout)).toMatchObject({error: {name: 'ConfigError', message: `--values ${path}: nested too deeply to be read`, exitCode: 78}})
  })
})
