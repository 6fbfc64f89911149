import {afterAll, describe, expect, it} from 'vitest'

import {type DevRun, cleanupDev, startDev} from './dev-harness.js'

/**
 * The log `keda-lab dev` prints: every process has a prefix colour of its own ([api], [redis] and
 * the workers never share one), FORCE_COLOR turns colour on without a terminal, and keda-lab dev's
 * own [dev] lines carry the time like the services' lines, so decisions can be timed.
 */

const ANSI = /\u001B\[[\d;]*m/g

let dev: DevRun | undefined
afterAll(async () => {
  await cleanupDev(dev)
})

describe('keda-lab dev: the log', () => {
  it('a distinct colour per process with FORCE_COLOR, and a timestamp on every [dev] line', async () => {
    dev = startDev(['--api-port', '0', '--workers', '3'], {NO_COLOR: undefined, FORCE_COLOR: '1'})
    await dev.waitForLine(/keda-lab dev is running/, 90_000)
    for (const n of [1, 2, 3]) await dev.waitForLine(new RegExp(`^\\u001B\\[[\\d;]+m\\[worker-${n}\\]`), 30_000)
    await dev.waitForLine(/^\u001B\[[\d;]+m\[api\]/, 30_000)

    const colourOf = (name: string) => {
      const line = dev!.lines.find((l) => l.startsWith('\u001B[') && l.replace(ANSI, '').startsWith(`[${name}]`))
      expect(line, `a coloured [${name}] line`).toBeDefined()
      return /^\u001B\[([\d;]+)m/.exec(line!)![1]!
    }
    const names = ['dev', 'redis', 'api', 'worker-1', 'worker-2', 'worker-3']
    const colours = names.map(colourOf)
    expect(new Set(colours).size, `colours ${names.map((n, i) => `${n}=${colours[i]}`).join(' ')}`).toBe(names.length)
    // The colour ends with the prefix: the message itself is not coloured.
    for (const line of dev.lines.filter((l) => l.startsWith('\u001B['))) expect(line).toMatch(/^\u001B\[[\d;]+m\[[\w-]+\]\s*\u001B\[0m /)

    const devLines = dev.lines.map((l) => l.replace(ANSI, '')).filter((l) => l.startsWith('[dev]'))
    expect(devLines.length).toBeGreaterThan(5)
    for (const line of devLines) expect(line).toMatch(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3} +\S/)

    dev.child.kill('SIGINT')
    expect((await dev.exited).code).toBe(0)
  }, 180_000)
})
