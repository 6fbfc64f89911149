import {describe, expect, it} from 'vitest'

import {closeCommands, editDistance} from '../../src/lab/suggest.js'

const COMMANDS = ['install', 'uninstall', 'doctor', 'dev', 'status', 'alert:test', 'serve:api', 'serve:worker', 'render', 'tunnel']

describe('closeCommands', () => {
  it('suggests a command one or two edits away, closest first', () => {
    expect(closeCommands('instal', COMMANDS)).toEqual(['install'])
    expect(closeCommands('isntall', COMMANDS)).toEqual(['install'])
    expect(closeCommands('serve:apii', COMMANDS)).toEqual(['serve:api'])
    expect(closeCommands('uninstal', COMMANDS)).toEqual(['uninstall'])
    expect(closeCommands('docter', COMMANDS)).toEqual(['doctor'])
  })

  it('suggests nothing for a word far from every command, or a short word two edits from a short command', () => {
    expect(closeCommands('loadtest', COMMANDS)).toEqual([])
    expect(closeCommands('xylophonic', COMMANDS)).toEqual([])
    expect(closeCommands('nope', COMMANDS)).toEqual([])
    expect(closeCommands('xx', COMMANDS)).toEqual([])
    expect(closeCommands('de', COMMANDS)).toEqual(['dev'])
  })

  it('editDistance counts a swap of neighbours as one edit', () => {
    expect(editDistance('ab', 'ba')).toBe(1)
    expect(editDistance('', 'abc')).toBe(3)
    expect(editDistance('kitten', 'sitting')).toBe(3)
  })
})
