/**
 * Custom integrations and their API keys: one Admin key (`id:secret`, 64 hex) and one Content
 * key (26 hex) each, as Ghost makes them. Shared by the CLI and the Admin API.
 */
import type {Queryable} from '../db/database.ts';
import type {ApiKeysTable, IntegrationsTable, WebhooksTable} from '../db/schema.ts';
import {notFound, validationError} from '../lib/errors.ts';
import {adminKeySecret, contentKeySecret, objectId, type Random} from '../lib/ids.ts';
import {slugify, uniqueSlug} from '../lib/slug.ts';
import {generateWebhookSecret, serializeWebhook, type WebhookOutput} from './webhooks.ts';
import {optionalString, requiredString, type Input} from './input.ts';

/** An API key as the integrations endpoints show it. */
export interface ApiKeyOutput {
  id: string;
  type: 'admin' | 'content';
  secret: string;
  role_id: string | null;
  integration_id: string | null;
  user_id: string | null;
  last_seen_at: string | null;
  last_seen_version: string | null;
  created_at: string;
  updated_at: string;
}

/** An integration as the Admin API shows it; relations only when included. */
export interface IntegrationOutput {
  id: string;
  type: string;
  name: string;
  slug: string;
  icon_image: string | null;
  description: string | null;
  created_at: string;
  updated_at: string;
  api_keys?: ApiKeyOutput[];
  webhooks?: WebhookOutput[];
}

/** The short form the CLI prints (`--json`). */
export interface IntegrationSummary {
  id: string;
  name: string;
  admin_key: string;
  content_key: string;
}

function serializeKey(row: ApiKeysTable): ApiKeyOutput {
  return {
    id: row.id,
    type: row.type,
    secret: row.secret,
    role_id: row.role_id,
    integration_id: row.integration_id,
    user_id: row.user_id,
    last_seen_at: row.last_seen_at,
    last_seen_version: null,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function serializeIntegration(row: IntegrationsTable): IntegrationOutput {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    slug: row.slug,
    icon_image: row.icon_image,
    description: row.description,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

async function adminRoleId(q: Queryable): Promise<string | null> {
  const role = await q.selectFrom('roles').select('id').where('name', '=', 'Admin Integration').executeTakeFirst();
  return role?.id ?? null;
}

/** Creates a custom integration with fresh Admin and Content keys, in one transaction. */
export async function createIntegration(
  q: Queryable,
  input: {name: string; description?: string | null; icon_image?: string | null},
  now: Date,
  random: Random,
): Promise<IntegrationsTable> {
  const name = input.name.trim();
  if (name === '') throw validationError('name', 'name is required.');
  if (name.length > 191) throw validationError('name', 'name must be at most 191 characters.');
  const stamp = now.toISOString();
  const slug = await uniqueSlug(slugify(name, 'integration'), async (s) =>
    (await q.selectFrom('integrations').select('id').where('slug', '=', s).executeTakeFirst()) !== undefined,
  );
  const row: IntegrationsTable = {
    id: objectId(now, random),
    type: 'custom',
    name,
    slug,
    icon_image: input.icon_image ?? null,
    description: input.description ?? null,
    listen_secret: null,
    created_at: stamp,
    updated_at: stamp,
  };
  await q.insertInto('integrations').values(row).execute();
  const roleId = await adminRoleId(q);
  await q
    .insertInto('api_keys')
    .values([
      {id: objectId(now, random), type: 'admin', secret: adminKeySecret(random), role_id: roleId, integration_id: row.id, user_id: null, last_seen_at: null, created_at: stamp, updated_at: stamp},
      {id: objectId(now, random), type: 'content', secret: contentKeySecret(random), role_id: null, integration_id: row.id, user_id: null, last_seen_at: null, created_at: stamp, updated_at: stamp},
    ])
    .execute();
  return row;
}

/** The CLI's summary of every custom integration (oldest first), keys included. */
export async function summariseIntegrations(q: Queryable, onlyId?: string): Promise<IntegrationSummary[]> {
  let query = q.selectFrom('integrations').selectAll().where('type', '=', 'custom');
  if (onlyId) query = query.where('id', '=', onlyId);
  const rows = await query.orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
  const keys = rows.length === 0 ? [] : await q.selectFrom('api_keys').selectAll().where('integration_id', 'in', rows.map((r) => r.id)).execute();
  return rows.map((row) => {
    const admin = keys.find((k) => k.integration_id === row.id && k.type === 'admin');
    const content = keys.find((k) => k.integration_id === row.id && k.type === 'content');
    return {id: row.id, name: row.name, admin_key: admin ? `${admin.id}:${admin.secret}` : '', content_key: content?.secret ?? ''};
  });
}

/** Which relations to embed, from `?include=api_keys,webhooks`. */
function includes(include: string | undefined): {keys: boolean; webhooks: boolean} {
  const parts = (include ?? '').split(',').map((s) => s.trim());
  return {keys: parts.includes('api_keys'), webhooks: parts.includes('webhooks')};
}

async function withRelations(q: Queryable, rows: IntegrationsTable[], include: string | undefined): Promise<IntegrationOutput[]> {
  const want = includes(include);
  const ids = rows.map((r) => r.id);
  const keys: ApiKeysTable[] = want.keys && ids.length ? await q.selectFrom('api_keys').selectAll().where('integration_id', 'in', ids).orderBy('type', 'asc').execute() : [];
  const hooks: WebhooksTable[] = want.webhooks && ids.length ? await q.selectFrom('webhooks').selectAll().where('integration_id', 'in', ids).orderBy('created_at', 'asc').execute() : [];
  return rows.map((row) => {
    const out = serializeIntegration(row);
    if (want.keys) out.api_keys = keys.filter((k) => k.integration_id === row.id).map(serializeKey);
    if (want.webhooks) out.webhooks = hooks.filter((h) => h.integration_id === row.id).map(serializeWebhook);
    return out;
  });
}

/** Lists custom integrations (Ghost's admin shows custom ones), newest first. */
export async function browseIntegrations(q: Queryable, include?: string): Promise<IntegrationOutput[]> {
  const rows = await q.selectFrom('integrations').selectAll().where('type', '=', 'custom').orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
  return withRelations(q, rows, include);
}

/** Reads one integration, or throws a 404. */
export async function readIntegration(q: Queryable, id: string, include?: string, action = 'read'): Promise<IntegrationOutput> {
  const row = await q.selectFrom('integrations').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('integration', action);
  return (await withRelations(q, [row], include))[0]!;
}

/** Reads the editable fields of an integration body. */
export function readIntegrationInput(input: Input, requireName: boolean): {name?: string; description?: string | null; icon_image?: string | null} {
  const out: {name?: string; description?: string | null; icon_image?: string | null} = {};
  if (requireName) out.name = requiredString(input, 'name', 191);
  else {
    const name = optionalString(input, 'name', 191, false);
    if (name !== undefined && name !== null) {
      if (name.trim() === '') throw validationError('name', 'name cannot be empty.');
      out.name = name.trim();
    }
  }
  const description = optionalString(input, 'description', 2000);
  if (description !== undefined) out.description = description;
  const icon = optionalString(input, 'icon_image', 2000);
  if (icon !== undefined) out.icon_image = icon;
  return out;
}

/** Edits name, description or icon; a save that changes nothing keeps updated_at. */
export async function editIntegration(q: Queryable, id: string, fields: ReturnType<typeof readIntegrationInput>, now: Date): Promise<void> {
  const before = await q.selectFrom('integrations').selectAll().where('id', '=', id).executeTakeFirst();
  if (!before) throw notFound('integration', 'edit');
  const changed = Object.entries(fields).filter(([key, value]) => before[key as keyof IntegrationsTable] !== value);
  if (changed.length === 0) return;
  await q.updateTable('integrations').set({...Object.fromEntries(changed), updated_at: now.toISOString()}).where('id', '=', id).execute();
}

/** Deletes an integration; its keys and webhooks go with it. */
export async function deleteIntegration(q: Queryable, id: string): Promise<void> {
  const result = await q.deleteFrom('integrations').where('id', '=', id).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw notFound('integration', 'delete');
}

/** Gives an API key a new secret (the old one stops working at once). */
export async function refreshApiKey(q: Queryable, integrationId: string, keyId: string, now: Date, random: Random): Promise<void> {
  const key = await q.selectFrom('api_keys').selectAll().where('id', '=', keyId).where('integration_id', '=', integrationId).executeTakeFirst();
  if (!key) throw notFound('api key', 'refresh');
  const secret = key.type === 'admin' ? adminKeySecret(random) : contentKeySecret(random);
  await q.updateTable('api_keys').set({secret, updated_at: now.toISOString()}).where('id', '=', keyId).execute();
}

/**
 * The `whsec_` secret of an integration's `herald listen` stream, with the integration's id and
 * name: made on first use and kept, so a receiver configured with it keeps verifying across
 * listener restarts. Two first uses at once agree on one secret (the conditional update lets
 * only one of them write).
 */
export async function listenSecretFor(q: Queryable, integrationId: string, random: Random): Promise<{id: string; name: string; secret: string}> {
  const read = () => q.selectFrom('integrations').select(['id', 'name', 'listen_secret']).where('id', '=', integrationId).executeTakeFirst();
  let row = await read();
  if (!row) throw notFound('integration');
  if (!row.listen_secret) {
    await q
      .updateTable('integrations')
      .set({listen_secret: generateWebhookSecret(random)})
      .where('id', '=', integrationId)
      .where('listen_secret', 'is', null)
      .execute();
    row = await read();
  }
  if (!row?.listen_secret) throw notFound('integration');
  return {id: row.id, name: row.name, secret: row.listen_secret};
}
