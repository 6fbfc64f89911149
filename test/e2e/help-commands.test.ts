import {readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'

import {describe, expect, it} from 'vitest'

import {repoRoot, runCli} from '../helpers/cli.js'
import {runCliInPty} from '../helpers/pty.js'

/**
 * Every command answers `--help` with its description, examples and flags, and `keda-lab --help`
 * lists them all; and no command drags a heavy library into start-up through a static import.
 */

const commandsDir = join(repoRoot, 'src', 'commands')

function commandFiles(dir = commandsDir): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return commandFiles(path)
    return entry.endsWith('.ts') && !entry.endsWith('.d.ts') ? [path] : []
  })
}

interface CommandInfo {
  id: string
  file: string
  summary?: string
  description?: string
  examples?: unknown[]
  hidden?: boolean
  flags: Record<string, {hidden?: boolean; char?: string}>
}

async function loadCommands(): Promise<CommandInfo[]> {
  const infos: CommandInfo[] = []
  for (const file of commandFiles()) {
    const id = relative(commandsDir, file)
      .replace(/\.ts$/, '')
      .replace(/\/index$/, '')
      .split('/')
      .join(' ')
    const module = (await import(file)) as {default?: CommandInfo & {baseFlags?: CommandInfo['flags']}}
    const command = module.default
    if (!command) continue
    infos.push({
      id,
      file,
      summary: command.summary,
      description: command.description,
      examples: command.examples,
      hidden: command.hidden,
      flags: {...command.baseFlags, ...command.flags},
    })
  }
  return infos.filter((c) => !c.hidden)
}

const commands = await loadCommands()

/** oclif wraps help text to the terminal width; compare on words, not on line breaks. */
const words = (text: string) => text.replace(/\s+/g, ' ').trim()

describe('keda-lab --help', () => {
  it('exits 0 and lists every command (or its topic)', async () => {
    const result = await runCli(['--help'], {timeoutMs: 30_000})
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('USAGE')
    for (const command of commands) {
      expect(result.stdout, `root help lists ${command.id}`).toContain(command.id.split(' ')[0]!)
    }
  })
})

describe.each(commands.map((c) => [c.id, c] as const))('keda-lab %s --help', (id, command) => {
  it('exits 0 and shows the description, examples and every flag', async () => {
    expect(command.summary ?? command.description, `${id} has a description`).toBeTruthy()
    expect(command.examples?.length ?? 0, `${id} has examples`).toBeGreaterThan(0)
    const result = await runCli([...id.split(' '), '--help'], {timeoutMs: 30_000})
    expect(result.code, result.stderr).toBe(0)
    const out = words(result.stdout)
    expect(out).toContain('USAGE')
    expect(out).toContain(words((command.summary ?? command.description)!.split('\n')[0]!).slice(0, 60))
    expect(out).toContain('EXAMPLES')
    const visible = Object.entries(command.flags).filter(([, flag]) => !flag.hidden)
    if (visible.length > 0) expect(out).toMatch(/FLAGS/)
    for (const [name] of visible) expect(out, `${id} --help shows --${name}`).toContain(`--${name}`)
  })
})

describe('keda-lab help <command> (@oclif/plugin-help)', () => {
  it.each(commands.map((c) => [c.id, c] as const))('keda-lab help %s shows the same help as --help', async (id, command) => {
    const result = await runCli(['help', ...id.split(' ')], {timeoutMs: 30_000})
    expect(result.code, result.stderr).toBe(0)
    const out = words(result.stdout)
    expect(out).toContain('USAGE')
    expect(out).toContain(`$ keda-lab ${id}`)
    expect(out).toContain(words((command.summary ?? command.description)!.split('\n')[0]!).slice(0, 60))
  })

  it('keda-lab help nope: says there is no such command', async () => {
    const result = await runCli(['help', 'nope'], {timeoutMs: 30_000})
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('Command nope not found')
  })
})

describe('a mistyped command (src/hooks/command-not-found.ts)', () => {
  // A typo of a command that exists whatever is being added (the first visible one, a letter
  // dropped), and a word far from every command: the test does not depend on the command list.
  const target = [...commands].sort((a, b) => b.id.length - a.id.length)[0]!.id
  const typo = target.slice(0, -2) + target.slice(-1)
  const farOff = 'xylophonic'

  it('in a terminal: a typo prints the close command, asks nothing, runs nothing and exits 127', async () => {
    const {code, transcript} = await runCliInPty(
      [...typo.split(' '), '--help-me-not'],
      [{expect: `${typo} is not a keda-lab command`, timeout: 90}, {expect: 'for a list of available commands'}],
    )
    expect(code, transcript).toBe(127)
    expect(transcript).toContain(`did you mean \`keda-lab ${target}\`? Nothing was run`)
    expect(transcript).not.toMatch(/\(Y\/n\)|\? Did you mean/)
    // Nothing of the suggested command ran: no flag error for the made-up flag, no stack trace.
    expect(transcript).not.toMatch(/Nonexistent flag|help-me-not|at .+\.js:\d+/)
  }, 180_000)

  it('without a terminal: the typo gets its suggestion on stderr, a far-off word gets none, both exit 127', async () => {
    const close = await runCli(typo.split(' '), {timeoutMs: 30_000})
    expect(close.code).toBe(127)
    expect(close.stdout).toBe('')
    expect(close.stderr).toBe(
      `Error: ${typo} is not a keda-lab command\n` +
        `Fix: did you mean \`keda-lab ${target}\`? Nothing was run: type the command yourself to run it, or run \`keda-lab help\` for a list of available commands\n`,
    )
    const far = await runCli([farOff, '--profile', 'ramp'], {timeoutMs: 30_000})
    expect(far.code).toBe(127)
    expect(far.stderr).toBe(`Error: ${farOff} is not a keda-lab command\nFix: run \`keda-lab help\` for a list of available commands\n`)
  })
})

/**
 * Libraries too heavy for start-up: a command file must load them with `await import()` inside
 * run(), never through a static import (directly or via a local module it imports statically).
 */
const HEAVY = [
  '@kubernetes/client-node',
  'bullmq',
  'ioredis',
  'fastify',
  '@fastify/',
  'listr2',
  '@inquirer/prompts',
  'execa',
  'node-telegram-bot-api',
  'prom-client',
  'pino',
  'kubernetes-models',
  'autocannon',
  'yaml',
  'zod',
  'typebox',
]

/** Static imports only (`import … from 'x'`, `export … from 'x'`, `import 'x'`), not `import type`. */
function staticImports(source: string): string[] {
  const specifiers: string[] = []
  const pattern = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm
  for (const match of source.matchAll(pattern)) specifiers.push(match[1]!)
  return specifiers
}

function heavyImportsOf(file: string, seen = new Set<string>(), chain: string[] = []): string[] {
  if (seen.has(file)) return []
  seen.add(file)
  const found: string[] = []
  for (const specifier of staticImports(readFileSync(file, 'utf8'))) {
    if (specifier.startsWith('.')) {
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))
      found.push(...heavyImportsOf(target, seen, [...chain, relative(repoRoot, target)]))
    } else if (HEAVY.some((heavy) => specifier === heavy || specifier.startsWith(heavy.endsWith('/') ? heavy : `${heavy}/`))) {
      found.push([...chain, specifier].join(' → '))
    }
  }
  return found
}

describe('start-up stays light', () => {
  it.each(commands.map((c) => [c.id, c.file] as const))('keda-lab %s imports no heavy library statically', (_id, file) => {
    expect(heavyImportsOf(file)).toEqual([])
  })
})
