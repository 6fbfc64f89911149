/**
 * The report of `loadtest --out DIR`, written from a simulated run (seeded) and opened in a real
 * headless Chromium: it loads offline with no console error and no request but its own file, and
 * draws every chart. KEDA_LAB_REPORT_SCREENSHOT=path keeps the screenshot (docs/loadtest-report.png
 * was made so).
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {scalingFacts} from '../../src/lab/loadtest/facts.js'
import {CSV_COLUMNS, prepareReportDir, REPORT_FILES, writeReport} from '../../src/lab/loadtest/report.js'
import type {SecondRecord} from '../../src/lab/loadtest/records.js'
import {type Browser, startChromium} from '../helpers/chromium.js'
import {rampShape, simulateRun, summaryFor} from '../helpers/loadtest-records.js'

const SEED = 20261207

describe('loadtest report', () => {
  let dir: string
  let browser: Browser | undefined
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'keda-lab-report-'))
  })
  afterAll(async () => {
    await browser?.close()
    rmSync(dir, {recursive: true, force: true})
  })

  function run(api: boolean, name: string) {
    console.log(`loadtest-report: simulated ramp, seed ${SEED}`)
    const records = simulateRun({
      seed: SEED,
      vus: rampShape(30, 30, 60),
      tailS: 60,
      minWorkers: 1,
      maxWorkers: 8,
      tasksPerWorker: 3,
      workerRate: 0.6,
      scaleDelayS: 4,
      scaleDownAfterS: 12,
      failedSamples: [50],
      source: api ? 'cluster' : 'dev',
      api,
    })
    const summary = summaryFor(records, scalingFacts(records))
    const out = join(dir, name)
    const files = writeReport(out, summary, records)
    return {records, summary, files, out}
  }

  it('writes summary.json, the time series as NDJSON and CSV, and one self-contained page', () => {
    const {records, summary, files} = run(true, 'files')
    expect(JSON.parse(readFileSync(files.summary, 'utf8'))).toEqual(summary)
    const ndjson = readFileSync(files.ndjson, 'utf8').trimEnd().split('\n')
    expect(ndjson.map((l) => JSON.parse(l) as SecondRecord)).toEqual(records)
    const csv = readFileSync(files.csv, 'utf8').trimEnd().split('\n')
    expect(csv[0]).toBe(CSV_COLUMNS.map(([n]) => n).join(','))
    expect(csv).toHaveLength(records.length + 1)
    const header = (csv[0] ?? '').split(',')
    // The stage has no comma; the failed sample's error is quoted (it holds parentheses, no comma).
    const row = (csv[51] ?? '').split(',')
    expect(row[header.indexOf('t')]).toBe('50')
    expect(row[header.indexOf('scaling_error')]).toBe('cannot read the queue (connection refused)')
    expect(row[header.indexOf('workers')]).toBe('')
    const someRow = (csv[21] ?? '').split(',')
    expect(Number(someRow[header.indexOf('workers')])).toBe(records[20]?.scaling?.workers)
    const html = readFileSync(files.html, 'utf8')
    // No external resource: nothing loaded by URL (uPlot's own source mentions its home page in a comment only).
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i)
    expect(html).toContain('uPlot')
  })

  it('refuses a file where the report folder should be, with how to fix it', () => {
    const file = join(dir, 'a-file')
    writeFileSync(file, 'x')
    expect(() => prepareReportDir(file)).toThrow(/is a file, not a folder/)
  })

  it('loads in headless Chromium with no console error and no network request, and draws every chart', async () => {
    const {out, summary} = run(true, 'chromium')
    browser = await startChromium()
    const url = pathToFileURL(join(out, REPORT_FILES.html)).href
    const page = await browser.open(url, {width: 1100, height: 900})
    // requests, latency, queue, api, task per second, task percentiles
    expect(await page.evaluate<string>("document.body.getAttribute('data-charts')")).toBe('6')
    // Every canvas has something drawn on it (not blank): pixels that are not transparent.
    const painted = await page.evaluate<number[]>(
      `[...document.querySelectorAll('.uplot canvas')].map(c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n })`,
    )
    expect(painted).toHaveLength(6)
    for (const n of painted) expect(n).toBeGreaterThan(1000)
    // The queue chart holds the workers as the records had them.
    const workers = await page.evaluate<(number | null)[]>("JSON.parse(document.getElementById('report-data').textContent).queue.workers")
    expect(Math.max(...workers.filter((w): w is number => w !== null))).toBe(summary.scaling.workersMax)
    expect(page.events.exceptions).toEqual([])
    expect(page.events.console.filter((c) => c.type === 'error' || c.type === 'warning')).toEqual([])
    expect(page.events.log.filter((l) => l.level === 'error' || l.level === 'warning')).toEqual([])
    expect(page.events.requests).toEqual([url])
    expect(page.events.failedRequests).toEqual([])
    const png = await page.screenshot()
    expect(png.subarray(1, 4).toString()).toBe('PNG')
    const keep = process.env.KEDA_LAB_REPORT_SCREENSHOT
    writeFileSync(keep || join(out, 'screenshot.png'), png)
  })
})
