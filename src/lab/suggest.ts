/**
 * Suggestions for a mistyped command. A suggestion is only ever printed: running a different
 * command on a default "Yes" once sent a real Telegram alert for a mistyped `loadtest`.
 */

/** Edit distance with adjacent transpositions (optimal string alignment): "instal"→"install" is 1, "isntall" is 1. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[][] = Array.from({length: rows}, (_, i) => Array.from({length: cols}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY
  for (let i = 1; i < rows; i++) {
    const row = d[i] ?? []
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1)
      row[j] = best
    }
  }
  return at(a.length, b.length)
}

/**
 * The commands close enough to `typed` to be what was meant, closest first: at most two edits, and
 * at most a third of the longer word (so "nope" suggests nothing rather than "dev").
 */
export function closeCommands(typed: string, commands: readonly string[]): string[] {
  const scored = commands
    .map((command) => ({command, distance: editDistance(typed, command)}))
    .filter(({command, distance}) => distance <= 2 && distance <= Math.floor(Math.max(typed.length, command.length) / 3))
  return scored.sort((x, y) => x.distance - y.distance || x.command.localeCompare(y.command)).map(({command}) => command)
}
