/**
 * Sources (SPEC §13): upstream Ghost sites whose webhooks Herald relays. A source has a name,
 * a generated secret (Ghost signs what it sends to the ingest endpoint with it) and the record
 * of the Ghost webhooks `source connect` made. Shared by the CLI and the Admin API.
 *
 * Deleting a source is refused (422) while anything still depends on it: Herald webhooks
 * subscribed to it (they would silently stop receiving) or Ghost webhooks `connect` made (Ghost
 * would keep sending to an ingest path that no longer exists; `disconnect` first).
 */
import {sql} from 'kysely';
import {toCount, type Dialect, type Queryable} from '../db/database.ts';
import type {SourceGhostWebhooksTable, SourcesTable} from '../db/schema.ts';
import {HeraldError, notFound, validationError} from '../lib/errors.ts';
import {objectId, type Random} from '../lib/ids.ts';

/** A source as the API and `source create --json` show it (SPEC §13). */
export interface SourceOutput {
  id: string;
  name: string;
  secret: string;
  ingest_path: string;
}

/** A source with what `source list` shows beside it. */
export interface SourceDetails extends SourceOutput {
  ghost_url: string | null;
  /** Events with a Ghost webhook made by `connect`, in the order they were made. */
  connected_events: string[];
  /** Herald webhooks subscribed to this source. */
  webhooks: number;
}

/** Longest source name. */
export const MAX_SOURCE_NAME = 191;

/** The path Ghost posts to for `sourceId` (the event name may follow). */
export function ingestPath(sourceId: string): string {
  return `/ingest/ghost/${sourceId}/`;
}

/** A new source secret: 32 random bytes as 64 hex characters (Ghost signs with it as UTF-8). */
export function generateSourceSecret(random: Random): string {
  return random.bytes(32).toString('hex');
}

/** The API shape of a sources row. */
export function serializeSource(row: SourcesTable): SourceOutput {
  return {id: row.id, name: row.name, secret: row.secret, ingest_path: ingestPath(row.id)};
}

/** Creates a source named `name` (trimmed, 1–191 characters) with a fresh secret. */
export async function createSource(q: Queryable, input: {name: unknown}, now: Date, random: Random): Promise<SourcesTable> {
  if (typeof input.name !== 'string' || input.name.trim() === '') throw validationError('name', 'name is required.');
  const name = input.name.trim();
  if (name.length > MAX_SOURCE_NAME) throw validationError('name', `name must be at most ${MAX_SOURCE_NAME} characters.`);
  if (name.includes('\u0000')) throw validationError('name', 'name cannot contain NUL characters.');
  const stamp = now.toISOString();
  const row: SourcesTable = {id: objectId(now, random), name, secret: generateSourceSecret(random), ghost_url: null, created_at: stamp, updated_at: stamp};
  await q.insertInto('sources').values(row).execute();
  return row;
}

/** Every source, oldest first. */
export async function listSources(q: Queryable): Promise<SourcesTable[]> {
  return q.selectFrom('sources').selectAll().orderBy('created_at').orderBy('id').execute();
}

/** One source, or undefined (ids that cannot be ObjectIds are simply not found). */
export async function findSource(q: Queryable, id: string): Promise<SourcesTable | undefined> {
  if (!/^[0-9a-f]{24}$/.test(id)) return undefined;
  return q.selectFrom('sources').selectAll().where('id', '=', id).executeTakeFirst();
}

/** One source, or a 404. */
export async function readSource(q: Queryable, id: string, action = 'read'): Promise<SourcesTable> {
  const row = await findSource(q, id);
  if (!row) throw notFound('source', action);
  return row;
}

/** The Ghost webhooks `connect` made for a source, in the order they were made. */
export async function connectedWebhooks(q: Queryable, sourceId: string): Promise<SourceGhostWebhooksTable[]> {
  return q.selectFrom('source_ghost_webhooks').selectAll().where('source_id', '=', sourceId).orderBy('created_at').orderBy('id').execute();
}

/** Every source with its connections and subscriber count, oldest first. */
export async function describeSources(q: Queryable): Promise<SourceDetails[]> {
  const rows = await listSources(q);
  const out: SourceDetails[] = [];
  for (const row of rows) {
    const connected = await connectedWebhooks(q, row.id);
    const count = await q.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).where('source_id', '=', row.id).executeTakeFirst();
    out.push({...serializeSource(row), ghost_url: row.ghost_url, connected_events: connected.map((c) => c.event), webhooks: toCount(count?.n)});
  }
  return out;
}

/**
 * Deletes a source (call it inside a transaction), or throws 404 (unknown) or 422 (Herald webhooks still subscribe to it, or
 * Ghost webhooks made by `connect` still point at it). Its ingest receipts go with it.
 */
export async function deleteSource(q: Queryable, id: string, dialect: Dialect = 'sqlite'): Promise<void> {
  // The webhook writes' lock (content/webhooks.ts): no webhook can subscribe to the source
  // between the check below and the delete. SQLite transactions are serialised already.
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext('herald.webhooks'))`.execute(q);
  const row = await readSource(q, id, 'delete');
  const subscribers = await q.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).where('source_id', '=', row.id).executeTakeFirst();
  const n = toCount(subscribers?.n);
  if (n > 0) {
    throw new HeraldError('Validation', {
      message: 'Validation error, cannot delete source.',
      context: `${n} webhook${n === 1 ? '' : 's'} still subscribe${n === 1 ? 's' : ''} to this source.`,
      help: 'Delete those webhooks, or edit them to another source_id, first.',
      code: 'SOURCE_IN_USE',
    });
  }
  const connected = await connectedWebhooks(q, row.id);
  if (connected.length > 0) {
    throw new HeraldError('Validation', {
      message: 'Validation error, cannot delete source.',
      context: `${connected.length} Ghost webhook${connected.length === 1 ? '' : 's'} made by "herald source connect" still send${connected.length === 1 ? 's' : ''} to this source (${connected[0]!.ghost_url}).`,
      help: `Run "herald source disconnect ${row.id} --ghost-url ${connected[0]!.ghost_url} --ghost-admin-key KEY" first.`,
      code: 'SOURCE_CONNECTED',
    });
  }
  await q.deleteFrom('sources').where('id', '=', row.id).execute();
}
