/**
 * What the API's route plugins share with the app that registers them: their dependencies and the
 * schema flag for an optional body. Its own module so that a route never imports app.ts (which
 * imports the routes): the arrows run app -> routes -> route-deps.
 */
import type {FastifyReply, FastifyRequest} from 'fastify'

import type {ApiConfig} from './config.js'
import type {ApiMetrics} from './metrics.js'
import type {TaskStore} from './task-store.js'

/** The part of the configuration the routes use (task sizes). */
export interface AppConfig {
  task: Pick<ApiConfig['task'], 'defaultIterations' | 'maxIterations'>
}

/** Answers a request that names no known task or route: 405 (with Allow) when the path is known under other methods, else 404. */
export type NotFound = (request: FastifyRequest, reply: FastifyReply) => FastifyReply

/** What every route plugin receives (`metrics` is optional so tests can leave it out). */
export interface RouteDeps {
  config: AppConfig
  queue: TaskStore
  metrics?: ApiMetrics
  notFound: NotFound
}

/**
 * A route schema's flag (an OpenAPI extension, which @fastify/swagger copies into the operation)
 * for a request body that may be left out: the document then says `required: false`.
 */
export const OPTIONAL_BODY = 'x-optional-body'
