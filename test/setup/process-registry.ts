/**
 * The run's record of the processes tests started, so that a process survives neither its test
 * nor the vitest worker that started it (a worker killed by SIGKILL runs no `exit` handler).
 *
 * `spawnTracked` (test/helpers/processes.ts) starts every child in its own process group and
 * writes `<pid>.json` into the run directory named by KEDA_LAB_TEST_PROCESSES; the global setup
 * (test/setup/processes.ts) creates that directory in the main vitest process, which outlives its
 * workers, and its teardown kills every group still recorded there.
 */
import {mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/** The environment variable naming the run directory (inherited by the workers). */
export const RUN_DIR_ENV = 'KEDA_LAB_TEST_PROCESSES'

/** Where every run keeps its directory: `<main vitest pid>-<its start time>-<random>`. */
export const REGISTRY_ROOT = join(tmpdir(), 'keda-lab-test-processes')

/** One recorded child: the leader of its own process group. */
export interface ChildRecord {
  pid: number
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22), to detect pid reuse. */
  startTime: number
  command: string
}

interface ProcStat {
  state: string
  pgrp: number
  startTime: number
}

function procStat(pid: number | string): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return {state: fields[0]!, pgrp: Number(fields[2]), startTime: Number(fields[19])}
  } catch {
    return undefined
  }
}

/** Start time of a live process (clock ticks since boot), or undefined when it is gone. */
export function startTimeOf(pid: number): number | undefined {
  const stat = procStat(pid)
  return stat && stat.state !== 'Z' ? stat.startTime : undefined
}

/** Live (non-zombie) members of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = procStat(entry)
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') members.push(Number(entry))
  }
  return members
}

/** Signals a whole process group; a group that is already gone is not an error. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // ESRCH: nothing left in the group
  }
}

function runDir(): string | undefined {
  return process.env[RUN_DIR_ENV] || undefined
}

/** Records a child that leads its own process group (a no-op outside a vitest run with the global setup). */
export function recordChild(pid: number, command: string): void {
  const dir = runDir()
  if (!dir) return
  const startTime = startTimeOf(pid)
  if (startTime === undefined) return
  const record: ChildRecord = {pid, startTime, command: command.slice(0, 500)}
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, `${pid}.json`), JSON.stringify(record))
}

/**
 * Forgets a child whose leader exited, unless descendants are still running in its group: those
 * stay recorded, and the teardown kills them.
 */
export function forgetChild(pid: number): void {
  const dir = runDir()
  if (!dir || groupMembers(pid).length > 0) return
  rmSync(join(dir, `${pid}.json`), {force: true})
}

/**
 * Kills (SIGKILL) every process group recorded in `dir` that is still running, removes the
 * records, and returns what it killed. A recorded pid now used by another process (same number,
 * different start time) is left alone.
 */
export function reapRecorded(dir: string): ChildRecord[] {
  const killed: ChildRecord[] = []
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'))
  } catch {
    return killed
  }
  for (const file of files) {
    const path = join(dir, file)
    try {
      const record = JSON.parse(readFileSync(path, 'utf8')) as ChildRecord
      const leader = procStat(record.pid)
      // While any member of the old group lives, the kernel does not hand its number to a new
      // process; so a live process with this pid and another start time means the group is gone.
      const reused = leader !== undefined && leader.startTime !== record.startTime
      if (!reused && groupMembers(record.pid).length > 0) {
        killGroup(record.pid, 'SIGKILL')
        killed.push(record)
      }
    } catch {
      // a record cut short by a dying worker: nothing to act on
    }
    try {
      unlinkSync(path)
    } catch {
      // already removed
    }
  }
  return killed
}

/** Reaps the directories of earlier runs whose main vitest process is gone (itself killed, say). */
export function reapAbandonedRuns(): ChildRecord[] {
  const killed: ChildRecord[] = []
  let runs: string[]
  try {
    runs = readdirSync(REGISTRY_ROOT)
  } catch {
    return killed
  }
  for (const run of runs) {
    const [pid, startTime] = run.split('-').map(Number)
    if (pid && startTime && startTimeOf(pid) === startTime) continue // that run is still going
    killed.push(...reapRecorded(join(REGISTRY_ROOT, run)))
    rmSync(join(REGISTRY_ROOT, run), {recursive: true, force: true})
  }
  return killed
}
