/**
 * Where `keda-lab alert test --local URL` sends its alert, and with which token: the running
 * `keda-lab dev` stacks' state files name their webhook and its bearer token (a token dev
 * generated is found there), and a URL that is one of their APIs is answered with where the
 * webhook is instead.
 */
import {type DevState, loopbackOrigin} from '../../status/dev-state.js'
import {KedaLabError} from '../../errors.js'

export interface LocalWebhookTarget {
  url: string
  webhookToken: string
}

/** The webhook and token to use, or the KedaLabError that says what to do instead. */
export function resolveLocalWebhook(input: {url: string; token?: string; states: readonly DevState[]}): LocalWebhookTarget {
  const origin = loopbackOrigin(input.url.replace(/\/+$/, '').replace(/\/alerts$/, ''))
  if (!origin) throw new KedaLabError(`--local ${input.url} is not a URL`, {hint: 'pass the Webhook URL keda-lab dev printed', exitCode: 2})
  const api = input.states.find((s) => loopbackOrigin(s.apiUrl) === origin)
  if (api) {
    throw new KedaLabError(`${input.url} is the API of keda-lab dev (pid ${api.pid}), not its webhook`, {
      hint: api.webhook
        ? `its webhook is at ${api.webhook.url}: keda-lab alert test --local ${api.webhook.url}`
        : 'that dev run started no webhook: start keda-lab dev with --telegram-token … --telegram-chat-ids …, then pass the Webhook URL it prints',
    })
  }
  const dev = input.states.find((s) => s.webhook && loopbackOrigin(s.webhook.url) === origin)
  const token = input.token || dev?.webhook?.token
  if (!token) {
    throw new KedaLabError(`--local ${input.url}: no running keda-lab dev has its webhook there, and no token was given`, {
      hint: 'pass the Webhook URL keda-lab dev printed (its token is then found in its state file), or set WEBHOOK_TOKEN=<token> / --webhook-token',
    })
  }
  return {url: origin, webhookToken: token}
}
