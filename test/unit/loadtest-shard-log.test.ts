/** A shard's summary read back from its pod's log, whatever stderr lines surround it. */
import {describe, expect, it} from 'vitest'

import {parseShardLog} from '../../src/lab/loadtest/shard-log.js'

const summary = {schemaVersion: 1, profile: 'smoke', shard: {index: 1, count: 2}, histograms: {add: 'HISTFAAAA'}, requests: {add: 5, status: 9}}

describe('parseShardLog', () => {
  it('finds an indented summary between stderr lines', () => {
    const log = `(node:1) ExperimentalWarning: something\n${JSON.stringify(summary, null, 2)}\nwarning after the summary\n`
    expect(parseShardLog(log, 'p-1')).toEqual(summary)
  })

  it('finds a one-line summary, and takes the last one', () => {
    const older = {...summary, profile: 'older'}
    expect(parseShardLog(`${JSON.stringify(older)}\r\n${JSON.stringify(summary)}\r\n`, 'p').profile).toBe('smoke')
  })

  it('ignores JSON that is not a shard summary', () => {
    const error = {error: {name: 'KedaLabError', message: 'target refused', exitCode: 1}}
    expect(() => parseShardLog(JSON.stringify(error, null, 2), 'keda-lab-loadtest-x-1-abcde')).toThrow(
      /pod keda-lab-loadtest-x-1-abcde printed no load-test summary; its log ends with:\n.*"exitCode": 1/s,
    )
  })

  it('says when the log is empty', () => {
    expect(() => parseShardLog('', 'p')).toThrow('pod p printed no load-test summary (its log is empty)')
  })
})
