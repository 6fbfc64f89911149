/**
 * Vitest global setup: gives the run a registry directory for the processes tests start
 * (test/setup/process-registry.ts) and, at the end of the run, kills whatever is still recorded
 * there. It runs in the main vitest process, which outlives a worker killed by SIGKILL, so a
 * test's processes go even when the worker that started them could not stop them itself.
 */
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {type ChildRecord, REGISTRY_ROOT, RUN_DIR_ENV, reapAbandonedRuns, reapRecorded, startTimeOf} from './process-registry.js'

function report(killed: ChildRecord[], when: string): void {
  if (killed.length === 0) return
  const list = killed.map((r) => `  pid ${r.pid}: ${r.command}`).join('\n')
  console.warn(`[test processes] ${when}: killed ${killed.length} process group(s) a test left running:\n${list}`)
}

export default function setup(): () => void {
  report(reapAbandonedRuns(), 'left over from an earlier run whose vitest process died')
  mkdirSync(REGISTRY_ROOT, {recursive: true})
  const dir = mkdtempSync(join(REGISTRY_ROOT, `${process.pid}-${startTimeOf(process.pid) ?? 0}-`))
  process.env[RUN_DIR_ENV] = dir
  // Vitest stopped by Ctrl-C or SIGTERM exits without the teardown below; its exit still reaps.
  const onExit = () => {
    reapRecorded(dir)
    rmSync(dir, {recursive: true, force: true})
  }
  process.on('exit', onExit)
  return () => {
    process.off('exit', onExit)
    report(reapRecorded(dir), 'end of the run')
    rmSync(dir, {recursive: true, force: true})
  }
}
