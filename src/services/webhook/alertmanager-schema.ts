import {type Static, Type} from 'typebox'

/**
 * Alertmanager's webhook payload, version "4" — the JSON Alertmanager POSTs to a webhook_config
 * receiver (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
 * Required fields are the ones the message needs; unknown extra fields are tolerated so a newer
 * Alertmanager does not break the webhook.
 */
const StringMap = Type.Record(Type.String(), Type.String(), {description: 'name → value'})

/** RFC 3339 time; Alertmanager sends nanoseconds, and `0001-01-01T00:00:00Z` as "not set". */
const Time = Type.String({format: 'date-time'})

/** One alert inside a notification. */
export const AlertSchema = Type.Object({
  status: Type.Enum(['firing', 'resolved']),
  labels: StringMap,
  annotations: StringMap,
  startsAt: Time,
  endsAt: Time,
  // No length limit on what Prometheus and Alertmanager generate (a long expression makes a long
  // URL): refusing would drop the notification (4xx is not retried); the message omits an
  // over-long link instead, and the route's body limit bounds the whole.
  generatorURL: Type.Optional(Type.String()),
  fingerprint: Type.String({minLength: 1, maxLength: 256}),
})

/** One notification: a group of alerts sharing `groupLabels`. */
export const AlertmanagerPayloadSchema = Type.Object({
  version: Type.Literal('4'),
  groupKey: Type.String(),
  truncatedAlerts: Type.Optional(Type.Integer({minimum: 0})),
  status: Type.Enum(['firing', 'resolved']),
  receiver: Type.String(),
  groupLabels: StringMap,
  commonLabels: StringMap,
  commonAnnotations: StringMap,
  externalURL: Type.String(),
  alerts: Type.Array(AlertSchema, {minItems: 1, maxItems: 10_000}),
})

export type Alert = Static<typeof AlertSchema>
export type AlertmanagerPayload = Static<typeof AlertmanagerPayloadSchema>

/** Query of the original system's endpoint `POST /webhooks/max-workers-reached`. */
export const MaxWorkersQuerySchema = Type.Object({
  scaler: Type.String({minLength: 1, maxLength: 253}),
  namespace: Type.String({minLength: 1, maxLength: 253}),
  deployment: Type.String({minLength: 1, maxLength: 253}),
  numWorkers: Type.Integer({minimum: 0, maximum: 1_000_000}),
})

export type MaxWorkersQuery = Static<typeof MaxWorkersQuerySchema>
