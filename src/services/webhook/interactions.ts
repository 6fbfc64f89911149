import {type AlertmanagerClient, AlertmanagerError, type Silence} from './alertmanager-client.js'
import {type CallbackAction, SILENCE_HOURS, signCallback, verifyCallback} from './callback-data.js'
import {escapeHtml, formatTime, truncateEscaped} from './format.js'
import type {MessageStore} from './message-store.js'
import type {InlineButton} from './notifier.js'
import type {NotifierLogger} from './notifier.js'
import type {CallbackQuery, TelegramBot, TelegramMessage, TelegramUpdate, TelegramUser} from './telegram-bot.js'
import {describeTelegramError} from './telegram-bot.js'

/**
 * What a person can do from the chat: the buttons under a firing message (silence 1 h / 4 h /
 * 24 h, acknowledge), "unsilence" under a confirmation, and the commands `/silences` and
 * `/status`. Only the configured chats may act; every refusal is answered to the presser (so
 * the button stops spinning), logged, and has no other effect.
 */
export interface InteractionsOptions {
  bot: TelegramBot
  alertmanager: AlertmanagerClient
  store: MessageStore
  /** HMAC key for callback data (callbackKey(webhookToken)). */
  key: Buffer
  /** TELEGRAM_CHAT_IDS: numeric ids, or @channelnames. */
  allowedChatIds: readonly string[]
  maxAgeSeconds: number
  logger: NotifierLogger
  /** The `/status` answer, in Telegram HTML. */
  status: () => Promise<string>
  /** Counts each update by kind and outcome (metrics). */
  onOutcome?: (kind: 'button' | 'command', outcome: 'done' | 'refused' | 'failed' | 'ignored') => void
  botToken: string
  now?: () => number
}

export interface Interactions {
  /** The buttons under a firing message whose silence would match the labels stored under `ref`. */
  alertButtons(ref: string): InlineButton[][]
  handleUpdate(update: TelegramUpdate): Promise<void>
}

const BUTTON_TEXT: Record<Exclude<CallbackAction, 'un'>, string> = {s1: '🔕 1 h', s4: '🔕 4 h', s24: '🔕 24 h', ack: '👀 Acknowledge'}

/** The person's name as Alertmanager's `createdBy`: "First Last (@username)". */
export function personName(user: TelegramUser): string {
  const name = [user.first_name, user.last_name].filter(Boolean).join(' ').trim()
  const handle = user.username ? `@${user.username}` : ''
  const full = name && handle ? `${name} (${handle})` : name || handle || `telegram user ${user.id}`
  return full.slice(0, 100)
}

function chatAllowed(chat: TelegramMessage['chat'] & {username?: string}, allowed: readonly string[]): boolean {
  return allowed.includes(String(chat.id)) || (chat.username !== undefined && allowed.includes(`@${chat.username}`))
}

const silenceRef = (id: string) => id.replace(/-/g, '').toLowerCase()
const silenceId = (ref: string) => `${ref.slice(0, 8)}-${ref.slice(8, 12)}-${ref.slice(12, 16)}-${ref.slice(16, 20)}-${ref.slice(20)}`

function matchersText(silence: Silence): string {
  return truncateEscaped(silence.matchers.map((m) => `${m.name}${m.isEqual === false ? '!' : ''}${m.isRegex ? '=~' : '='}${m.value}`).join(', '), 300)
}

/** What the button and command handlers share: the options, and the helpers built from them. */
interface Context {
  options: InteractionsOptions
  now: () => number
  seconds: () => number
  sign: (action: CallbackAction, ref: string) => string
  /** What the chat is told: Alertmanager's own words when it failed, else the error (token removed). */
  explain: (error: unknown) => string
  outcome: NonNullable<InteractionsOptions['onOutcome']>
}

function context(options: InteractionsOptions): Context {
  const now = options.now ?? Date.now
  const seconds = () => Math.floor(now() / 1000)
  return {
    options,
    now,
    seconds,
    sign: (action, ref) => signCallback(options.key, {action, ref, issuedAt: seconds()}),
    explain: (error) => (error instanceof AlertmanagerError ? error.message : describeTelegramError(error, options.botToken)),
    outcome: options.onOutcome ?? (() => {}),
  }
}

export function createInteractions(options: InteractionsOptions): Interactions {
  const ctx = context(options)
  const onButton = buttonHandler(ctx)
  const onCommand = commandHandler(ctx)
  return {
    alertButtons(ref) {
      return [
        [
          {text: BUTTON_TEXT.s1, data: ctx.sign('s1', ref)},
          {text: BUTTON_TEXT.s4, data: ctx.sign('s4', ref)},
          {text: BUTTON_TEXT.s24, data: ctx.sign('s24', ref)},
        ],
        [{text: BUTTON_TEXT.ack, data: ctx.sign('ack', ref)}],
      ]
    },
    async handleUpdate(update) {
      if (update.callback_query) await onButton(update.callback_query)
      else if (update.message?.text?.startsWith('/')) await onCommand(update.message)
    },
  }
}

/**
 * A button press: refused (and answered, so the button stops spinning) unless it comes from an
 * allowed chat, carries valid signed data and was not handled before; then "unsilence" expires the
 * silence, and the others create one for the alert's labels.
 */
function buttonHandler(ctx: Context): (query: CallbackQuery) => Promise<void> {
  const {bot, store, logger} = ctx.options

  async function refuse(query: CallbackQuery, reason: string, notice: string) {
    logger.warn({chatId: query.message ? String(query.message.chat.id) : undefined, userId: query.from.id, reason}, 'refused a button press')
    ctx.outcome('button', 'refused')
    await bot.answerCallback(query.id, notice, true).catch((error: unknown) => {
      logger.warn({}, `answerCallbackQuery failed: ${describeTelegramError(error, ctx.options.botToken)}`)
    })
  }

  return async (query) => {
    const message = query.message
    if (!message) return refuse(query, 'press without its message (too old)', 'This message is too old to act on.')
    const chatId = String(message.chat.id)
    if (!chatAllowed(message.chat, ctx.options.allowedChatIds)) {
      return refuse(query, 'chat not in TELEGRAM_CHAT_IDS', 'This chat may not act on keda-lab alerts.')
    }
    const check = verifyCallback(ctx.options.key, query.data, ctx.seconds(), ctx.options.maxAgeSeconds)
    if (!check.ok) return refuse(query, check.reason, 'Refused: this button is not valid.')
    // One press, one effect: a replayed (or re-delivered) press is refused.
    if (!(await store.claimPress(check.pressId, ctx.options.maxAgeSeconds))) {
      return refuse(query, 'press already handled (replay)', 'Already done.')
    }
    const {action, ref} = check.payload
    const press = {query, message, chatId, who: personName(query.from)}
    try {
      if (action === 'un') await expireSilence(ctx, press, silenceId(ref))
      else {
        const labels = await store.labelsFor(ref)
        if (!labels) return refuse(query, 'alert reference no longer remembered', 'This alert is no longer remembered; silence it in Alertmanager.')
        await createSilence(ctx, press, action, labels)
      }
      ctx.outcome('button', 'done')
    } catch (error) {
      ctx.outcome('button', 'failed')
      // Alertmanager did not do it: pressing again retries. (A failure after the silence exists
      // keeps the press used, so a second press cannot make a second silence.)
      if (error instanceof AlertmanagerError) await store.releasePress(check.pressId).catch(() => {})
      const description = ctx.explain(error)
      logger.error({chatId, action}, `button press failed: ${description}`)
      await bot.answerCallback(query.id, `Failed: ${description}`.slice(0, 200), true).catch(() => {})
    }
  }
}

/** A press that passed every check: the query to answer, its message, its chat and who pressed. */
interface Press {
  query: CallbackQuery
  message: TelegramMessage
  chatId: string
  who: string
}

/** "Unsilence": expire the silence, clear the button and say who did it, in reply. */
async function expireSilence(ctx: Context, {query, message, chatId, who}: Press, id: string) {
  const {bot, alertmanager, logger} = ctx.options
  await alertmanager.expireSilence(id)
  await bot.answerCallback(query.id, 'Silence expired.')
  await bot.editButtons(chatId, message.message_id, []).catch(() => {})
  await bot.sendMessage(chatId, `🔔 Silence <code>${escapeHtml(id)}</code> expired by ${escapeHtml(who)}.`, {replyTo: message.message_id})
  logger.info({chatId, silenceId: id, by: who}, 'silence expired from Telegram')
}

/** 1 h / 4 h / 24 h or "acknowledge": a silence on the alert's labels, confirmed in reply with "unsilence" under it. */
async function createSilence(ctx: Context, {query, message, chatId, who}: Press, action: Exclude<CallbackAction, 'un'>, labels: Record<string, string>) {
  const {bot, alertmanager, logger} = ctx.options
  const hours = SILENCE_HOURS[action]
  const endsAt = new Date(ctx.now() + hours * 3_600_000)
  const comment = action === 'ack' ? `Acknowledged from Telegram: ${who} is on it` : `Silenced from Telegram for ${hours} h`
  const id = await alertmanager.createSilence({labels, endsAt, createdBy: who, comment})
  await bot.answerCallback(query.id, action === 'ack' ? 'Acknowledged.' : `Silenced for ${hours} h.`)
  // The silence buttons have done their job; the confirmation below carries "unsilence".
  await bot.editButtons(chatId, message.message_id, []).catch(() => {})
  const what = action === 'ack' ? `👀 Acknowledged by ${escapeHtml(who)}; reminders silenced` : `🔕 Silenced by ${escapeHtml(who)}`
  await bot.sendMessage(chatId, `${what} until ${formatTime(endsAt.toISOString())}.\nSilence <code>${escapeHtml(id)}</code>`, {
    replyTo: message.message_id,
    buttons: [[{text: '🔔 Unsilence', data: ctx.sign('un', silenceRef(id))}]],
  })
  logger.info({chatId, silenceId: id, by: who, hours}, 'silence created from Telegram')
}

/** `/silences` and `/status` from an allowed chat; strangers get no answer, other commands are ignored. */
function commandHandler(ctx: Context): (message: TelegramMessage) => Promise<void> {
  const {bot, alertmanager, logger} = ctx.options
  return async (message) => {
    const command = /^\/([a-z]+)(?:@\w+)?(?:\s|$)/i.exec(message.text ?? '')?.[1]?.toLowerCase()
    if (command !== 'silences' && command !== 'status') {
      ctx.outcome('command', 'ignored')
      return
    }
    const chatId = String(message.chat.id)
    if (!chatAllowed(message.chat, ctx.options.allowedChatIds)) {
      // Strangers get no answer at all: the bot does not confirm it exists.
      logger.warn({chatId, userId: message.from?.id, command}, 'refused a command from a chat not in TELEGRAM_CHAT_IDS')
      ctx.outcome('command', 'refused')
      return
    }
    try {
      if (command === 'silences') {
        const {text, buttons} = silencesMessage(await alertmanager.listSilences(), ctx.sign)
        await bot.sendMessage(chatId, text, buttons.length > 0 ? {buttons} : undefined)
      } else await bot.sendMessage(chatId, await ctx.options.status())
      ctx.outcome('command', 'done')
    } catch (error) {
      ctx.outcome('command', 'failed')
      const description = ctx.explain(error)
      logger.error({chatId, command}, `command failed: ${description}`)
      await bot.sendMessage(chatId, `⚠️ /${command} failed: ${escapeHtml(description)}`).catch(() => {})
    }
  }
}

/** The answer to `/silences`: the active silences, soonest to end first (ten shown), each with its "unsilence" button. */
export function silencesMessage(silences: readonly Silence[], sign: Context['sign']): {text: string; buttons: InlineButton[][]} {
  const active = silences.filter((s) => s.status.state === 'active').sort((a, b) => a.endsAt.localeCompare(b.endsAt))
  if (active.length === 0) return {text: '🔔 No active silences.', buttons: []}
  const shown = active.slice(0, 10)
  const lines = shown.map(
    (s, i) =>
      `${i + 1}. ${matchersText(s)}\n   until ${formatTime(s.endsAt) ?? s.endsAt} · by ${truncateEscaped(s.createdBy, 100)} · <code>${escapeHtml(s.id)}</code>`,
  )
  const more = active.length - shown.length
  const text = `🔕 <b>${active.length} active silence${active.length === 1 ? '' : 's'}</b>\n${lines.join('\n')}${more > 0 ? `\n…and ${more} more in Alertmanager.` : ''}`
  return {text, buttons: shown.map((s, i) => [{text: `🔔 Unsilence ${i + 1}`, data: sign('un', silenceRef(s.id))}])}
}
