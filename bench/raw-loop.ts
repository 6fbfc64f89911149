/**
 * The worker's CPU work without BullMQ, for `npm run bench`: runs `runTask` (the very function the
 * worker runs per task, with the same 20 ms slices) TASKS times for ITERATIONS each, one after
 * the other, in this process alone, and prints `{"ms": <wall time>, "cpuMs": <CPU time>}`. The
 * difference to the worker's time for the same tasks is what the queue costs per task; CPU time
 * is the fair measure on a machine shared with other work.
 */
// The sources through tsx (esbuild's transform, as the bundle in dist/ is esbuild's too): dist/ is one
// bundle (scripts/bundle.mjs) with no file of its own for work.ts.
const {runTask} = await import('../src/services/worker/work.js')

const iterations = Number(process.env.ITERATIONS)
const tasks = Number(process.env.TASKS)
if (!Number.isInteger(iterations) || !Number.isInteger(tasks)) throw new Error('set ITERATIONS and TASKS')
// One task to warm the JIT, as the worker is warm after its first task too.
await runTask({iterations: Math.min(iterations, 1_000_000)})
const started = performance.now()
const cpu = process.cpuUsage()
for (let i = 0; i < tasks; i++) await runTask({iterations})
const used = process.cpuUsage(cpu)
console.log(JSON.stringify({ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000}))
