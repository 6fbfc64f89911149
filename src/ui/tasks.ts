/**
 * The install's task list (listr2): live progress in a terminal, plain lines otherwise (CI, pipes),
 * nothing at all under --json. The only module that touches listr2.
 */
export interface UiTask {
  title: string
  /** Set when the task has nothing to do; shown as the skip reason. */
  skipped?: string
  /** Notes shown under the task once it ran (e.g. "anti-affinity relaxed on one node"). */
  notes?: string[]
  /** Keep every output line visible after the task (pre-flight check results). */
  keepOutput?: boolean
  run(output: (line: string) => void): Promise<void>
}

export interface TaskListOptions {
  /** Live renderer in a TTY, simple line renderer otherwise, silent for --json. */
  mode: 'tty' | 'plain' | 'silent'
  /** Applied to every output line (masks secrets). */
  mask?: (text: string) => string
}

/**
 * Runs the tasks in order and stops at the first failure, rethrowing that task's own error (listr
 * only prints a short failure line: the caller reports the details once).
 */
export async function runTaskList(tasks: readonly UiTask[], options: TaskListOptions): Promise<void> {
  const {Listr} = await import('listr2')
  const mask = options.mask ?? ((t: string) => t)
  let failure: unknown
  const list = new Listr(
    tasks.map((t) => ({
      title: t.title,
      skip: () => (t.skipped ? `${t.title}: skipped, ${t.skipped}` : false),
      task: async (_ctx: unknown, task: {output: string; title: string}) => {
        try {
          await t.run((line) => {
            task.output = mask(line)
          })
        } catch (error) {
          failure = error
          throw new Error(`${t.title}: failed`)
        }
        if (t.notes?.length) task.output = mask(t.notes.join('\n'))
      },
      rendererOptions: {persistentOutput: Boolean(t.notes?.length) || Boolean(t.keepOutput), outputBar: t.keepOutput ? Infinity : 3},
    })),
    {
      concurrent: false,
      exitOnError: true,
      registerSignalListeners: false,
      renderer: options.mode === 'silent' ? 'silent' : options.mode === 'tty' ? 'default' : 'simple',
      fallbackRenderer: 'simple',
      fallbackRendererCondition: options.mode === 'plain',
      silentRendererCondition: options.mode === 'silent',
      rendererOptions: {collapseSubtasks: false},
    },
  )
  try {
    await list.run()
  } catch (error) {
    throw failure ?? error
  }
}
