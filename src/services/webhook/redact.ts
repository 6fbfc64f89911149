/**
 * Removing secrets from text before it is logged or returned. The Bot API URL embeds the bot
 * token (`/bot<token>/sendMessage`), so any error that quotes a URL would leak it.
 */

const REDACTED = '[REDACTED]'
// Anything shaped like a bot token, even one we were not told about (e.g. inside a quoted URL).
const TOKEN_SHAPE = /\b\d{3,20}:[A-Za-z0-9_-]{30,64}/g
const BOT_PATH = /\/bot[^/\s"'?#]+/g

/** Replaces every known secret and anything that looks like a bot token or a `/bot<token>` path. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED)
  }
  return out.replace(BOT_PATH, `/bot${REDACTED}`).replace(TOKEN_SHAPE, REDACTED)
}

/** A one-line description of an error and its causes (at most three deep), with secrets removed. */
export function describeError(error: unknown, secrets: readonly string[] = []): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      const code = (current as {code?: unknown}).code
      parts.push(`${current.name}: ${current.message}${typeof code === 'string' && !current.message.includes(code) ? ` (${code})` : ''}`)
      current = current.cause
    } else {
      parts.push(String(current))
      break
    }
  }
  return redact(parts.join(' <- '), secrets).replace(/\s+/g, ' ')
}
