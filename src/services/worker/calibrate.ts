/**
 * Measures what one task of the default size costs on this machine: CPU time of one core
 * (what "about 5 s of one core" means) and wall time, without Redis.
 *   npx tsx src/services/worker/calibrate.ts [iterations] [runs]
 * On a shared machine the CPU time is the steadier figure (other processes stretch the wall
 * time, not the CPU time); take the minimum of several runs.
 */
import {DEFAULT_TASK_ITERATIONS} from '../shared/tasks.js'
import {runTask} from './work.js'

const iterations = Number(process.argv[2] ?? DEFAULT_TASK_ITERATIONS)
const runs = Number(process.argv[3] ?? 5)
let minCpu = Infinity
let minWall = Infinity
for (let i = 0; i < runs; i++) {
  const wallStart = performance.now()
  const cpuStart = process.cpuUsage()
  const result = await runTask({iterations})
  const cpu = process.cpuUsage(cpuStart)
  const cpuMs = (cpu.user + cpu.system) / 1000
  const wallMs = performance.now() - wallStart
  minCpu = Math.min(minCpu, cpuMs)
  minWall = Math.min(minWall, wallMs)
  const checksum = result.status === 'completed' ? result.checksum : 'interrupted'
  console.log(`run ${i + 1}: cpu ${(cpuMs / 1000).toFixed(3)} s, wall ${(wallMs / 1000).toFixed(3)} s (checksum ${checksum})`)
}
console.log(
  `iterations=${iterations}: min cpu ${(minCpu / 1000).toFixed(3)} s, min wall ${(minWall / 1000).toFixed(3)} s, ` +
    `${((minCpu * 1e6) / iterations).toFixed(1)} ns of CPU per iteration`,
)
