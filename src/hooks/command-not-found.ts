import type {Hook} from '@oclif/core'

import {closeCommands} from '../lab/suggest.js'

/**
 * oclif's `command_not_found` hook: says the command does not exist, prints the close matches for
 * the user to type, and exits 127 (the shell's "command not found"). It never runs anything:
 * `@oclif/plugin-not-found`, which it replaces, ran its guess with the user's flags on Enter.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const {config} = options
  const separator = config.topicSeparator
  const visible = config.commands.filter((command) => !command.hidden)
  const ids = [...visible.map((command) => command.id), ...visible.flatMap((command) => command.aliases)]
  const shown = (id: string) => id.replaceAll(':', separator)
  const typed = shown(options.id)
  const matches = closeCommands(options.id, ids).slice(0, 3).map(shown)
  // The base command's two-line shape (what happened, then how to fix it), written here because a
  // hook has no command to catch its error.
  const lines = [`Error: ${typed} is not a ${config.bin} command`]
  const list = `run \`${config.bin} help\` for a list of available commands`
  if (matches.length > 0) {
    const commands = matches.map((m) => `\`${config.bin} ${m}\``).join(' or ')
    lines.push(`Fix: did you mean ${commands}? Nothing was run: type the command yourself to run it, or ${list}`)
  } else {
    lines.push(`Fix: ${list}`)
  }
  process.stderr.write(`${lines.join('\n')}\n`)
  this.exit(127)
}

export default hook
