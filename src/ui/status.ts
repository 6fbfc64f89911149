/** `keda-lab status --watch` in a terminal: the status screen (src/status/screen.ts) redrawn in place. */

/** One `--watch` frame: in a terminal the screen is redrawn in place; otherwise plain lines with a separator. */
export function watchFrame(screen: string, tty: boolean): string {
  return tty ? `\u001B[H\u001B[2J${screen}\n(refreshing; Ctrl-C stops)` : `${screen}\n---`
}
