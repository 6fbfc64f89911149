/**
 * `npm run chaos`: every fault scenario of issue 8 against the real services (`keda-lab serve api`
 * and workers, built) on loopback, with three redis-server and three redis-sentinel, under load.
 * Prints one table row per scenario; exits 1 if a scenario that promises it lost a task or ran
 * one twice at the same time.
 *
 *   npm run chaos                                  # the full run: workers gone for 60 s
 *   npm run chaos -- --outage-seconds 10 --only worker
 */
import {parseArgs} from 'node:util'

import {type ChaosSettings, FULL_SETTINGS, formatTable, runScenario, type ScenarioResult, scenarios} from './scenarios.js'

const {values} = parseArgs({
  options: {
    'outage-seconds': {type: 'string'},
    only: {type: 'string'},
  },
})
const outage = values['outage-seconds']
if (outage !== undefined && !/^\d+$/.test(outage)) {
  console.error(`--outage-seconds must be a whole number of seconds, got "${outage}"; e.g. --outage-seconds 60`)
  process.exit(2)
}
const settings: ChaosSettings = {...FULL_SETTINGS, ...(outage === undefined ? {} : {workerOutageMs: Number(outage) * 1000})}
const chosen = scenarios().filter((s) => !values.only || s.name.toLowerCase().includes(values.only.toLowerCase()))
if (chosen.length === 0) {
  console.error(
    `--only "${values.only}" matches no scenario; the names are:\n${scenarios()
      .map((s) => `  ${s.name}`)
      .join('\n')}`,
  )
  process.exit(2)
}
// Ctrl-C: exit through process.exit so that every child process is killed (test/helpers/processes.ts).
process.on('SIGINT', () => process.exit(130))

const log = (line: string) => console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`)
const results: ScenarioResult[] = []
for (const scenario of chosen) {
  log(`${scenario.name}: starting`)
  try {
    results.push(await runScenario(scenario, settings, log))
  } catch (error) {
    log(`${scenario.name}: the harness failed: ${(error as Error).stack ?? String(error)}`)
    process.exitCode = 1
  }
  console.error(formatTable(results.slice(-1)))
}
console.log(formatTable(results))
const broken = results.filter((r) => r.promised && (r.lost > 0 || r.twice > 0))
if (broken.length > 0) {
  console.log(`\nPromise broken (lost or ran twice at once): ${broken.map((r) => r.name).join(', ')}`)
  process.exitCode = 1
}
process.exit()
