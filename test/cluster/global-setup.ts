/**
 * Vitest global setup: one real control plane per test run, started LAZILY by the first test file
 * that asks for it (test/cluster/harness.ts), so that a run of unit tests pays nothing. This file
 * only picks the run directory, reaps control planes left by killed runs, and stops this run's
 * control plane at the end — in the main vitest process, which outlives any worker that dies.
 */
import {mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {TestProject} from 'vitest/node'

import {readState, reapOrphans, stopControlPlane} from './control-plane.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Directory of this run's control plane (test/cluster/harness.ts starts it there on first use). */
    kubeRunDir: string
    /** pid of the vitest main process: the owner recorded for leftover cleanup. */
    kubeRunOwner: number
  }
}

export const RUNS_DIR = join(tmpdir(), 'keda-lab-kube-runs')

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  mkdirSync(RUNS_DIR, {recursive: true})
  for (const dir of await reapOrphans(RUNS_DIR)) rmSync(dir, {recursive: true, force: true})
  const dir = mkdtempSync(join(RUNS_DIR, 'run-'))
  writeFileSync(join(dir, 'owner'), String(process.pid))
  project.provide('kubeRunDir', dir)
  project.provide('kubeRunOwner', process.pid)
  return async () => {
    // This run's control plane and any dedicated one a file could not stop (its worker died).
    for (const d of [dir, ...readdirSync(dir).map((n) => join(dir, n))]) if (readState(d)) await stopControlPlane(d)
    rmSync(dir, {recursive: true, force: true})
  }
}
