import type {Redis} from 'ioredis'

/**
 * What the webhook remembers between notifications, with a bounded retention:
 * - per alert fingerprint, the Telegram message id its firing notification got in each chat, so
 *   the resolved notification replies to it (threaded in the chat);
 * - per button reference, the labels a silence must match;
 * - each button press it honoured, so a replayed press is refused;
 * - who holds the long-polling lease (only one replica may call getUpdates at a time).
 *
 * In Redis it survives a restart and is shared by every replica; the in-memory store (no Redis
 * configured) keeps the same behaviour within one process.
 */
export interface MessageStore {
  /** Remembers each `messageId` as the message about `fingerprint` in `chatId` (the first one wins: the firing message, not its reminders). */
  rememberMessages(entries: {fingerprint: string; chatId: string; messageId: number}[]): Promise<void>
  /** Forgets the messages of alerts whose episode ended (resolved): their next firing starts a new thread. */
  forgetMessages(fingerprints: string[]): Promise<void>
  /** The message about `fingerprint` in `chatId`, if still remembered. */
  messageFor(fingerprint: string, chatId: string): Promise<number | undefined>
  /** Stores the labels behind a button reference. */
  rememberLabels(ref: string, labels: Record<string, string>): Promise<void>
  labelsFor(ref: string): Promise<Record<string, string> | undefined>
  /** True the first time a press id is claimed, false when it was claimed before (a replay). */
  claimPress(pressId: string, ttlSeconds: number): Promise<boolean>
  /** Gives a claimed press back (its action failed), so pressing again retries it. */
  releasePress(pressId: string): Promise<void>
  /** Takes or renews the polling lease for `owner`; true when `owner` holds it afterwards. */
  holdLease(owner: string, ttlMs: number): Promise<boolean>
  releaseLease(owner: string): Promise<void>
  close(): Promise<void>
}

const PREFIX = 'keda-lab:webhook:'
const LEASE = `${PREFIX}poll-lease`

// Renew only our own lease; take it when free. One round trip, atomic.
const HOLD_LEASE = `
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`
const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/** The Redis store; `retentionSeconds` bounds every key it writes. */
export function createRedisMessageStore(redis: Redis, retentionSeconds: number): MessageStore {
  return {
    async rememberMessages(entries) {
      if (entries.length === 0) return
      const batch = redis.multi()
      for (const {fingerprint, chatId, messageId} of entries) {
        const key = `${PREFIX}msg:${fingerprint}`
        batch.hsetnx(key, chatId, String(messageId)).expire(key, retentionSeconds)
      }
      await batch.exec()
    },
    async forgetMessages(fingerprints) {
      if (fingerprints.length > 0) await redis.del(...fingerprints.map((f) => `${PREFIX}msg:${f}`))
    },
    async messageFor(fingerprint, chatId) {
      const value = await redis.hget(`${PREFIX}msg:${fingerprint}`, chatId)
      return value === null ? undefined : Number(value)
    },
    async rememberLabels(ref, labels) {
      await redis.set(`${PREFIX}ref:${ref}`, JSON.stringify(labels), 'EX', retentionSeconds)
    },
    async labelsFor(ref) {
      const value = await redis.get(`${PREFIX}ref:${ref}`)
      return value === null ? undefined : (JSON.parse(value) as Record<string, string>)
    },
    async claimPress(pressId, ttlSeconds) {
      return (await redis.set(`${PREFIX}press:${pressId}`, '1', 'EX', Math.max(1, ttlSeconds), 'NX')) === 'OK'
    },
    async releasePress(pressId) {
      await redis.del(`${PREFIX}press:${pressId}`)
    },
    async holdLease(owner, ttlMs) {
      return (await redis.eval(HOLD_LEASE, 1, LEASE, owner, String(ttlMs))) === 1
    },
    async releaseLease(owner) {
      await redis.eval(RELEASE_LEASE, 1, LEASE, owner)
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect())
    },
  }
}

/** The same store in this process's memory, entries expiring like the Redis keys. */
export function createMemoryMessageStore(retentionSeconds: number, now: () => number = Date.now): MessageStore {
  const entries = new Map<string, {value: string; expires: number}>()
  const get = (key: string) => {
    const entry = entries.get(key)
    if (!entry) return undefined
    if (entry.expires <= now()) {
      entries.delete(key)
      return undefined
    }
    return entry.value
  }
  const set = (key: string, value: string, ttlMs: number) => {
    // Bounded like Redis with its TTLs: expired entries are swept as new ones arrive.
    if (entries.size > 10_000) for (const [k, e] of entries) if (e.expires <= now()) entries.delete(k)
    entries.set(key, {value, expires: now() + ttlMs})
  }
  const ttl = retentionSeconds * 1000
  return {
    async rememberMessages(list) {
      for (const {fingerprint, chatId, messageId} of list) {
        const key = `msg:${fingerprint}:${chatId}`
        if (get(key) === undefined) set(key, String(messageId), ttl)
      }
    },
    async forgetMessages(fingerprints) {
      const prefixes = fingerprints.map((f) => `msg:${f}:`)
      for (const key of entries.keys()) if (prefixes.some((p) => key.startsWith(p))) entries.delete(key)
    },
    async messageFor(fingerprint, chatId) {
      const value = get(`msg:${fingerprint}:${chatId}`)
      return value === undefined ? undefined : Number(value)
    },
    async rememberLabels(ref, labels) {
      set(`ref:${ref}`, JSON.stringify(labels), ttl)
    },
    async labelsFor(ref) {
      const value = get(`ref:${ref}`)
      return value === undefined ? undefined : (JSON.parse(value) as Record<string, string>)
    },
    async claimPress(pressId, ttlSeconds) {
      if (get(`press:${pressId}`) !== undefined) return false
      set(`press:${pressId}`, '1', ttlSeconds * 1000)
      return true
    },
    async releasePress(pressId) {
      entries.delete(`press:${pressId}`)
    },
    async holdLease() {
      return true
    },
    async releaseLease() {},
    async close() {
      entries.clear()
    },
  }
}
