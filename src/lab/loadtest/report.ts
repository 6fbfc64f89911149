/**
 * The report of `keda-lab loadtest --out DIR`, from the record stream and the summary alone
 * (records.ts): `summary.json`, the per-second time series as `timeseries.ndjson` (the records as
 * they are) and `timeseries.csv` (flattened, for a spreadsheet), and `report.html`, one
 * self-contained offline page (uPlot inlined, no CDN, no request) with the charts.
 *
 * The time series is appended second by second while the run goes, so an interrupted run (or a
 * killed one) still leaves what it saw; `summary.json` and `report.html` are written at the end.
 */
import {appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {packageAsset} from '../../config/package.js'
import {KedaLabError} from '../../errors.js'
import {describeScalingFacts} from './facts.js'
import type {LatencyStats, LoadSummary, SecondRecord} from './records.js'

/** The files a report consists of, by role. */
export const REPORT_FILES = {
  summary: 'summary.json',
  ndjson: 'timeseries.ndjson',
  csv: 'timeseries.csv',
  html: 'report.html',
} as const

type Column = [name: string, value: (r: SecondRecord) => string | number | boolean | undefined]

const pct = (step: 'add' | 'status', p: keyof LatencyStats): Column => [`${step}_${p}_ms`, (r) => r.latency[step]?.[p]]

/** The CSV columns, in order: one row per second (empty cell: not known that second). */
export const CSV_COLUMNS: readonly Column[] = [
  ['t', (r) => r.t],
  ['at', (r) => r.at],
  ['stage', (r) => r.stage],
  ['vus', (r) => r.vus],
  ['target_rate', (r) => r.targetRate],
  ['iterations_started', (r) => r.iterationsStarted],
  ['iterations_completed', (r) => r.iterationsCompleted],
  ['dropped_iterations', (r) => r.droppedIterations],
  ['add_requests', (r) => r.requests.add],
  ['status_requests', (r) => r.requests.status],
  ['errors', (r) => r.errors],
  ['checks_passed', (r) => r.checks.passed],
  ['checks_failed', (r) => r.checks.failed],
  pct('add', 'p50'),
  pct('add', 'p95'),
  pct('add', 'p99'),
  pct('status', 'p50'),
  pct('status', 'p95'),
  pct('status', 'p99'),
  ['tasks_completed', (r) => r.tasksCompleted],
  ['task_p50_ms', (r) => r.taskLatency?.p50],
  ['task_p95_ms', (r) => r.taskLatency?.p95],
  ['scheduler_lag_p99_ms', (r) => r.schedulerLagP99],
  ['scaling_source', (r) => r.scaling?.source],
  ['queue_waiting', (r) => r.scaling?.queueWaiting],
  ['queue_active', (r) => r.scaling?.queueActive],
  ['workers', (r) => r.scaling?.workers],
  ['workers_desired', (r) => r.scaling?.workersDesired],
  ['scaledobject_ready', (r) => r.scaling?.scaledObjectReady],
  ['scaledobject_active', (r) => r.scaling?.scaledObjectActive],
  ['api_replicas', (r) => r.scaling?.apiReplicas],
  ['api_replicas_desired', (r) => r.scaling?.apiReplicasDesired],
  ['api_cpu_percent', (r) => r.scaling?.apiCpuPercent],
  ['scaling_error', (r) => r.scaling?.error],
]

/** One CSV cell (RFC 4180: quoted when it holds a comma, quote or line break). */
function cell(value: string | number | boolean | undefined): string {
  if (value === undefined) return ''
  const text = String(value)
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

export const csvHeader = (): string => CSV_COLUMNS.map(([name]) => name).join(',')
export const csvRow = (r: SecondRecord): string => CSV_COLUMNS.map(([, value]) => cell(value(r))).join(',')

/**
 * Makes DIR ready for a report before any load is sent (a run whose report cannot be written is
 * wasted): creates it, and refuses a file in its place or a folder it cannot write to.
 */
export function prepareReportDir(dir: string): string {
  const path = resolve(dir)
  try {
    if (statSync(path, {throwIfNoEntry: false})?.isFile()) {
      throw new KedaLabError(`--out ${dir} is a file, not a folder`, {
        hint: 'pass a folder for the report (it is created if missing), e.g. --out ./loadtest-report',
      })
    }
    mkdirSync(path, {recursive: true})
    // Starts the time series empty: a report folder holds one run.
    writeFileSync(join(path, REPORT_FILES.ndjson), '')
    writeFileSync(join(path, REPORT_FILES.csv), `${csvHeader()}\n`)
  } catch (error) {
    if (error instanceof KedaLabError) throw error
    throw new KedaLabError(`cannot write the report to ${dir}: ${(error as Error).message}`, {
      hint: 'pass a folder you can write to with --out (it is created if missing)',
      cause: error,
    })
  }
  return path
}

/** Writes a report second by second (`record`) and completes it at the end (`finish`). */
export interface ReportWriter {
  readonly dir: string
  record(r: SecondRecord): void
  /** Writes summary.json and report.html; returns the paths written. */
  finish(summary: LoadSummary): {summary: string; ndjson: string; csv: string; html: string}
}

/** A report writer for DIR (prepared with prepareReportDir: created, time series emptied). */
export function createReportWriter(dir: string): ReportWriter {
  const path = prepareReportDir(dir)
  const records: SecondRecord[] = []
  const files = {
    summary: join(path, REPORT_FILES.summary),
    ndjson: join(path, REPORT_FILES.ndjson),
    csv: join(path, REPORT_FILES.csv),
    html: join(path, REPORT_FILES.html),
  }
  return {
    dir: path,
    record(r) {
      records.push(r)
      appendFileSync(files.ndjson, `${JSON.stringify(r)}\n`)
      appendFileSync(files.csv, `${csvRow(r)}\n`)
    },
    finish(summary) {
      writeFileSync(files.summary, `${JSON.stringify(summary, null, 2)}\n`)
      writeFileSync(files.html, renderReportHtml(summary, records))
      return files
    },
  }
}

/** Writes a whole report at once (a merged cluster run, or a test). */
export function writeReport(dir: string, summary: LoadSummary, records: readonly SecondRecord[]): ReturnType<ReportWriter['finish']> {
  const writer = createReportWriter(dir)
  for (const r of records) writer.record(r)
  return writer.finish(summary)
}

let uplotAssets: {js: string; css: string} | undefined

/** uPlot's minified IIFE build and stylesheet, read once from the installed package (or the bundle's copy). */
function uplot(): {js: string; css: string} {
  uplotAssets ??= {
    js: readFileSync(packageAsset('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(packageAsset('uplot/dist/uPlot.min.css'), 'utf8'),
  }
  return uplotAssets
}

const escapeHtml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

/** JSON safe inside a <script> element (no `</script>`, no `<!--`). */
const scriptJson = (value: unknown) => JSON.stringify(value).replaceAll('<', '\\u003c').replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029')

const ms = (n: number | undefined) => (n === undefined ? '–' : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${n.toFixed(n < 10 ? 2 : 0)} ms`)

function latencyTable(summary: LoadSummary): string {
  const rows = (['add', 'status', 'task'] as const).flatMap((step) => {
    const s = summary.latency[step]
    if (!s) return []
    const label = step === 'task' ? 'task end to end' : `${step} (from scheduled start)`
    return [`<tr><th>${label}</th><td>${s.count}</td>${(['p50', 'p90', 'p95', 'p99', 'max'] as const).map((p) => `<td>${ms(s[p])}</td>`).join('')}</tr>`]
  })
  return `<table><thead><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function checksTable(summary: LoadSummary): string {
  const rows = Object.entries(summary.checks).map(
    ([name, c]) => `<tr class="${c.fails > 0 ? 'bad' : ''}"><th>${escapeHtml(name)}</th><td>${c.passes}</td><td>${c.fails}</td></tr>`,
  )
  const thresholds = summary.thresholds.map(
    (t) => `<tr class="${t.ok ? '' : 'bad'}"><th>${escapeHtml(t.expression)}</th><td>${t.ok ? 'ok' : 'FAILED'}</td><td>${escapeHtml(t.actual)}</td></tr>`,
  )
  return (
    `<table><thead><tr><th>check</th><th>passed</th><th>failed</th></tr></thead><tbody>${rows.join('')}</tbody></table>` +
    (thresholds.length > 0
      ? `<table><thead><tr><th>threshold</th><th>result</th><th>actual</th></tr></thead><tbody>${thresholds.join('')}</tbody></table>`
      : '')
  )
}

/** The page's data: columns for uPlot (null where a second has no value), events and marks. */
function chartData(summary: LoadSummary, records: readonly SecondRecord[]) {
  const col = (f: (r: SecondRecord) => number | undefined) => records.map((r) => f(r) ?? null)
  const has = (f: (r: SecondRecord) => number | undefined) => records.some((r) => f(r) !== undefined)
  const lat = (step: 'add' | 'status', p: 'p50' | 'p95' | 'p99') => col((r) => r.latency[step]?.[p])
  return {
    t: records.map((r) => r.t),
    requests: {add: col((r) => r.requests.add), status: col((r) => r.requests.status), errors: col((r) => r.errors), vus: col((r) => r.vus)},
    targetRate: has((r) => r.targetRate) ? col((r) => r.targetRate) : undefined,
    latency: {
      addP50: lat('add', 'p50'),
      addP95: lat('add', 'p95'),
      addP99: lat('add', 'p99'),
      statusP50: lat('status', 'p50'),
      statusP95: lat('status', 'p95'),
      statusP99: lat('status', 'p99'),
    },
    queue: {
      waiting: col((r) => r.scaling?.queueWaiting),
      active: col((r) => r.scaling?.queueActive),
      workers: col((r) => r.scaling?.workers),
      workersDesired: col((r) => r.scaling?.workersDesired),
    },
    api: has((r) => r.scaling?.apiReplicas ?? r.scaling?.apiCpuPercent)
      ? {replicas: col((r) => r.scaling?.apiReplicas), desired: col((r) => r.scaling?.apiReplicasDesired), cpu: col((r) => r.scaling?.apiCpuPercent)}
      : undefined,
    task: has((r) => r.taskLatency?.p50)
      ? {p50: col((r) => r.taskLatency?.p50), p95: col((r) => r.taskLatency?.p95), p99: col((r) => r.taskLatency?.p99)}
      : undefined,
    taskSummary: summary.latency.task,
    events: summary.scaling.events,
    marks: [
      ...(summary.scaling.firstAddT === undefined ? [] : [{t: summary.scaling.firstAddT, label: 'first add'}]),
      ...(summary.scaling.lastAddT === undefined ? [] : [{t: summary.scaling.lastAddT, label: 'last add'}]),
    ],
  }
}

/** The page's own script: draws the charts from the embedded data with uPlot. */
const PAGE_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var charts = [];
  var palette = {add: '#1f77b4', status: '#2ca02c', errors: '#d62728', vus: '#7f7f7f', waiting: '#ff7f0e', active: '#9467bd', workers: '#111111', desired: '#8c564b', cpu: '#e377c2'};
  function width(el) { return Math.max(320, el.clientWidth); }
  // Vertical lines for scaling events (green up, red down) and the first/last add (grey, dashed).
  function markers(events, marks) {
    return {hooks: {draw: [function (u) {
      var ctx = u.ctx, top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
      ctx.save();
      ctx.font = (11 * devicePixelRatio) + 'px sans-serif';
      (marks || []).forEach(function (m) {
        var x = u.valToPos(m.t, 'x', true);
        ctx.strokeStyle = '#999'; ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]); ctx.lineWidth = devicePixelRatio;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
        ctx.fillStyle = '#666'; ctx.fillText(m.label, x + 3 * devicePixelRatio, bottom - 4 * devicePixelRatio);
      });
      ctx.setLineDash([]);
      // Labels of events close together are stacked instead of drawn over each other.
      var lastX = -Infinity, row = 0;
      (events || []).forEach(function (e) {
        var x = u.valToPos(e.t, 'x', true);
        ctx.strokeStyle = e.to > e.from ? 'rgba(44,160,44,0.8)' : 'rgba(214,39,40,0.8)'; ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
        row = x - lastX < 34 * devicePixelRatio ? row + 1 : 0;
        lastX = row === 0 ? x : lastX;
        ctx.fillStyle = ctx.strokeStyle; ctx.fillText(e.from + '\u2192' + e.to, x + 3 * devicePixelRatio, top + (12 + 12 * row) * devicePixelRatio);
      });
      ctx.restore();
    }]}};
  }
  function chart(id, title, series, columns, opts) {
    var el = document.getElementById(id);
    if (!el) return;
    var o = {
      title: title, width: width(el), height: 260,
      scales: Object.assign({x: {time: false}}, (opts && opts.scales) || {}),
      axes: (opts && opts.axes) || [{label: 'seconds since start'}, {}],
      series: [{label: 't (s)'}].concat(series),
      plugins: (opts && opts.plugins) || [],
    };
    charts.push({el: el, plot: new uPlot(o, [data.t].concat(columns), el)});
  }
  function s(label, color, extra) { return Object.assign({label: label, stroke: color, width: 1.5, spanGaps: false}, extra || {}); }
  var step = uPlot.paths.stepped({align: 1});

  var reqSeries = [s('add/s', palette.add), s('status/s', palette.status), s('errors/s', palette.errors), s('VUs', palette.vus, {scale: 'vus', dash: [4, 4]})];
  var reqCols = [data.requests.add, data.requests.status, data.requests.errors, data.requests.vus];
  if (data.targetRate) { reqSeries.push(s('target iterations/s', '#17becf', {dash: [2, 2]})); reqCols.push(data.targetRate); }
  chart('chart-requests', 'Requests per second', reqSeries, reqCols, {axes: [{label: 'seconds since start'}, {label: 'req/s'}, {side: 1, scale: 'vus', label: 'VUs', grid: {show: false}}]});

  chart('chart-latency', 'Latency per second, from the scheduled start (ms)', [
    s('add p50', palette.add), s('add p95', palette.add, {dash: [6, 3]}), s('add p99', palette.add, {dash: [2, 2]}),
    s('status p50', palette.status), s('status p95', palette.status, {dash: [6, 3]}), s('status p99', palette.status, {dash: [2, 2]}),
  ], [data.latency.addP50, data.latency.addP95, data.latency.addP99, data.latency.statusP50, data.latency.statusP95, data.latency.statusP99],
  {axes: [{label: 'seconds since start'}, {label: 'ms'}]});

  chart('chart-queue', 'Queue depth and workers (scaling events marked)', [
    s('waiting', palette.waiting, {fill: 'rgba(255,127,14,0.12)'}), s('active', palette.active),
    s('workers', palette.workers, {scale: 'workers', width: 2.5, paths: step}), s('workers desired', palette.desired, {scale: 'workers', dash: [5, 4], paths: step}),
  ], [data.queue.waiting, data.queue.active, data.queue.workers, data.queue.workersDesired], {
    scales: {workers: {range: function (u, min, max) { return [0, Math.max(1, (max || 0) + 1)]; }}},
    axes: [{label: 'seconds since start'}, {label: 'tasks'}, {side: 1, scale: 'workers', label: 'workers', grid: {show: false}}],
    plugins: [markers(data.events.filter(function (e) { return e.what === 'workers'; }), data.marks)],
  });

  if (data.api) {
    chart('chart-api', 'API replicas and CPU (its HPA)', [
      s('API replicas', palette.workers, {width: 2.5, paths: step}), s('API desired', palette.desired, {dash: [5, 4], paths: step}), s('CPU % of request', palette.cpu, {scale: 'cpu'}),
    ], [data.api.replicas, data.api.desired, data.api.cpu], {
      scales: {y: {range: function (u, min, max) { return [0, Math.max(1, (max || 0) + 1)]; }}},
      axes: [{label: 'seconds since start'}, {label: 'replicas'}, {side: 1, scale: 'cpu', label: 'CPU %', grid: {show: false}}],
      plugins: [markers(data.events.filter(function (e) { return e.what === 'api'; }), [])],
    });
  }

  if (data.task) {
    chart('chart-task', 'Task end to end (queued \u2192 Completed), per second of completion (s)', [
      s('p50', palette.add), s('p95', palette.add, {dash: [6, 3]}), s('p99', palette.add, {dash: [2, 2]}),
    ], [data.task.p50.map(sec), data.task.p95.map(sec), data.task.p99.map(sec)], {axes: [{label: 'seconds since start'}, {label: 's'}]});
  }
  // The run's task latency by percentile (from the summary's HDR figures): the shape of the tail.
  if (data.taskSummary) {
    var el = document.getElementById('chart-task-percentiles');
    var ts = data.taskSummary;
    var points = [['min', 0, ts.min], ['p50', 50, ts.p50], ['p90', 90, ts.p90], ['p95', 95, ts.p95], ['p99', 99, ts.p99], ['max', 99.99, ts.max]];
    var xs = points.map(function (p) { return -Math.log10(1 - p[1] / 100); });
    var labels = {};
    points.forEach(function (p, i) { labels[xs[i].toFixed(3)] = p[0]; });
    var plot = new uPlot({
      title: 'Task end to end by percentile (s)', width: width(el), height: 220,
      scales: {x: {time: false}},
      axes: [{values: function (u, vals) { return vals.map(function (v) { return labels[v.toFixed(3)] || ''; }); }, splits: function () { return xs; }}, {label: 's'}],
      series: [{label: 'percentile'}, s('task end to end', palette.add, {width: 2, points: {show: true, size: 6}})],
    }, [xs, points.map(function (p) { return p[2] / 1000; })], el);
    charts.push({el: el, plot: plot});
  }
  function sec(v) { return v === null ? null : v / 1000; }
  window.addEventListener('resize', function () { charts.forEach(function (c) { c.plot.setSize({width: width(c.el), height: c.plot.height}); }); });
  document.body.setAttribute('data-charts', String(charts.length));
})();
`

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;margin:0 0 12px}.grid{display:flex;flex-wrap:wrap;gap:8px 32px}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #eee}
th:first-child{text-align:left;font-weight:500}thead th{font-weight:600;color:#444}tr.bad td,tr.bad th{color:#b00020}
.chart{background:#fff;border:1px solid #e4e4e4;border-radius:4px;padding:8px;margin:12px 0}
ul.facts{margin:4px 0;padding-left:20px}.verdict{font-weight:600}.ok{color:#1a7f37}.fail{color:#b00020}
`

/** The whole report page: one file, no external resource (uPlot and the data inlined). */
export function renderReportHtml(summary: LoadSummary, records: readonly SecondRecord[]): string {
  const {js, css} = uplot()
  const title = `keda-lab loadtest — ${summary.profile}`
  const facts = describeScalingFacts(summary.scaling).map((l) => `<li>${escapeHtml(l.replace(/^scaling \([^)]*\): /, ''))}</li>`)
  const checks = Object.values(summary.checks).reduce((a, c) => ({passes: a.passes + c.passes, fails: a.fails + c.fails}), {passes: 0, fails: 0})
  const checkRate = checks.passes + checks.fails > 0 ? `${((100 * checks.passes) / (checks.passes + checks.fails)).toFixed(2)} %` : '–'
  const ok = summary.exitCode === 0
  const head = [
    `<p class="meta">${escapeHtml(summary.target.url)} (${escapeHtml(summary.target.reason)}) · started ${escapeHtml(summary.startedAt)} · ${summary.durationS} s` +
      `${summary.interrupted ? ' · <b>interrupted</b>' : ''}${summary.shard ? ` · shard ${summary.shard.index}/${summary.shard.count}` : ''} · executor ${escapeHtml(summary.executor.type)}</p>`,
    `<p class="verdict ${ok ? 'ok' : 'fail'}">${ok ? 'passed' : `exit code ${summary.exitCode}${summary.exitCode === 99 ? ': a threshold failed' : ''}`}</p>`,
    '<div class="grid"><table><tbody>',
    `<tr><th>iterations</th><td>${summary.iterations.completed} of ${summary.iterations.started} completed${summary.iterations.dropped ? `, ${summary.iterations.dropped} dropped` : ''}${summary.iterations.failed ? `, ${summary.iterations.failed} failed` : ''}</td></tr>`,
    `<tr><th>requests</th><td>add ${summary.requests.add}, status ${summary.requests.status}</td></tr>`,
    `<tr><th>errors</th><td>${summary.errors}</td></tr>`,
    `<tr><th>checks</th><td>${checkRate} passed (${checks.fails} failed)</td></tr>`,
    `<tr><th>tasks</th><td>${summary.tasks.completed} of ${summary.tasks.queued} completed${summary.tasks.failed ? `, ${summary.tasks.failed} failed` : ''}</td></tr>`,
    summary.rate ? `<tr><th>rate</th><td>${summary.rate.achieved.toFixed(1)}/s achieved of ${summary.rate.asked}/s asked</td></tr>` : '',
    '</tbody></table>',
    `<div><b>Scaling</b><ul class="facts">${facts.join('')}</ul></div></div>`,
  ].join('')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${head}
<h2>Load</h2>
<div class="chart" id="chart-requests"></div>
<div class="chart" id="chart-latency"></div>
<h2>Scaling</h2>
<div class="chart" id="chart-queue"></div>
${records.some((r) => r.scaling?.apiReplicas !== undefined || r.scaling?.apiCpuPercent !== undefined) ? '<div class="chart" id="chart-api"></div>' : '<p class="meta">No API HPA figures in this run (a dev stack has none).</p>'}
<h2>Tasks</h2>
${records.some((r) => r.taskLatency) ? '<div class="chart" id="chart-task"></div>' : ''}
${summary.latency.task ? '<div class="chart" id="chart-task-percentiles"></div>' : ''}
<h2>Latency</h2>
${latencyTable(summary)}
<h2>Checks and thresholds</h2>
${checksTable(summary)}
<p class="meta">Written by keda-lab ${escapeHtml(summary.tool.version)}. The same figures: summary.json, timeseries.ndjson, timeseries.csv beside this file.</p>
</main>
<script type="application/json" id="report-data">${scriptJson(chartData(summary, records))}</script>
<script>${js}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`
}
