import {createHash} from 'node:crypto'

import type {Alert, AlertmanagerPayload} from './alertmanager-schema.js'
import type {Interactions} from './interactions.js'
import type {MessageStore} from './message-store.js'
import type {OutgoingMessage, SentMessage} from './notifier.js'

/** The log lines the webhook's routes write (a request's pino logger). */
export interface RouteLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

/** The reference behind a firing message's buttons: 16 hex digits naming the label set a silence will match. */
export function labelsRef(labels: Record<string, string>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]])
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16)
}

/** Labels every alert shares (with the same value): what one silence for the whole group matches. */
export function sharedLabels(alerts: Alert[]): Record<string, string> {
  const [first, ...rest] = alerts
  if (!first) return {}
  return Object.fromEntries(Object.entries(first.labels).filter(([k, v]) => rest.every((a) => a.labels[k] === v)))
}

/** What the webhook remembers around one Alertmanager notification (each part needs a store). */
export interface AlertMemoryOptions {
  /** Message ids per alert and the labels behind buttons; without it nothing is remembered. */
  store?: MessageStore
  /** Buttons under firing messages. */
  interactions?: Interactions
  /** The chats a resolved notification may thread into. */
  chatIds?: readonly string[]
}

/**
 * Threading and buttons for `POST /alerts`: what a notification carries because of earlier ones,
 * and what it leaves behind for later ones.
 */
export interface AlertMemory {
  /** The texts, with the buttons under the last one when the firing alerts share labels to silence. */
  withButtons(payload: AlertmanagerPayload, texts: string[], log: RouteLog): Promise<(string | OutgoingMessage)[]>
  /** Per chat, the firing message a resolved notification replies to (the first resolved alert that has one). */
  threadTargets(payload: AlertmanagerPayload, log: RouteLog): Promise<Record<string, number> | undefined>
  /**
   * Remembers the first message of the notification as the message of each firing alert, and,
   * once every chat got it (`complete`), forgets the resolved alerts' messages.
   */
  rememberSent(payload: AlertmanagerPayload, sent: SentMessage[], complete: boolean, log: RouteLog): Promise<void>
}

/**
 * Remembering is a convenience (threading, buttons): when the store fails (Redis unavailable)
 * the alert is still delivered, only unthreaded or without buttons, and the log says so.
 */
export function createAlertMemory(options: AlertMemoryOptions): AlertMemory {
  async function bestEffort<T>(log: RouteLog, what: string, work: (store: MessageStore) => Promise<T>): Promise<T | undefined> {
    const {store} = options
    if (!store) return undefined
    try {
      return await work(store)
    } catch (error) {
      log.warn({error: error instanceof Error ? error.message : String(error)}, `could not ${what}; the message goes out without it`)
      return undefined
    }
  }

  return {
    async withButtons(payload, texts, log) {
      const firing = payload.alerts.filter((a) => a.status === 'firing')
      const {interactions} = options
      if (!interactions || firing.length === 0) return texts
      // One alert shares all its labels with itself.
      const labels = sharedLabels(firing)
      if (Object.keys(labels).length === 0) return texts
      const ref = labelsRef(labels)
      const stored = await bestEffort(log, 'remember the labels behind the buttons', async (store) => {
        await store.rememberLabels(ref, labels)
        return true
      })
      if (!stored) return texts
      return texts.map((text, i) => (i === texts.length - 1 ? {text, buttons: interactions.alertButtons(ref)} : text))
    },

    async threadTargets(payload, log) {
      const resolved = payload.alerts.filter((a) => a.status === 'resolved').slice(0, 50)
      const {chatIds} = options
      if (resolved.length === 0 || !chatIds) return undefined
      return bestEffort(log, 'look up the firing messages to reply to', async (store) => {
        const targets: Record<string, number> = {}
        for (const chatId of chatIds) {
          for (const alert of resolved) {
            const id = await store.messageFor(alert.fingerprint, chatId)
            if (id !== undefined) {
              targets[chatId] = id
              break
            }
          }
        }
        return targets
      })
    },

    async rememberSent(payload, sent, complete, log) {
      const firing = payload.alerts.filter((a) => a.status === 'firing')
      const resolved = payload.alerts.filter((a) => a.status === 'resolved')
      await bestEffort(log, 'remember the message ids', async (store) => {
        const firsts = sent.filter((m) => m.index === 0)
        await store.rememberMessages(firsts.flatMap((m) => firing.map((alert) => ({fingerprint: alert.fingerprint, chatId: m.chatId, messageId: m.messageId}))))
        // The episode is over: its next firing starts a new thread. Kept while a chat still
        // waits for Alertmanager's retry of this resolved notification.
        if (complete) await store.forgetMessages(resolved.map((a) => a.fingerprint))
      })
    },
  }
}
