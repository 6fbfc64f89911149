import type {IncomingMessage, ServerResponse} from 'node:http'

import type {FastifyBaseLogger, FastifyInstance, FastifyTypeProvider, RawServerDefault} from 'fastify'

/**
 * Makes an empty body sent as `Content-Type: application/json` mean "no body" in `app`'s context:
 * clients often send that header with nothing behind it (POST /api/tasks takes an optional body;
 * the webhook's max-workers endpoint carries everything in its query), and Fastify's own parser
 * refuses it. Anything else goes through Fastify's own (prototype-poisoning-safe) parser: 400 on
 * invalid JSON, 413 over the body limit.
 */
export function acceptEmptyJsonBody<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L, P>,
): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', {parseAs: 'string'}, (request, body, done) => {
    const text = String(body)
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    parseJson(request, text, done)
  })
}
