import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {ConfigError} from '../../src/errors.js'
import {MAX_VALUES_FILE_BYTES, parseValuesFile} from '../../src/lab/values/values-file.js'
import {checkProperty} from '../helpers/fuzz.js'

/**
 * Fuzzing the --values parser with fast-check (test/helpers/fuzz.ts: a fixed seed in CI, printed
 * with the shrunk input on failure; FUZZ_SEED / FUZZ_RUNS for long runs): whatever the bytes, it
 * returns plain option values or throws a ConfigError that names the file and says how to fix it —
 * no other exception, no hang, no secret in the message.
 */

const LABEL = '--values fuzz.yaml'
const SECRET = '123456789:AAH-secret_secret_secret_secret_123'

const VALID = `worker-max-replicas: 10\nworker-min-replicas: 1\ntelegram-chat-id: [123456789, -100123]\nmonitoring: false\nexpose: NodePort\nimage: ghcr.io/acme/keda-lab:1.0.0\ntelegram-token: "${SECRET}"\n`
const PIECES = [
  '[',
  ']',
  '{',
  '}',
  ':',
  '- ',
  '&a ',
  '*a',
  '!!binary ',
  '!x ',
  '---\n',
  '...\n',
  '"',
  "'",
  '|',
  '>',
  '#',
  '\n',
  '  ',
  '\t',
  '%YAML 1.2\n',
  '? ',
  ',',
  '@',
  '`',
  '\\',
  '\u0000',
  '\uFEFF',
  'é',
  '\uFFFF',
  '1e400',
  '.nan',
  '0x1F',
  '~',
  'null',
  'true',
]

/** One edit of a file's bytes; `at` is taken modulo the length so that any number is a position. */
type Edit =
  | {kind: 'piece'; at: number; piece: string}
  | {kind: 'delete'; at: number; length: number}
  | {kind: 'byte'; at: number; byte: number}
  | {kind: 'truncate'; at: number}

const edit: fc.Arbitrary<Edit> = fc.oneof(
  {weight: 4, arbitrary: fc.record({kind: fc.constant('piece' as const), at: fc.nat(), piece: fc.constantFrom(...PIECES)})},
  {weight: 2, arbitrary: fc.record({kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({min: 1, max: 8})})},
  {weight: 2, arbitrary: fc.record({kind: fc.constant('byte' as const), at: fc.nat(), byte: fc.integer({min: 0, max: 255})})},
  {weight: 2, arbitrary: fc.record({kind: fc.constant('truncate' as const), at: fc.nat()})},
)

function mutate(text: string, edits: readonly Edit[]): Uint8Array {
  const out: number[] = [...Buffer.from(text, 'utf8')]
  for (const e of edits) {
    const at = e.at % (out.length + 1)
    if (e.kind === 'piece') out.splice(at, 0, ...Buffer.from(e.piece, 'utf8'))
    else if (e.kind === 'delete') out.splice(at, e.length)
    else if (e.kind === 'byte') out.splice(at, 0, e.byte)
    else out.splice(at)
  }
  return Uint8Array.from(out)
}

const SCALARS = ['1', '-3', '2.5', 'true', 'null', '"text"', 'abc', '.inf', `"${SECRET}"`, '!!binary aGk=', '0o17']

/** A YAML value: scalars, lists, mappings, nested up to 6 deep. */
const {value} = fc.letrec<{value: string}>((tie) => ({
  value: fc.oneof(
    {depthSize: 'small', maxDepth: 6},
    fc.constantFrom(...SCALARS),
    fc.array(tie('value'), {maxLength: 3}).map((items) => `[${items.join(', ')}]`),
    fc.array(tie('value'), {maxLength: 3}).map((items) => `{${items.map((v, i) => `k${i}: ${v}`).join(', ')}}`),
  ),
}))

function check(bytes: Uint8Array): void {
  let result: Record<string, unknown> | undefined
  try {
    result = parseValuesFile(bytes, LABEL)
  } catch (error) {
    if (!(error instanceof ConfigError))
      throw new Error(`not a ConfigError for ${JSON.stringify(Buffer.from(bytes).toString('latin1').slice(0, 200))}: ${String(error)}`)
    expect(error.message.startsWith(`${LABEL}: `), error.message).toBe(true)
    expect(error.hint).toBeTruthy()
    expect(error.exitCode).toBe(78)
    expect(error.message).not.toContain(SECRET)
    expect(error.message).not.toContain('AAH-secret')
    return
  }
  // Accepted: only plain values (and lists of them) reach the option parsers.
  for (const v of Object.values(result)) {
    const items = Array.isArray(v) ? v : [v]
    for (const item of items) expect(item === null || ['string', 'number', 'boolean'].includes(typeof item)).toBe(true)
  }
}

describe('--values fuzzing: parseValuesFile', () => {
  it('the valid file parses', () => {
    expect(parseValuesFile(Buffer.from(VALID), LABEL)).toMatchObject({'worker-max-replicas': 10, expose: 'NodePort'})
  })

  it('mutations of a valid file: plain values or a ConfigError, nothing else', async () => {
    await checkProperty(
      fc.property(fc.array(edit, {minLength: 1, maxLength: 6}), (edits) => check(mutate(VALID, edits))),
      3000,
    )
  })

  it('files of random option values, nested up to 6 deep', async () => {
    const keys = ['worker-max-replicas', 'telegram-chat-id', 'monitoring', 'image', 'telegram-token', 'expose', 'nope']
    const line = fc.tuple(fc.constantFrom(...keys), value).map(([k, v]) => `${k}: ${v}`)
    await checkProperty(
      fc.property(fc.array(line, {minLength: 1, maxLength: 5}), (lines) => check(Buffer.from(lines.join('\n')))),
      2000,
    )
  })

  it('a YAML error that quotes the line it stumbled on never shows the token (found by this fuzzer)', () => {
    const broken = VALID.replace(`telegram-token: "${SECRET}"`, `telegram-token: >"${SECRET}"`)
    expect(() => parseValuesFile(Buffer.from(broken), LABEL)).toThrow(
      /^--values fuzz\.yaml: not valid YAML \(Block scalar header includes extra characters: >"\*{8}"/,
    )
    check(Buffer.from(broken))
  })

  it('random bytes', async () => {
    await checkProperty(
      fc.property(fc.uint8Array({maxLength: 300}), (bytes) => check(bytes)),
      500,
    )
  })

  it('deep nesting, alias bombs, oversized files', () => {
    for (const depth of [100, 1000, 10_000, 30_000]) {
      check(Buffer.from(`worker-max-replicas: ${'['.repeat(depth)}${']'.repeat(depth)}`))
      check(Buffer.from(`worker-max-replicas: ${'{a: '.repeat(depth / 4)}1${'}'.repeat(depth / 4)}`))
    }
    let bomb = 'a: &a [x, x, x, x, x, x, x, x, x]\n'
    for (const [prev, name] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['d', 'e'],
      ['e', 'f'],
    ])
      bomb += `${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]\n`
    check(Buffer.from(bomb))
    expect(() => parseValuesFile(Buffer.from(bomb), LABEL)).toThrow(/aliases \(\*name\) expand to too much/)
    const big = Buffer.alloc(MAX_VALUES_FILE_BYTES + 1, 0x23) // '#' comments
    expect(() => parseValuesFile(big, LABEL)).toThrow(/larger than 64 KiB/)
  })
})
