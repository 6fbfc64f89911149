import type {FastifyPluginAsyncTypebox} from '@fastify/type-provider-typebox'
import {Type} from 'typebox'

import type {RouteDeps} from '../route-deps.js'
import {QUEUE_STATES} from '../task-store.js'
import {commonErrors, errorBody} from './schemas.js'

const Counts = Type.Object(Object.fromEntries(QUEUE_STATES.map((state) => [state, Type.Integer({minimum: 0})])))

/** `GET /api/queue`, `GET /healthz` (the process is up) and `GET /readyz` (Redis answers PING). */
export const healthRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, {queue}) => {
  app.get(
    '/api/queue',
    {
      schema: {
        tags: ['queue'],
        summary: 'Jobs per state and the number of connected workers',
        response: {
          200: Type.Object({
            name: Type.String(),
            counts: Counts,
            workers: Type.Integer({minimum: 0, description: 'Workers connected to the queue'}),
          }),
          ...commonErrors,
        },
      },
    },
    async () => {
      const [counts, workers] = await Promise.all([queue.counts(), queue.workers()])
      return {name: queue.queueName, counts, workers}
    },
  )

  app.get(
    '/healthz',
    {schema: {tags: ['health'], summary: 'Liveness: the process is up', response: {200: Type.Object({status: Type.Literal('ok')})}}},
    async () => ({status: 'ok' as const}),
  )

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: Redis answers PING',
        response: {200: Type.Object({status: Type.Literal('ready')}), 503: Type.Ref('ErrorBody')},
      },
    },
    async (request, reply) => {
      try {
        await queue.ping()
        return {status: 'ready' as const}
      } catch (error) {
        request.log.warn({err: error instanceof Error ? error.message : String(error)}, 'not ready')
        return reply.code(503).send(errorBody('Not ready: Redis is not reachable.'))
      }
    },
  )
}
