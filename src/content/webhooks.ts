/**
 * Webhooks as the Admin API shows them (Ghost's fields plus Herald's status, disabled_reason
 * and filter). The webhook endpoints and delivery engine build on this (issue #3).
 */
import type {WebhooksTable} from '../db/schema.ts';

/** A webhook in Ghost's response shape, with Herald's extra fields. */
export interface WebhookOutput {
  id: string;
  event: string;
  target_url: string;
  name: string | null;
  secret: string | null;
  api_version: string;
  integration_id: string;
  last_triggered_at: string | null;
  last_triggered_status: string | null;
  last_triggered_error: string | null;
  created_at: string;
  updated_at: string;
  status: 'available' | 'disabled';
  disabled_reason: string | null;
  filter: string | null;
}

/** Turns a webhooks row into its API shape (the secret is shown, as Ghost does). */
export function serializeWebhook(row: WebhooksTable): WebhookOutput {
  return {
    id: row.id,
    event: row.event,
    target_url: row.target_url,
    name: row.name,
    secret: row.secret,
    api_version: row.api_version,
    integration_id: row.integration_id,
    last_triggered_at: row.last_triggered_at,
    last_triggered_status: row.last_triggered_status,
    last_triggered_error: row.last_triggered_error,
    created_at: row.created_at,
    updated_at: row.updated_at,
    status: row.status,
    disabled_reason: row.disabled_reason,
    filter: row.filter,
  };
}
