/**
 * The interactive questions, with @inquirer/prompts (the only module that touches it). Validation
 * comes from the caller (src/lab/install/options.ts) so that a typed answer and a flag are judged alike.
 */
import type {Prompter} from '../lab/install/options.js'

/** True when prompting is allowed: stdin and stdout are terminals, and neither --yes nor --json. */
export function canPrompt(flags: {yes?: boolean; json?: boolean}): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY && !flags.yes && !flags.json)
}

/** A Prompter on the real terminal. */
export async function createPrompter(): Promise<Prompter> {
  const inquirer = await import('@inquirer/prompts')
  return {
    input: ({message, default: def, validate}) => inquirer.input({message, default: def, validate}),
    password: ({message, validate}) => inquirer.password({message, mask: '*', validate}),
    confirm: ({message, default: def}) => inquirer.confirm({message, default: def}),
    select: ({message, choices, default: def}) => inquirer.select({message, choices: choices.map((c) => ({value: c, name: c})), default: def}),
  }
}
