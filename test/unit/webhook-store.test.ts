import {describe, expect, it} from 'vitest'

import {createMemoryMessageStore} from '../../src/services/webhook/message-store.js'

describe('the in-process message store (no Redis configured)', () => {
  it('keeps the first message per alert and chat (the firing one, not its reminders) until the retention ends', async () => {
    let now = 1_000_000
    const store = createMemoryMessageStore(60, () => now)
    await store.rememberMessages([{fingerprint: 'f1', chatId: '1', messageId: 10}])
    await store.rememberMessages([
      {fingerprint: 'f1', chatId: '1', messageId: 11},
      {fingerprint: 'f1', chatId: '2', messageId: 12},
    ])
    expect(await store.messageFor('f1', '1')).toBe(10)
    expect(await store.messageFor('f1', '2')).toBe(12)
    now += 61_000
    expect(await store.messageFor('f1', '1')).toBeUndefined()
  })

  it('forgets a resolved alert so that its next firing starts a new thread', async () => {
    const store = createMemoryMessageStore(60)
    await store.rememberMessages([
      {fingerprint: 'f1', chatId: '1', messageId: 10},
      {fingerprint: 'f2', chatId: '1', messageId: 20},
    ])
    await store.forgetMessages(['f1'])
    expect(await store.messageFor('f1', '1')).toBeUndefined()
    expect(await store.messageFor('f2', '1')).toBe(20)
  })

  it('honours a press once, until given back or expired', async () => {
    let now = 0
    const store = createMemoryMessageStore(60, () => now)
    expect(await store.claimPress('p', 10)).toBe(true)
    expect(await store.claimPress('p', 10)).toBe(false)
    await store.releasePress('p')
    expect(await store.claimPress('p', 10)).toBe(true)
    now += 11_000
    expect(await store.claimPress('p', 10)).toBe(true)
  })
})
