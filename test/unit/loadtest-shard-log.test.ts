/** A shard's records and summary read back from its pod's log, whatever stderr lines surround them. */
import {describe, expect, it} from 'vitest'

import {formatShardRecord, parseShardLog, parseShardRecord, recordSecond, ShardLogReader} from '../../src/lab/loadtest/shard-log.js'

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

describe('ShardLogReader', () => {
  const record = (t: number) => ({t, at: new Date(Date.UTC(2026, 11, 7, 3, 0, t + 1, 400)).toISOString(), vus: 1, requests: {add: t, status: 0}})
  it('reads the records of the lines it had not seen, complete lines only, then the summary', () => {
    const reader = new ShardLogReader('p-0')
    const lines = [`${formatShardRecord(record(0) as never)}`, 'Target: http://x — given with --target', formatShardRecord(record(1) as never)]
    let log = `${lines[0]}\n${lines[1]}\n${(lines[2] as string).slice(0, 20)}`
    expect(reader.feed(log).map((r) => r.t)).toEqual([0])
    expect(reader.lastSecond).toBe(recordSecond(record(0)))
    log = `${lines.join('\n')}\n`
    expect(reader.feed(log).map((r) => r.t)).toEqual([1])
    expect(reader.feed(log)).toEqual([])
    expect(reader.summary).toBeUndefined()
    log += `${JSON.stringify(summary, null, 2)}\n`
    expect(reader.feed(log)).toEqual([])
    expect(reader.summary).toEqual(summary)
    // The records do not hide the summary from parseShardLog, nor fill its error's tail.
    expect(parseShardLog(log, 'p-0')).toEqual(summary)
    expect(() => parseShardLog(`${lines.join('\n')}\n`, 'p-0')).toThrow(/its log ends with:\n {2}Target: http:\/\/x — given with --target$/)
  })

  it('takes a line that only looks like a record for something else', () => {
    expect(parseShardRecord('{"kedaLabShardRecord": 1}')).toBeUndefined()
    expect(parseShardRecord('{"kedaLabShardRecord":{"t":0}}')).toBeUndefined()
    expect(parseShardRecord('{"kedaLabShardRecord":{"t":0,"at":"2026-12-07T03:00:01.000Z","requests":{}}')).toBeUndefined()
  })

  it('keys a record by the wall-clock second its span overlaps most', () => {
    expect(recordSecond({at: '2026-12-07T03:00:05.999Z'})).toBe(Date.UTC(2026, 11, 7, 3, 0, 5) / 1000)
    expect(recordSecond({at: '2026-12-07T03:00:05.001Z'})).toBe(Date.UTC(2026, 11, 7, 3, 0, 4) / 1000)
  })
})

describe('ShardLogReader following a log in pieces', () => {
  it('reads the same records and summary from a followed log, cut anywhere, as from the whole', () => {
    const lines = [0, 1, 2].map((t) =>
      formatShardRecord({t, at: new Date(Date.UTC(2026, 11, 7, 3, 0, t + 1)).toISOString(), vus: 1, requests: {add: 1, status: 0}} as never),
    )
    const log = `${lines.join('\n')}\nStopping: no new iterations\n${JSON.stringify(summary, null, 2)}\n`
    for (const cut of [1, 7, 50, 333]) {
      const reader = new ShardLogReader('p')
      const seen: number[] = []
      for (let i = 0; i < log.length; i += cut) seen.push(...reader.append(log.slice(i, i + cut)).map((r) => r.t))
      expect(seen, `pieces of ${cut}`).toEqual([0, 1, 2])
      expect(reader.summary).toEqual(summary)
      // A whole read after the follow takes nothing twice.
      expect(reader.feed(log)).toEqual([])
    }
  })
})
