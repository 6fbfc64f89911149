import type {FastifyPluginAsyncTypebox} from '@fastify/type-provider-typebox'
import {Type} from 'typebox'

import {TASK_STEPS} from '../../shared/tasks.js'
import {OPTIONAL_BODY, type RouteDeps} from '../route-deps.js'
import type {CancelOutcome} from '../task-store.js'
import {taskId, taskPath, toTaskResource} from '../task-view.js'
import {commonErrors, errorBody, TaskIdParams, TaskStatusSchema} from './schemas.js'

const Links = Type.Object({self: Type.String({description: 'Path of the task resource'})})

const Accepted = Type.Object({
  id: Type.String({format: 'uuid'}),
  status: TaskStatusSchema,
  links: Links,
})

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

const TaskResourceSchema = Type.Object({
  id: Type.String({format: 'uuid'}),
  status: TaskStatusSchema,
  progress: Type.Number({minimum: 0, maximum: 100, description: 'Percent done; never decreases'}),
  iterations: Nullable(Type.Integer({description: 'Task size the task was queued with'})),
  queuedAt: Type.String({format: 'date-time'}),
  startedAt: Nullable(Type.String({format: 'date-time', description: 'Start of the latest attempt'})),
  finishedAt: Nullable(Type.String({format: 'date-time'})),
  elapsedSeconds: Type.Number({description: 'Seconds since processing first began (0 while queued); never decreases'}),
  attempts: Type.Integer({description: 'Attempts started so far'}),
  maxAttempts: Type.Integer({description: 'Attempts allowed (TASK_ATTEMPTS)'}),
  failedReason: Nullable(Type.String()),
  result: Type.Unknown({description: "The worker's result once Completed, else null"}),
  links: Links,
})

const Cancelled = Type.Object({id: Type.String({format: 'uuid'}), cancelled: Type.Literal(true)})

const TaskNotFound = () => errorBody('Task not found.')

/** The body of `POST /api/tasks`: the size within the configured limit, and a step to fail at on purpose. */
export function createTaskBody(task: RouteDeps['config']['task']) {
  return Type.Object(
    {
      iterations: Type.Optional(
        Type.Integer({
          minimum: 0,
          maximum: task.maxIterations,
          description: `Task size: loop iterations over the 100 steps (0 = an empty task; default ${task.defaultIterations})`,
        }),
      ),
      failAt: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: TASK_STEPS,
          description: 'Make the task fail on purpose at this step (1-100), to see a failure, its retries and the task-failure alert',
        }),
      ),
    },
    // The example (Swagger UI's "Try it out") is the ordinary task: the default size, no failure.
    {additionalProperties: false, examples: [{iterations: task.defaultIterations}]},
  )
}

/** What `DELETE /api/tasks/:id` answers for a cancel outcome other than success: the status and error body. */
export function cancelRefusal(outcome: Exclude<CancelOutcome, {outcome: 'cancelled'}>): {status: 404 | 409; body: ReturnType<typeof errorBody>} {
  if (outcome.outcome === 'not-found') return {status: 404, body: TaskNotFound()}
  return {
    status: 409,
    body: errorBody(
      outcome.reason === 'processing'
        ? 'Task is already being processed and cannot be cancelled: BullMQ cannot stop a running job cleanly. Wait for it to finish.'
        : `Task has already finished (${outcome.status}); there is nothing to cancel.`,
    ),
  }
}

type TasksApp = Parameters<FastifyPluginAsyncTypebox<RouteDeps>>[0]

/** `POST /api/tasks`: 202 + Location. */
function createTaskRoute(app: TasksApp, {config, queue, metrics}: RouteDeps): void {
  app.post(
    '/api/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Queue a task',
        description: 'The JSON body is optional; without it the task has the default size.',
        body: createTaskBody(config.task),
        [OPTIONAL_BODY]: true,
        response: {202: Accepted, 400: Type.Ref('ErrorBody'), 413: Type.Ref('ErrorBody'), 415: Type.Ref('ErrorBody'), ...commonErrors},
      },
      // No body at all means "default size": validate it as an empty object. (A JSON `null` is a
      // body, and not an object: 400.)
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {}
      },
    },
    async (request, reply) => {
      const iterations = request.body.iterations ?? config.task.defaultIterations
      const {failAt} = request.body
      const id = await queue.enqueue({iterations, failAt})
      metrics?.taskEnqueued('modern')
      request.log.info({taskId: id, iterations, failAt}, 'task queued')
      const self = taskPath(id)
      return reply
        .code(202)
        .header('location', self)
        .send({id, status: 'Queued' as const, links: {self}})
    },
  )
}

/** `GET /api/tasks/:id`: the typed task resource. */
function getTaskRoute(app: TasksApp, {queue, notFound}: RouteDeps): void {
  app.get(
    '/api/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        summary: 'A task: status, progress, timestamps, attempts, failure reason and result',
        params: TaskIdParams,
        response: {200: TaskResourceSchema, 404: Type.Ref('ErrorBody'), ...commonErrors},
      },
    },
    async (request, reply) => {
      const id = taskId(request.params.id)
      if (!id) return notFound(request, reply)
      const snapshot = await queue.get(id)
      if (!snapshot) return reply.code(404).send(TaskNotFound())
      return toTaskResource(snapshot)
    },
  )
}

/** `DELETE /api/tasks/:id`: cancels a queued task. */
function cancelTaskRoute(app: TasksApp, {queue, notFound}: RouteDeps): void {
  app.delete(
    '/api/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Cancel a queued task',
        description:
          'Removes a task that no worker has started; the task then reports `Cancelled` until TASK_RETENTION_SECONDS have passed, and cancelling it again answers the same. A running task cannot be stopped cleanly by BullMQ from outside its worker, so that is a 409, as is a finished task.',
        params: TaskIdParams,
        response: {200: Cancelled, 404: Type.Ref('ErrorBody'), 409: Type.Ref('ErrorBody'), ...commonErrors},
      },
    },
    async (request, reply) => {
      const id = taskId(request.params.id)
      if (!id) return notFound(request, reply)
      const result = await queue.cancel(id)
      if (result.outcome === 'cancelled') {
        request.log.info({taskId: id}, 'task cancelled')
        return {id, cancelled: true as const}
      }
      if (result.outcome === 'conflict') request.log.info({taskId: id, status: result.status}, 'task not cancelled')
      const refusal = cancelRefusal(result)
      return reply.code(refusal.status).send(refusal.body)
    },
  )
}

/**
 * The modern task API: `POST /api/tasks` (202 + Location), `GET /api/tasks/:id` (typed) and
 * `DELETE /api/tasks/:id` (cancels a queued task).
 */
export const taskRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  createTaskRoute(app, deps)
  getTaskRoute(app, deps)
  cancelTaskRoute(app, deps)
}
