/**
 * Rows written straight into the database, for tests that need state the API would refuse or
 * that must exist before a server starts.
 */
import type {Kysely} from 'kysely';
import type {DB, WebhooksTable} from '../../src/db/schema.ts';
import {objectId} from '../../src/lib/ids.ts';

/** Inserts a complete webhooks row (available, no secret, no relay source unless `values` say so); returns its id. */
export async function insertWebhookRow(db: Kysely<DB>, integrationId: string, values: Partial<WebhooksTable> & {event: string; target_url: string}): Promise<string> {
  const now = new Date().toISOString();
  const id = values.id ?? objectId();
  await db
    .insertInto('webhooks')
    .values({
      id,
      name: null,
      secret: null,
      api_version: 'v6.0',
      integration_id: integrationId,
      last_triggered_at: null,
      last_triggered_status: null,
      last_triggered_error: null,
      status: 'available',
      disabled_reason: null,
      filter: null,
      previous_secrets: null,
      source_id: null,
      created_at: now,
      updated_at: now,
      ...values,
    })
    .execute();
  return id;
}
