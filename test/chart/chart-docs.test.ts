/**
 * The chart documents itself: every key of values.yaml carries a `# --` comment (helm-docs
 * style), every key is described by values.schema.json, every `define` in _helpers.tpl has a doc
 * block, and templates live in one folder per component.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'
import {isMap, isScalar, isSeq, parseDocument, type Pair, type YAMLMap} from 'yaml'

import {CHART_DIR} from '../helpers/helm.js'

/** Dotted paths of every key in a values map whose comment does not start with `--`. */
function undocumented(map: YAMLMap, prefix: string, inheritedDoc: boolean): string[] {
  const missing: string[] = []
  for (const [index, item] of (map.items as Pair[]).entries()) {
    const key = isScalar(item.key) ? String(item.key.value) : String(item.key)
    const path = prefix ? `${prefix}.${key}` : key
    // The parser attaches the comment above a map's first key to the map itself.
    const comment = (isScalar(item.key) ? item.key.commentBefore : undefined) ?? (index === 0 ? map.commentBefore : undefined) ?? ''
    const documented = /(^|\n)\s*--/.test(comment)
    // A map documented as a whole (e.g. resources, securityContext) documents its insides.
    if (isMap(item.value) && !documented) {
      missing.push(...undocumented(item.value, path, false))
    } else if (!documented && !inheritedDoc) {
      missing.push(path)
    }
  }
  return missing
}

describe('keda-lab chart documentation', () => {
  it('documents every values.yaml key with a `# --` comment', () => {
    const doc = parseDocument(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'))
    expect(doc.errors).toEqual([])
    // The first key's comment is attached to the document when it follows the header directly.
    const contents = doc.contents as YAMLMap
    const first = contents.items[0] as Pair
    if (isScalar(first.key) && !first.key.commentBefore && doc.commentBefore) {
      first.key.commentBefore = doc.commentBefore.split('\n\n').pop()
    }
    expect(undocumented(contents, '', false)).toEqual([])
  })

  it('describes every values.yaml key in values.schema.json', () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as SchemaNode
    type SchemaNode = {properties?: Record<string, SchemaNode>; additionalProperties?: unknown; type?: unknown}
    const values = parseDocument(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')).toJS() as Record<string, unknown>
    const missing: string[] = []
    const walk = (value: unknown, node: SchemaNode | undefined, path: string): void => {
      if (!node) {
        missing.push(path)
        return
      }
      if (value && typeof value === 'object' && !Array.isArray(value) && node.properties) {
        for (const [key, child] of Object.entries(value))
          walk(child, node.properties[key] ?? (node.additionalProperties === false ? undefined : {}), `${path}.${key}`)
      }
    }
    walk(values, schema, '')
    expect(missing).toEqual([])
    // Nullable keys are typed as nullable, so that the defaults (null) validate.
    expect(schema.properties?.task?.properties?.iterations?.type).toEqual(['integer', 'null'])
    expect(schema.properties?.api?.properties?.service?.properties?.nodePort?.type).toEqual(['integer', 'null'])
  })

  it('gives every define in _helpers.tpl a doc block', () => {
    const text = readFileSync(join(CHART_DIR, 'templates', '_helpers.tpl'), 'utf8')
    const defines = [...text.matchAll(/\{\{-? define "([^"]+)" -?\}\}/g)]
    expect(defines.length).toBeGreaterThan(5)
    for (const match of defines) {
      const before = text.slice(0, match.index).trimEnd()
      expect(before.endsWith('*/}}'), `${match[1]} has a doc block`).toBe(true)
      const block = before.slice(before.lastIndexOf('{{/*'))
      expect(block, `${match[1]}'s doc block names it`).toContain(match[1])
    }
  })

  it('keeps one folder per component and no numbered file names', () => {
    const templates = join(CHART_DIR, 'templates')
    const folders = readdirSync(templates, {withFileTypes: true})
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort()
    expect(folders).toEqual(['api', 'common', 'monitoring', 'webhook', 'worker'])
    for (const folder of folders) {
      for (const file of readdirSync(join(templates, folder))) expect(file).toMatch(/^[a-z][a-z-]*\.yaml$/)
    }
  })

  it('has list values where lists are expected (no accidental maps)', () => {
    const values = parseDocument(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'))
    for (const path of [['redis', 'sentinel', 'hosts'], ['webhook', 'telegram', 'chatIds'], ['imagePullSecrets']]) {
      expect(isSeq(values.getIn(path, true)), path.join('.')).toBe(true)
    }
  })
})
