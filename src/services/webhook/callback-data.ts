import {createHash, createHmac, timingSafeEqual} from 'node:crypto'

/**
 * The data behind an inline button, signed so that only buttons this webhook made can act.
 *
 * Telegram gives `callback_data` at most 64 bytes, and whoever can talk to the bot can send any
 * callback data they like (a modified client does it easily). So the data carries an HMAC over
 * the action, the reference and the time it was issued: a tampered reference, an invented
 * action or data made without the key fails the check. A press older than the maximum age is
 * refused; replaying a fresh one is stopped by the caller remembering each press it honoured
 * (`pressId`) for as long as the press would be accepted.
 *
 * Layout: `<action>:<ref>:<issued, base36 seconds>:<mac, 16 base64url chars = 96 bits>`.
 */

/** What a button does. `s1`/`s4`/`s24`: silence for that many hours; `ack`: acknowledge; `un`: expire a silence. */
export const ACTIONS = ['s1', 's4', 's24', 'ack', 'un'] as const
export type CallbackAction = (typeof ACTIONS)[number]

/** Hours of silence per action (`ack` silences for 2 h: "someone is on it"). */
export const SILENCE_HOURS: Record<Exclude<CallbackAction, 'un'>, number> = {s1: 1, s4: 4, s24: 24, ack: 2}

export interface CallbackPayload {
  action: CallbackAction
  /** 16 hex digits (an alert reference) or 32 (a silence id without dashes). */
  ref: string
  /** Unix seconds when the button was made. */
  issuedAt: number
}

export type CallbackCheck = {ok: true; payload: CallbackPayload; pressId: string} | {ok: false; reason: string}

const MAC_CHARS = 16
const REF = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/

/** Derives the signing key from a secret every replica shares (the webhook token), kept apart from the bearer use. */
export function callbackKey(secret: string): Buffer {
  return createHash('sha256').update(`keda-lab callback data v1\0${secret}`).digest()
}

function mac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url').slice(0, MAC_CHARS)
}

/** The signed callback data for a button. */
export function signCallback(key: Buffer, payload: CallbackPayload): string {
  if (!REF.test(payload.ref)) throw new Error(`callback reference must be 16 or 32 hex digits, got ${payload.ref.length} characters`)
  const body = `${payload.action}:${payload.ref}:${payload.issuedAt.toString(36)}`
  const data = `${body}:${mac(key, body)}`
  if (Buffer.byteLength(data) > 64) throw new Error("callback data longer than Telegram's 64 bytes")
  return data
}

/**
 * Checks callback data: shape, signature (constant time), known action, age. Says why it was
 * refused, in words safe to log (never echoes more than the action).
 */
export function verifyCallback(key: Buffer, data: unknown, nowSeconds: number, maxAgeSeconds: number): CallbackCheck {
  if (typeof data !== 'string' || data.length > 64) return {ok: false, reason: 'callback data missing or too long'}
  const parts = data.split(':')
  if (parts.length !== 4) return {ok: false, reason: 'callback data not in the expected format'}
  const [action, ref, issued, presented] = parts as [string, string, string, string]
  const expected = mac(key, `${action}:${ref}:${issued}`)
  const a = Buffer.from(presented)
  const b = Buffer.from(expected)
  if (a.length !== b.length || !timingSafeEqual(a, b)) return {ok: false, reason: 'callback data signature does not match (forged or tampered)'}
  // Signed by us, so the fields were made by signCallback; still checked, in case of a future format.
  if (!(ACTIONS as readonly string[]).includes(action)) return {ok: false, reason: 'unknown action'}
  if (!REF.test(ref)) return {ok: false, reason: 'malformed reference'}
  const issuedAt = Number.parseInt(issued, 36)
  if (!Number.isSafeInteger(issuedAt)) return {ok: false, reason: 'malformed issue time'}
  if (issuedAt > nowSeconds + 300) return {ok: false, reason: 'issued in the future'}
  if (nowSeconds - issuedAt > maxAgeSeconds) return {ok: false, reason: `button older than ${maxAgeSeconds} s`}
  return {ok: true, payload: {action: action as CallbackAction, ref, issuedAt}, pressId: createHash('sha256').update(data).digest('hex').slice(0, 32)}
}
