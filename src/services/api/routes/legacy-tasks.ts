import type {FastifyPluginAsyncTypebox} from '@fastify/type-provider-typebox'
import {Type} from 'typebox'

import type {RouteDeps} from '../route-deps.js'
import {taskId, toLegacyProgress} from '../task-view.js'
import {commonErrors, errorBody, TaskIdParams, TaskStatusSchema} from './schemas.js'

const QueuedReply = Type.Object({
  success: Type.Literal(true),
  result: Type.Object({id: Type.String(), message: Type.Literal('Task queued.')}),
})

const StatusReply = Type.Object({
  success: Type.Literal(true),
  result: Type.Object({
    progress: Type.Object({
      status: TaskStatusSchema,
      progress: Type.String({description: 'Percent done with one decimal, e.g. "37.0"'}),
      timeElapsed: Type.String({description: 'Seconds since processing began, four decimals, e.g. "1.2345"'}),
    }),
  }),
})

/**
 * The original system's API, kept to the letter so that its clients keep working:
 * `POST /api/tasks/add` and `GET /api/tasks/status/:id`.
 */
export const legacyTaskRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, {config, queue, metrics, notFound}) => {
  // The original endpoint takes no body, so whatever media type a client sends with it (curl -d ''
  // sends an empty form) is read (within the body limit) and ignored instead of refused with 415.
  // This plugin is encapsulated: the modern API keeps its 415 and its 400 for invalid JSON.
  // JSON too: the original route never parsed its body, so a malformed one (a client sending
  // `{}` truncated, or `-d 'x'` with a JSON type) was queued like any other, not refused with 400.
  // Reading the bytes without parsing them costs less than the app's JSON parser it replaces here.
  const ignoreBody = (_request: unknown, _body: unknown, done: (error: null, body: undefined) => void) => done(null, undefined)
  app.addContentTypeParser('*', {parseAs: 'buffer'}, ignoreBody)
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', {parseAs: 'buffer'}, ignoreBody)

  app.post(
    '/api/tasks/add',
    {
      schema: {
        tags: ['legacy'],
        summary: 'Queue a task of the default size (original contract)',
        response: {200: QueuedReply, ...commonErrors},
      },
    },
    async (request) => {
      const iterations = config.task.defaultIterations
      const id = await queue.enqueue({iterations})
      metrics?.taskEnqueued('legacy')
      request.log.info({taskId: id, iterations}, 'task queued')
      return {success: true as const, result: {id, message: 'Task queued.' as const}}
    },
  )

  app.get(
    '/api/tasks/status/:id',
    {
      schema: {
        tags: ['legacy'],
        summary: "A task's status, progress and elapsed time (original contract)",
        params: TaskIdParams,
        response: {200: StatusReply, 404: Type.Ref('ErrorBody'), ...commonErrors},
      },
    },
    async (request, reply) => {
      const id = taskId(request.params.id)
      if (!id) return notFound(request, reply)
      const snapshot = await queue.getProgress(id)
      if (!snapshot) return reply.code(404).send(errorBody('Task not found.'))
      return {success: true as const, result: {progress: toLegacyProgress(snapshot)}}
    },
  )
}
