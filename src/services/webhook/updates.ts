import {randomUUID} from 'node:crypto'

import type {MessageStore} from './message-store.js'
import type {NotifierLogger} from './notifier.js'
import {describeTelegramError, type TelegramBot, type TelegramUpdate} from './telegram-bot.js'

/**
 * Long polling of Telegram's getUpdates, for a lab without a public URL. Telegram allows one
 * getUpdates caller per bot (a second gets 409 Conflict), so with several webhook replicas only
 * the holder of a lease in Redis polls; when it stops or dies, its lease expires and another
 * replica takes over. Updates it handled are confirmed by the next call's offset; one handled but
 * not yet confirmed when the poller changes comes again, and a button press is single-use
 * (MessageStore.claimPress), so it has no second effect.
 */
export interface PollingOptions {
  bot: TelegramBot
  store: MessageStore
  handle: (update: TelegramUpdate) => Promise<void>
  /** getUpdates' server-side wait. */
  timeoutSeconds: number
  logger: NotifierLogger
  botToken: string
  /** Pause after a failed call, before trying again. */
  retryDelayMs?: number
}

export interface Poller {
  /** Stops after the call in flight (aborted) and gives the lease back. */
  stop(): Promise<void>
}

export function startPolling(options: PollingOptions): Poller {
  const owner = randomUUID()
  const controller = new AbortController()
  const leaseMs = (options.timeoutSeconds + 15) * 1000
  const retryDelayMs = options.retryDelayMs ?? 2000
  let offset = 0
  let leader = false

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      controller.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          resolve()
        },
        {once: true},
      )
    })

  async function loop() {
    while (!controller.signal.aborted) {
      try {
        const holds = await options.store.holdLease(owner, leaseMs)
        if (holds !== leader) {
          leader = holds
          options.logger.info({}, holds ? 'polling Telegram for button presses and commands' : 'another replica polls Telegram')
        }
        if (!holds) {
          await pause(Math.min(leaseMs / 3, 5000))
          continue
        }
        const updates = await options.bot.getUpdates(offset, options.timeoutSeconds, controller.signal)
        for (const update of updates) {
          offset = Math.max(offset, update.update_id + 1)
          // One bad update must not stop the loop nor be retried forever.
          await options.handle(update).catch((error: unknown) => {
            options.logger.error({updateId: update.update_id}, `update failed: ${describeTelegramError(error, options.botToken)}`)
          })
        }
      } catch (error) {
        if (controller.signal.aborted) break
        options.logger.warn({}, `polling Telegram for updates failed, retrying: ${describeTelegramError(error, options.botToken)}`)
        await pause(retryDelayMs)
      }
    }
  }

  const running = loop()
  return {
    async stop() {
      controller.abort()
      await running
      await options.store.releaseLease(owner).catch(() => {})
    },
  }
}
