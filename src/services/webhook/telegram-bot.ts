import {Api} from 'node-telegram-bot-api'

import {type InlineButton, inlineKeyboard} from './notifier.js'
import {describeError} from './redact.js'

/**
 * The Bot API calls behind the chat's buttons and commands (node-telegram-bot-api 2.x's `Api`,
 * whose own retry honours 429 `retry_after` here: these are answers to a person, not
 * notifications Alertmanager would retry). Only the fields keda-lab reads are typed.
 */
export interface TelegramUser {
  id: number
  is_bot?: boolean
  first_name?: string
  last_name?: string
  username?: string
}

export interface TelegramMessage {
  message_id: number
  chat: {id: number | string; type?: string}
  from?: TelegramUser
  text?: string
  date?: number
}

export interface CallbackQuery {
  id: string
  from: TelegramUser
  /** Absent for presses on messages too old for Telegram to include. */
  message?: TelegramMessage
  data?: string
}

export interface TelegramUpdate {
  update_id: number
  message?: TelegramMessage
  callback_query?: CallbackQuery
}

export interface TelegramBot {
  sendMessage(chatId: string, text: string, options?: {buttons?: InlineButton[][]; replyTo?: number}): Promise<number>
  /** Replaces (or with `[]` removes) a message's inline buttons. */
  editButtons(chatId: string, messageId: number, buttons: InlineButton[][]): Promise<void>
  /** Ends the button's spinner, optionally with a notice shown to the presser. */
  answerCallback(callbackQueryId: string, text: string, showAlert?: boolean): Promise<void>
  getUpdates(offset: number, timeoutSeconds: number, signal: AbortSignal): Promise<TelegramUpdate[]>
  setWebhook(url: string, secretToken: string): Promise<void>
  deleteWebhook(): Promise<void>
}

/** Errors from these calls, with the token removed, for logs. */
export function describeTelegramError(error: unknown, botToken: string): string {
  return describeError(error, [botToken])
}

export function createTelegramBot(options: {botToken: string; apiUrl: string; timeoutMs: number}): TelegramBot {
  const api = new Api(options.botToken, {apiRoot: options.apiUrl, maxRetries: 2, timeoutMs: options.timeoutMs})
  const allowed = ['message', 'callback_query'] as const
  return {
    async sendMessage(chatId, text, {buttons, replyTo} = {}) {
      const sent = await api.sendMessage({
        chat_id: chatId,
        text,
        parse_mode: 'HTML',
        link_preview_options: {is_disabled: true},
        ...(buttons && buttons.length > 0 ? {reply_markup: inlineKeyboard(buttons)} : {}),
        ...(replyTo === undefined ? {} : {reply_parameters: {message_id: replyTo, allow_sending_without_reply: true}}),
      })
      return (sent as {message_id: number}).message_id
    },
    async editButtons(chatId, messageId, buttons) {
      await api.editMessageReplyMarkup({chat_id: chatId, message_id: messageId, reply_markup: inlineKeyboard(buttons)})
    },
    async answerCallback(callbackQueryId, text, showAlert = false) {
      await api.answerCallbackQuery({callback_query_id: callbackQueryId, text: text.slice(0, 200), show_alert: showAlert})
    },
    async getUpdates(offset, timeoutSeconds, signal) {
      return (await api.getUpdates({offset, timeout: timeoutSeconds, allowed_updates: [...allowed]}, signal)) as unknown as TelegramUpdate[]
    },
    async setWebhook(url, secretToken) {
      await api.setWebhook({url, secret_token: secretToken, allowed_updates: [...allowed]})
    },
    async deleteWebhook() {
      await api.deleteWebhook({drop_pending_updates: false})
    },
  }
}
