import {Type} from 'typebox'

/**
 * The one error shape of both APIs (legacy and modern):
 * `{"success": false, "error": {"message": "..."}}`. 4xx messages say what was wrong;
 * 5xx say only "Internal Server Error" (or that Redis is unavailable, for 503).
 */
export const ErrorBody = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Object({message: Type.String()}),
  },
  {$id: 'ErrorBody', description: 'Every error of both APIs'},
)

/** Builds an error body. */
export function errorBody(message: string): {success: false; error: {message: string}} {
  return {success: false, error: {message}}
}

/** The contract's status words, shared by both APIs. */
export const TaskStatusSchema = Type.Union(
  [Type.Literal('Queued'), Type.Literal('Processing'), Type.Literal('Completed'), Type.Literal('Failed'), Type.Literal('Cancelled')],
  {description: 'Queued (waiting or retrying), Processing, Completed, Failed, or Cancelled (DELETE /api/tasks/{id} before a worker took it)'},
)

/** `:id` path parameter. Not validated as a UUID by the schema: a malformed id is a 404, not a 400. */
export const TaskIdParams = Type.Object({
  id: Type.String({description: 'Task id (the UUID returned when the task was queued; upper or lower case)'}),
})

/** Error responses every route may give. */
export const commonErrors = {
  500: Type.Ref('ErrorBody'),
  503: Type.Ref('ErrorBody'),
}
