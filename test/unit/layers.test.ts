/**
 * The arrows of src/ run one way (see DEVELOPERS.md, "Where code goes"):
 * commands → lab → status → adapters → config, commands → ui, and services → status, adapters, config.
 * Every import counts: static, type-only and dynamic `import()` (the webhook once loaded ui/ and
 * lab/ at run time, which a static-only check would miss). Import cycles are dpdm's job in `npm test`.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import ts from 'typescript'
import {describe, expect, it} from 'vitest'

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

/** The top-level rooms of src/ each room must never import (files directly in src/, like errors.ts, are everyone's). */
const FORBIDDEN: Record<string, readonly string[]> = {
  services: ['commands', 'lab', 'ui', 'hooks'],
  status: ['commands', 'lab', 'ui', 'services', 'hooks'],
  adapters: ['commands', 'lab', 'ui', 'services', 'status', 'hooks'],
  config: ['commands', 'lab', 'ui', 'services', 'status', 'adapters', 'hooks'],
  ui: ['commands', 'services'],
  lab: ['commands'],
}

/** The room of a path relative to src/ ('services/api/app.ts' → 'services'; 'errors.ts' → ''). */
const roomOf = (path: string): string => (path.includes('/') ? (path.split('/')[0] ?? '') : '')

/** Every relative import of one file (static, type-only, re-export and dynamic), as paths relative to src/. */
function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => relative(srcDir, resolve(dirname(file), name)).replace(/\.js$/, '.ts'))
}

/** The imports that break FORBIDDEN, as 'from -> to'. */
function layerViolations(files: {path: string; imports: string[]}[]): string[] {
  const out: string[] = []
  for (const {path, imports} of files) {
    const banned = FORBIDDEN[roomOf(path)] ?? []
    for (const target of imports) if (banned.includes(roomOf(target))) out.push(`${path} -> ${target}`)
  }
  return out
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

describe('import layers of src/', () => {
  it('the checker sees a forbidden import, static or dynamic, and lets allowed ones through', () => {
    const text = "import type {X} from '../../lab/status/model.js'\nconst m = await import('../../ui/status.js')\nimport {y} from '../shared/y.js'\n"
    const imports = importsOf(join(srcDir, 'services/webhook/status.ts'), text)
    expect(imports).toEqual(['lab/status/model.ts', 'ui/status.ts', 'services/shared/y.ts'])
    expect(layerViolations([{path: 'services/webhook/status.ts', imports}])).toEqual([
      'services/webhook/status.ts -> lab/status/model.ts',
      'services/webhook/status.ts -> ui/status.ts',
    ])
    expect(layerViolations([{path: 'commands/status.ts', imports: ['ui/status.ts', 'lab/x.ts', 'status/screen.ts']}])).toEqual([])
  })

  it('no file of src/ imports against the arrows', () => {
    const files = sourceFiles(srcDir).map((file) => ({path: relative(srcDir, file), imports: importsOf(file, readFileSync(file, 'utf8'))}))
    // The walk found the tree (a wrong srcDir would pass vacuously).
    expect(files.filter((f) => roomOf(f.path) === 'services').length).toBeGreaterThan(10)
    expect(layerViolations(files)).toEqual([])
  })
})
