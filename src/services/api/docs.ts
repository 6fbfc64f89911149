import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import {readFileSync} from 'node:fs'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {join} from 'node:path'

import type {FastifyBaseLogger, FastifyInstance, FastifyTypeProvider, RawServerDefault} from 'fastify'

import {bundledAsset} from '../../config/package.js'
import {OPTIONAL_BODY} from './route-deps.js'

/** Version shown in the OpenAPI document. */
const API_VERSION = '1.0.0'

/**
 * Where Swagger UI's static files are. From the sources, in @fastify/swagger-ui's own folder (its
 * default); in the bundle that package is not installed, so its folder is copied into dist/ and
 * named here (the plugin's `baseDir` and `logo` options, meant for bundlers).
 */
function swaggerUiAssets(): {baseDir?: string; logo?: {type: string; content: Buffer}} {
  const bundled = bundledAsset('@fastify/swagger-ui/static')
  if (!bundled) return {}
  return {baseDir: bundled, logo: {type: 'image/svg+xml', content: readFileSync(join(bundled, 'logo.svg'))}}
}

/**
 * @fastify/swagger marks every request body required; an operation whose route flags its body
 * optional (OPTIONAL_BODY) says `required: false` instead, and the flag leaves the document.
 */
export function markOptionalBodies<T extends {paths?: Record<string, unknown>}>(document: T): T {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations as Record<string, Record<string, unknown>>)) {
      if (operation?.[OPTIONAL_BODY] !== true) continue
      delete operation[OPTIONAL_BODY]
      ;(operation.requestBody as {required?: boolean}).required = false
    }
  }
  return document
}

/**
 * The OpenAPI document (`/openapi.json`) and Swagger UI (`/docs`). Registered before the routes:
 * @fastify/swagger documents only the routes declared after it.
 */
export async function registerDocs<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L, P>,
): Promise<void> {
  await app.register(swagger, {
    // Name shared schemas by their $id ("ErrorBody") instead of "def-0" in the document.
    refResolver: {buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`)},
    openapi: {
      info: {
        title: 'keda-lab API',
        version: API_VERSION,
        description:
          'Queues CPU-bound tasks on BullMQ and reports their progress. Errors of every route have one shape: {"success": false, "error": {"message": "..."}}.',
      },
      tags: [
        {name: 'legacy', description: "The original system's contract, unchanged"},
        {name: 'tasks', description: 'Modern task API'},
        {name: 'queue', description: 'Queue state'},
        {name: 'health', description: 'Probes'},
      ],
    },
    transformObject: (document) => ('openapiObject' in document ? markOptionalBodies(document.openapiObject) : document.swaggerObject),
  })
  // Swagger UI in a plugin of its own, so that one hook can point its Explore box at /openapi.json
  // (@fastify/swagger-ui hard-codes its own copy, /docs/json).
  await app.register(async (ui) => {
    ui.addHook('onSend', (request, _reply, payload, done) => {
      if (typeof payload === 'string' && request.url.endsWith('/swagger-initializer.js')) {
        done(null, payload.replace("url: resolveUrl('./json')", "url: new URL('/openapi.json', window.location.href).href"))
      } else done(null, payload)
    })
    await ui.register(swaggerUi, {routePrefix: '/docs', ...swaggerUiAssets()})
  })
  app.get('/openapi.json', {schema: {hide: true}}, async () => app.swagger())
}
