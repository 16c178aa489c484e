/**
 * One shape for every Job, whatever it was made from: a claim's database rows (better-sqlite3
 * or pg objects), or the outbox's own objects when a fresh delivery is handed off. Under load
 * both kinds meet in the same functions (sending, planning and writing the record); with
 * objects of several shapes V8 threw away their optimized code the first time a new shape came
 * by, and compiled them again (see README, Performance). Copying the few fields each attempt
 * reads into fresh literals gives each part one shape.
 */
import type {ClaimedRow, Job} from './worker.ts';

/** A Job with its own copies of the fields attempts read, in a fixed order. */
export function jobOf(delivery: ClaimedRow, event: Job['event'], webhook: Job['webhook']): Job {
  return {
    delivery: {
      id: delivery.id,
      event_id: delivery.event_id,
      webhook_id: delivery.webhook_id,
      attempt_count: delivery.attempt_count,
      next_attempt_at: delivery.next_attempt_at,
      next_trigger: delivery.next_trigger ?? null,
    },
    event: {name: event.name, payload: event.payload, created_at: event.created_at, source_id: event.source_id},
    webhook: {id: webhook.id, target_url: webhook.target_url, secret: webhook.secret, previous_secrets: webhook.previous_secrets},
  };
}
