/**
 * The `--values FILE` of install and render: a small YAML mapping of install options keyed by
 * flag name. Whatever the file holds (broken YAML, a huge or binary file, UTF-16, deep nesting,
 * an alias bomb, several documents, unknown tags, values of the wrong type), the answer is one
 * ConfigError saying what is wrong with it and how to fix it — never a crash, a hang or a
 * library's warning on stderr.
 */
import {open, stat} from 'node:fs/promises'
import {resolve} from 'node:path'

import {parseAllDocuments} from 'yaml'

import {ConfigError} from '../../errors.js'
import {checkValuesFileKeys, OPTION_SPECS} from '../install/options.js'

/** Far more than any file of install options needs (they are a few hundred bytes). */
export const MAX_VALUES_FILE_BYTES = 64 * 1024

/** Aliases (`*name`) a file may expand; install options have no use for more. */
const MAX_ALIAS_COUNT = 50

const EXAMPLE = 'keys are the flag names, e.g. worker-max-replicas: 10'

/** Reads and checks a --values file; undefined when no path is given. */
export async function readValuesFile(path: string | undefined, cwd: string): Promise<Record<string, unknown> | undefined> {
  if (!path) return undefined
  const label = `--values ${path}`
  const full = resolve(cwd, path)
  const notReadable = () =>
    new ConfigError(`${label}: file not found or not readable`, 'pass the path of a YAML file with install options (see `keda-lab install --help`)')
  const info = await stat(full).catch(() => undefined)
  if (!info) throw notReadable()
  if (info.isDirectory()) throw new ConfigError(`${label}: is a directory, not a file`, `pass the path of a YAML file with install options; ${EXAMPLE}`)
  let bytes: Uint8Array
  try {
    // At most one byte more than allowed is read, so that a huge file (or a device that never
    // ends) costs nothing.
    bytes = await readAtMost(full, MAX_VALUES_FILE_BYTES + 1)
  } catch {
    throw notReadable()
  }
  return parseValuesFile(bytes, label)
}

const SECRET_FLAGS = new Set(OPTION_SPECS.filter((spec) => spec.kind === 'secret').map((spec) => spec.flag))
const MASK = '********'

/**
 * The words (4+ characters) written under a secret option (telegram-token…) in the file's text,
 * found line by line so that a file too broken to parse still gives them: the key's line and the
 * lines indented below it (a block scalar).
 */
function secretWords(text: string): string[] {
  const lines = text.split(/\r?\n/)
  const words = new Set<string>()
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)["']?([\w-]+)["']?\s*:(.*)$/.exec(lines[i] ?? '')
    if (!m || !SECRET_FLAGS.has(m[2] ?? '')) continue
    const indent = (m[1] ?? '').length
    const region = [m[3] ?? '']
    for (let j = i + 1; j < lines.length; j++) {
      const line = lines[j] ?? ''
      if (line.trim() !== '' && (/^\s*/.exec(line)?.[0].length ?? 0) <= indent) break
      region.push(line)
    }
    for (const part of region) for (const word of part.split(/[\s"'`,[\]{}|>]+/)) if (word.length >= 4) words.add(word)
  }
  return [...words]
}

/** The longest piece of `word` (8+ characters) that occurs in `text`, if any. */
function sharedPiece(text: string, word: string): string | undefined {
  for (let length = word.length; length >= 8; length--) {
    for (let start = 0; start + length <= word.length; start++) {
      const piece = word.slice(start, start + length)
      if (text.includes(piece)) return piece
    }
  }
  return undefined
}

/**
 * A message without the file's secrets: YAML parse errors quote the source text they stumble on
 * (e.g. `Block scalar header includes extra characters: >"<the token>"`), so every piece of a secret
 * option's value, and anything shaped like a bot token, is masked.
 */
function redact(message: string, secrets: readonly string[]): string {
  let out = message
  for (const word of secrets) {
    for (let piece = sharedPiece(out, word); piece; piece = sharedPiece(out, word)) out = out.split(piece).join(MASK)
  }
  return out.replace(/\d{5,}:[\w-]{20,}/g, MASK)
}

/** Checks and parses the bytes of a --values file. `label` names the file in messages. */
export function parseValuesFile(bytes: Uint8Array, label: string): Record<string, unknown> {
  if (bytes.length > MAX_VALUES_FILE_BYTES) {
    throw new ConfigError(
      `${label}: larger than ${MAX_VALUES_FILE_BYTES / 1024} KiB, too large for a file of install options`,
      `is it the right file? It holds only install options; ${EXAMPLE}`,
    )
  }
  const text = decodeText(bytes, label)
  try {
    return parseValuesText(text, label)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    const message = redact(error.message, secretWords(text))
    throw message === error.message ? error : new ConfigError(message, error.hint)
  }
}

function parseValuesText(text: string, label: string): Record<string, unknown> {
  let documents: ReturnType<typeof parseAllDocuments>
  let data: unknown
  try {
    documents = parseAllDocuments(text, {uniqueKeys: true, logLevel: 'silent'})
    if (!Array.isArray(documents)) return {} // an empty stream: nothing but comments or whitespace
    if (documents.length > 1) {
      throw new ConfigError(`${label}: holds ${documents.length} YAML documents (separated by ---)`, `put every option in one document; ${EXAMPLE}`)
    }
    const [document] = documents
    if (!document) return {}
    const problem = document.errors[0] ?? document.warnings[0]
    if (problem && /call stack/i.test(problem.message)) throw new RangeError(problem.message)
    if (problem) throw new ConfigError(`${label}: not valid YAML (${firstLine(problem.message)})`, `fix the YAML syntax; ${EXAMPLE}`)
    data = document.toJS({maxAliasCount: MAX_ALIAS_COUNT})
  } catch (error) {
    if (error instanceof ConfigError) throw error
    if (error instanceof RangeError) {
      throw new ConfigError(
        `${label}: nested too deeply to be read`,
        `install options are plain values (numbers, text, true/false, a list of chat ids); ${EXAMPLE}`,
      )
    }
    const message = firstLine((error as Error).message)
    if (/alias/i.test(message)) {
      throw new ConfigError(
        `${label}: its aliases (*name) expand to too much (${message})`,
        `write the values out instead of using anchors and aliases; ${EXAMPLE}`,
      )
    }
    throw new ConfigError(`${label}: not valid YAML (${message})`, `fix the YAML syntax; ${EXAMPLE}`)
  }

  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data) || data instanceof Uint8Array) {
    throw new ConfigError(`${label}: expected a mapping of option names to values, got ${describe(data)}`, `e.g. worker-max-replicas: 10`)
  }
  const file = data as Record<string, unknown>
  checkValuesFileKeys(file, label)
  checkValueTypes(file, label)
  return file
}

/** UTF-8 text, or a ConfigError naming what the bytes are instead. */
function decodeText(bytes: Uint8Array, label: string): string {
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)
  if (utf16) throw new ConfigError(`${label}: is UTF-16 text`, 'save it as UTF-8 (the encoding YAML files use)')
  if (bytes.includes(0)) throw new ConfigError(`${label}: is not a text file (it contains NUL bytes)`, `pass a YAML text file; ${EXAMPLE}`)
  try {
    return new TextDecoder('utf-8', {fatal: true}).decode(bytes)
  } catch {
    const line =
      new TextDecoder('utf-8')
        .decode(bytes)
        .split('\n')
        .findIndex((l) => l.includes('\uFFFD')) + 1
    throw new ConfigError(`${label}: is not UTF-8 text${line > 0 ? ` (line ${line})` : ''}`, 'save it as UTF-8 (the encoding YAML files use)')
  }
}

/** Every value must be something an option can take: a scalar, or a list for list options. */
function checkValueTypes(file: Record<string, unknown>, label: string): void {
  const problems: string[] = []
  for (const [key, value] of Object.entries(file)) {
    const spec = OPTION_SPECS.find((s) => s.flag === key || s.key === key || s.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) === key)
    const scalarProblem = (v: unknown) =>
      typeof v === 'string' || typeof v === 'boolean' || v === null
        ? undefined
        : typeof v === 'number'
          ? Number.isFinite(v)
            ? undefined
            : `${v} is not a usable number`
          : `got ${describe(v)}`
    if (Array.isArray(value)) {
      if (spec?.kind !== 'list') problems.push(`${key}: a list is not accepted here, got ${describe(value)}`)
      else {
        const bad = value.map((item) => (item === null ? 'got an empty item' : scalarProblem(item))).find(Boolean)
        if (bad) problems.push(`${key}: every item must be a chat id (a number or @channelname), ${bad}`)
      }
      continue
    }
    const bad = scalarProblem(value)
    if (bad)
      problems.push(
        `${key}: expected ${spec?.kind === 'list' ? 'a chat id or a list of them' : spec?.kind === 'boolean' ? 'true or false' : spec?.kind === 'integer' ? 'a whole number' : 'a text value'}, ${bad}`,
      )
  }
  if (problems.length > 0) {
    throw new ConfigError(
      problems.length === 1 ? `${label}: ${problems[0]}` : `${label}: ${problems.length} values have the wrong type:\n  ${problems.join('\n  ')}`,
      `install options are plain values (numbers, text, true/false, a list of chat ids); ${EXAMPLE}`,
    )
  }
}

/** What a YAML value is, in words (never the value itself: it might be a secret). */
function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (value instanceof Uint8Array) return 'binary data'
  if (value instanceof Date) return 'a date'
  if (value instanceof Map || (typeof value === 'object' && value !== null)) return 'a mapping'
  if (typeof value === 'string') return 'text'
  return `a ${typeof value}`
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/:$/, '')
}

/** The first `limit` bytes of a file (fewer when it is shorter). */
async function readAtMost(path: string, limit: number): Promise<Uint8Array> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(limit)
    let filled = 0
    while (filled < limit) {
      const {bytesRead} = await handle.read(buffer, filled, limit - filled, null)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    return buffer.subarray(0, filled)
  } finally {
    await handle.close()
  }
}
