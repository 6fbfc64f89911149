import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * Generates the start-up baseline: a minimal oclif CLI with one trivial command, in a temporary
 * directory, using this repository's own `@oclif/core` (through a node_modules symlink) and an
 * oclif manifest like keda-lab's, so that the only difference is what keda-lab itself loads.
 * Returns the path of its `bin/run.js`.
 */
export function createMinimalCli(repoRoot: string): {dir: string; entry: string} {
  const dir = mkdtempSync(join(tmpdir(), 'keda-lab-bench-minimal-cli-'))
  mkdirSync(join(dir, 'bin'))
  mkdirSync(join(dir, 'commands'))
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'minimal-cli',
        version: '1.0.0',
        type: 'module',
        bin: {minimal: './bin/run.js'},
        files: ['bin', 'commands', 'oclif.manifest.json'],
        oclif: {bin: 'minimal', dirname: 'minimal', commands: './commands', topicSeparator: ' '},
      },
      null,
      2,
    ),
  )
  writeFileSync(join(dir, 'bin', 'run.js'), "#!/usr/bin/env node\nimport {execute} from '@oclif/core'\n\nawait execute({dir: import.meta.url})\n")
  writeFileSync(
    join(dir, 'commands', 'hello.js'),
    [
      "import {Command, Flags} from '@oclif/core'",
      '',
      'export default class Hello extends Command {',
      "  static description = 'Say hello'",
      "  static examples = ['<%= config.bin %> hello --name world']",
      "  static flags = {name: Flags.string({description: 'Who to greet', default: 'world'})}",
      '  async run() {',
      '    const {flags} = await this.parse(Hello)',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text of a generated command
      '    this.log(`hello ${flags.name}`)',
      '  }',
      '}',
      '',
    ].join('\n'),
  )
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir')
  execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'oclif', 'bin', 'run.js'), 'manifest'], {cwd: dir, stdio: 'ignore'})
  return {dir, entry: join(dir, 'bin', 'run.js')}
}
