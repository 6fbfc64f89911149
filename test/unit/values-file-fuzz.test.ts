import {describe, expect, it} from 'vitest'

import {ConfigError} from '../../src/errors.js'
import {MAX_VALUES_FILE_BYTES, parseValuesFile} from '../../src/lab/values/values-file.js'

/**
 * Fuzzing the --values parser with generated inputs (a fixed seed, so a failure reproduces):
 * whatever the bytes, it returns plain option values or throws a ConfigError that names the file
 * and says how to fix it — no other exception, no hang, no secret in the message.
 */

const LABEL = '--values fuzz.yaml'
const SECRET = '123456789:AAH-secret_secret_secret_secret_123'

function rng(seed: number) {
  let state = seed >>> 0
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
}

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

function mutate(random: () => number, text: string): Uint8Array {
  const bytes = Buffer.from(text, 'utf8')
  const out: number[] = [...bytes]
  const edits = 1 + Math.floor(random() * 6)
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1))
    const pick = random()
    if (pick < 0.4) out.splice(at, 0, ...Buffer.from(PIECES[Math.floor(random() * PIECES.length)]!, 'utf8'))
    else if (pick < 0.6) out.splice(at, 1 + Math.floor(random() * 8))
    else if (pick < 0.8) out.splice(at, 0, Math.floor(random() * 256))
    else out.splice(at) // truncated
  }
  return Uint8Array.from(out)
}

/** A random YAML value: scalars, lists, mappings, nested up to `depth`. */
function value(random: () => number, depth: number): string {
  const pick = random()
  if (depth <= 0 || pick < 0.4)
    return ['1', '-3', '2.5', 'true', 'null', '"text"', 'abc', '.inf', `"${SECRET}"`, '!!binary aGk=', '0o17'][Math.floor(random() * 11)]!
  const n = Math.floor(random() * 4)
  if (pick < 0.7) return `[${Array.from({length: n}, () => value(random, depth - 1)).join(', ')}]`
  return `{${Array.from({length: n}, (_, i) => `k${i}: ${value(random, depth - 1)}`).join(', ')}}`
}

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

  it('3000 mutations of a valid file: plain values or a ConfigError, nothing else', () => {
    const random = rng(7)
    for (let i = 0; i < 3000; i++) check(mutate(random, VALID))
  })

  it('2000 files of random option values, nested up to 6 deep', () => {
    const random = rng(11)
    const keys = ['worker-max-replicas', 'telegram-chat-id', 'monitoring', 'image', 'telegram-token', 'expose', 'nope']
    for (let i = 0; i < 2000; i++) {
      const lines = Array.from(
        {length: 1 + Math.floor(random() * 5)},
        () => `${keys[Math.floor(random() * keys.length)]}: ${value(random, Math.floor(random() * 7))}`,
      )
      check(Buffer.from(lines.join('\n')))
    }
  })

  it('random bytes, deep nesting, alias bombs, oversized files', () => {
    const random = rng(13)
    for (let i = 0; i < 500; i++) check(Uint8Array.from({length: Math.floor(random() * 300)}, () => Math.floor(random() * 256)))
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
