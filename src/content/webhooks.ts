/**
 * Webhooks: validation rules, the repository and the Admin API serialiser (Ghost's fields plus
 * Herald's status, disabled_reason and filter).
 *
 * Who may touch a webhook is decided here, not in the routes: an integration sees and changes
 * only its own webhooks (Ghost's rule for edit and delete, extended to Herald's browse and read);
 * staff see and change all of them. Every write is one transaction.
 */
import {sql} from 'kysely';
import {isForeignKeyViolation, type Database, type Queryable} from '../db/database.ts';
import type {WebhooksTable} from '../db/schema.ts';
import {parseNql, type FilterSpec} from '../db/filter.ts';
import {EVENT_NAMES, isEventName} from '../events/names.ts';
import {HeraldError, notFound, validationError} from '../lib/errors.ts';
import {objectId, type Random} from '../lib/ids.ts';
import {GHOST_API_VERSION} from '../lib/version.ts';
import {literalTargetProblem} from '../delivery/ssrf.ts';
import {browsePage, type BrowseQuery, type BrowseSpec, type Pagination} from './browse.ts';
import {optionalEnum, optionalString, type Input} from './input.ts';

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
  /** The relay source whose events this webhook receives (SPEC §13); null = Herald's own content. */
  source_id: string | null;
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
    source_id: row.source_id,
  };
}

/**
 * Who is acting on webhooks: an integration (limited to its own webhooks, and the owner of the
 * ones it adds) or staff (every webhook; must name the integration on add). Content code knows
 * nothing of HTTP, so the route turns its Principal into this.
 */
export type WebhookActor = {readonly kind: 'integration'; readonly integrationId: string} | {readonly kind: 'staff'};

/** What webhook operations need from the outside world. */
export interface WebhookContext {
  readonly database: Database;
  readonly now: Date;
  readonly random: Random;
  /** Permit literal loopback/private targets (`--allow-private-targets`). Default false. */
  readonly allowPrivateTargets?: boolean;
}

/** Longest `target_url` (Ghost's column). */
export const MAX_TARGET_URL = 2000;
/** Longest `filter` text. */
export const MAX_FILTER = 2000;
/** `disabled_reason` when a user disables a webhook through the API. */
export const DISABLED_BY_USER = 'Disabled by a user';
/** The default `api_version` of a new webhook. */
export const DEFAULT_API_VERSION = `v${GHOST_API_VERSION}`;

/** Filterable and sortable webhook fields. */
export const WEBHOOK_BROWSE: BrowseSpec = {
  filter: {
    fields: {
      id: {column: 'webhooks.id', kind: 'string'},
      event: {column: 'webhooks.event', kind: 'string'},
      target_url: {column: 'webhooks.target_url', kind: 'string'},
      name: {column: 'webhooks.name', kind: 'string'},
      status: {column: 'webhooks.status', kind: 'string'},
      integration_id: {column: 'webhooks.integration_id', kind: 'string'},
      source_id: {column: 'webhooks.source_id', kind: 'string'},
      created_at: {column: 'webhooks.created_at', kind: 'date'},
      updated_at: {column: 'webhooks.updated_at', kind: 'date'},
    },
  } satisfies FilterSpec,
  orderable: {
    created_at: 'webhooks.created_at',
    updated_at: 'webhooks.updated_at',
    event: 'webhooks.event',
    target_url: 'webhooks.target_url',
    name: 'webhooks.name',
    status: 'webhooks.status',
    id: 'webhooks.id',
  },
  defaultOrder: 'created_at desc',
  idColumn: 'webhooks.id',
};

/** A new Standard Webhooks secret: `whsec_` + base64 of 32 random bytes (50 characters). */
export function generateWebhookSecret(random: Random): string {
  return `whsec_${random.bytes(32).toString('base64')}`;
}

/** The columns a webhook body may set, validated. Absent keys are absent. */
export interface WebhookFields {
  event?: string;
  target_url?: string;
  name?: string | null;
  /** Null means "generate one" (absent, null or '' in the body). */
  secret?: string | null;
  /** Null means "the default" (null or '' in the body). */
  api_version?: string | null;
  filter?: string | null;
  /** Edit only. */
  status?: 'available' | 'disabled';
  /** A relay source's id; null (or '') means Herald's own content. Checked to exist on save. */
  source_id?: string | null;
  /** Add by staff only; integrations' own id wins. */
  integration_id?: unknown;
}

const SAVE_FAILED = 'Validation error, cannot save webhook.';

function readEvent(input: Input): string | undefined {
  const raw = optionalString(input, 'event', 50, false);
  if (raw === undefined || raw === null) return undefined;
  const event = raw.trim().toLowerCase();
  if (event === '') throw validationError('event', 'event is required.');
  if (!isEventName(event)) {
    throw validationError('event', `'${raw}' is not a webhook event. Valid events: ${EVENT_NAMES.join(', ')}.`);
  }
  return event;
}

function readTargetUrl(input: Input, allowPrivateTargets: boolean): string | undefined {
  const raw = optionalString(input, 'target_url', MAX_TARGET_URL, false);
  if (raw === undefined || raw === null) return undefined;
  const value = raw.trim();
  if (value === '') throw validationError('target_url', 'target_url is required.');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw validationError('target_url', 'target_url must be an absolute URL, e.g. https://example.com/hooks/ghost.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw validationError('target_url', `target_url must use http or https (got ${url.protocol.replace(/:$/, '')}).`);
  }
  // WHATWG parsing accepts `http:example.com`; a stored target should read as what it is.
  if (url.hostname === '' || !/^https?:\/\//i.test(value)) throw validationError('target_url', 'target_url must be an absolute http(s) URL with a host, e.g. https://example.com/hooks/ghost.');
  // SSRF guard (SPEC §7): a literal non-public address, in any spelling, is refused now; names
  // are checked when each attempt resolves them.
  const refused = allowPrivateTargets ? null : literalTargetProblem(value);
  if (refused !== null) {
    throw validationError(
      'target_url',
      `target_url resolves to a private address (${refused}); webhooks may only target public addresses unless the server runs with --allow-private-targets.`,
    );
  }
  return value;
}

function readSecret(input: Input): string | null | undefined {
  const secret = optionalString(input, 'secret', 191);
  if (secret === undefined) return undefined;
  if (secret === null || secret === '') return null;
  // A Standard Webhooks secret is base64 after its prefix; anything else could never be
  // verified by a receiver, so refuse it now rather than sign with garbage later.
  if (secret.startsWith('whsec_') && !/^[A-Za-z0-9+/]+={0,2}$/.test(secret.slice('whsec_'.length))) {
    throw validationError('secret', 'A secret starting with whsec_ must be followed by base64 (Standard Webhooks).');
  }
  return secret;
}

function readFilter(input: Input): string | null | undefined {
  const filter = optionalString(input, 'filter', MAX_FILTER);
  if (filter === undefined) return undefined;
  if (filter === null || filter.trim() === '') return null;
  try {
    parseNql(filter);
  } catch (error) {
    const detail = error instanceof HeraldError ? error.context : null;
    throw validationError('filter', `filter is not valid NQL${detail ? `: ${detail}` : '.'}`);
  }
  return filter;
}

/**
 * Validates a webhook body item. On add, `event` and `target_url` are required; on edit every
 * field is optional and `status` may be given. Unknown properties are ignored.
 */
export function readWebhookInput(input: Input, mode: 'add' | 'edit', options: {allowPrivateTargets?: boolean} = {}): WebhookFields {
  const out: WebhookFields = {};
  const event = readEvent(input);
  if (event !== undefined) out.event = event;
  else if (mode === 'add') throw validationError('event', 'event is required.');
  const targetUrl = readTargetUrl(input, options.allowPrivateTargets === true);
  if (targetUrl !== undefined) out.target_url = targetUrl;
  else if (mode === 'add') throw validationError('target_url', 'target_url is required.');

  const name = optionalString(input, 'name', 191);
  if (name !== undefined) out.name = name;
  const secret = readSecret(input);
  if (secret !== undefined || mode === 'add') out.secret = secret ?? null;
  const apiVersion = optionalString(input, 'api_version', 50);
  if (apiVersion !== undefined) out.api_version = apiVersion === '' ? null : apiVersion;
  const filter = readFilter(input);
  if (filter !== undefined) out.filter = filter;
  const sourceId = optionalString(input, 'source_id', 24);
  if (sourceId !== undefined) out.source_id = sourceId === '' ? null : sourceId;
  if (mode === 'edit') {
    const status = optionalEnum(input, 'status', ['available', 'disabled'] as const);
    if (status !== undefined) out.status = status;
  } else if (input.integration_id !== undefined) {
    out.integration_id = input.integration_id;
  }
  return out;
}

function unknownIntegration(): HeraldError {
  return new HeraldError('Validation', {
    message: SAVE_FAILED,
    context: "Validation failed for 'integration_id'. 'integration_id' value does not match any existing integration.",
    help: "Provide the 'integration_id' of an existing integration.",
    property: 'integration_id',
  });
}

function unknownSource(): HeraldError {
  return new HeraldError('Validation', {
    message: SAVE_FAILED,
    context: "Validation failed for 'source_id'. 'source_id' value does not match any existing source.",
    help: "Provide the 'id' of a source (GET /sources/ or herald source list), or null for Herald's own content.",
    property: 'source_id',
  });
}

/** Throws 422 unless `sourceId` (when not null) names an existing source. */
async function checkSource(q: Queryable, sourceId: string | null | undefined): Promise<void> {
  if (sourceId === undefined || sourceId === null) return;
  const found = await q.selectFrom('sources').select('id').where('id', '=', sourceId).executeTakeFirst();
  if (!found) throw unknownSource();
}

function duplicateTarget(): HeraldError {
  return new HeraldError('Validation', {message: SAVE_FAILED, context: 'Target URL has already been used for this event.'});
}

/** Ghost's 403 when an integration touches another integration's webhook. */
function notYours(action: 'read' | 'edit' | 'delete'): HeraldError {
  return new HeraldError('NoPermission', {
    message: `You do not have permission to ${action} this webhook.`,
    context: `You may only ${action} webhooks that belong to the authenticated integration. Check the supplied Admin API Key.`,
  });
}

/**
 * True when another webhook of the same origin (Herald's own content, or one relay source)
 * already sends `event` to `targetUrl`. Ghost compares both fields case-insensitively across
 * all webhooks; the comparison runs in JS so both engines agree on non-ASCII case folding
 * (SQLite's lower() folds ASCII only). A receiver may take the same event from several origins.
 */
async function targetTaken(q: Queryable, event: string, targetUrl: string, sourceId: string | null, exceptId?: string): Promise<boolean> {
  // Events are stored lowercased (readWebhookInput), so the indexed equality is enough for them.
  let query = q.selectFrom('webhooks').select(['id', 'target_url']).where('event', '=', event);
  query = sourceId === null ? query.where('source_id', 'is', null) : query.where('source_id', '=', sourceId);
  if (exceptId) query = query.where('id', '!=', exceptId);
  const wanted = targetUrl.toLowerCase();
  return (await query.execute()).some((row) => row.target_url.toLowerCase() === wanted);
}

/**
 * Serialises webhook writes on PostgreSQL for the rest of the transaction, so two concurrent
 * adds cannot both pass the duplicate check (no unique index can express Ghost's
 * case-insensitive rule). SQLite transactions are serialised already. Webhook writes are rare.
 */
async function lockWebhookWrites(q: Queryable, database: Database): Promise<void> {
  if (database.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext('herald.webhooks'))`.execute(q);
}

/** Loads a webhook the actor may `action`, or throws 404 (missing) / 403 (another integration's). */
async function ownedWebhook(q: Queryable, id: string, actor: WebhookActor, action: 'read' | 'edit' | 'delete'): Promise<WebhooksTable> {
  const row = await q.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('webhook', action);
  if (actor.kind === 'integration' && row.integration_id !== actor.integrationId) throw notYours(action);
  return row;
}

/** Lists webhooks, newest first by default; an integration sees only its own. */
export async function browseWebhooks(ctx: WebhookContext, query: BrowseQuery, actor: WebhookActor): Promise<{webhooks: WebhookOutput[]; pagination: Pagination}> {
  const own = actor.kind === 'integration' ? sql<boolean>`webhooks.integration_id = ${actor.integrationId}` : undefined;
  const {rows, pagination} = await browsePage<WebhooksTable>(ctx.database.db.selectFrom('webhooks').selectAll(), query, WEBHOOK_BROWSE, ctx.database.dialect, ctx.now, own);
  return {webhooks: rows.map(serializeWebhook), pagination};
}

/** Reads one webhook, or throws 404 / 403. */
export async function readWebhook(ctx: WebhookContext, id: string, actor: WebhookActor): Promise<WebhookOutput> {
  return serializeWebhook(await ownedWebhook(ctx.database.db, id, actor, 'read'));
}

/**
 * Creates a webhook from a request body item. An integration always owns what it adds (any
 * `integration_id` it sends is overwritten, as Ghost does); staff must name an existing one.
 * Without a secret, a Standard Webhooks secret is generated and returned.
 */
export async function addWebhook(ctx: WebhookContext, input: Input, actor: WebhookActor): Promise<WebhookOutput> {
  const fields = readWebhookInput(input, 'add', {allowPrivateTargets: ctx.allowPrivateTargets});
  const row = await ctx.database.db.transaction().execute(async (trx) => {
    await lockWebhookWrites(trx, ctx.database);
    let integrationId: string;
    if (actor.kind === 'integration') {
      integrationId = actor.integrationId;
    } else {
      const given = fields.integration_id;
      if (typeof given !== 'string' || given === '' || given.length > 24) throw unknownIntegration();
      const found = await trx.selectFrom('integrations').select('id').where('id', '=', given).executeTakeFirst();
      if (!found) throw unknownIntegration();
      integrationId = found.id;
    }
    await checkSource(trx, fields.source_id);
    if (await targetTaken(trx, fields.event!, fields.target_url!, fields.source_id ?? null)) throw duplicateTarget();
    const stamp = ctx.now.toISOString();
    const row: WebhooksTable = {
      id: objectId(ctx.now, ctx.random),
      event: fields.event!,
      target_url: fields.target_url!,
      name: fields.name ?? null,
      secret: fields.secret ?? generateWebhookSecret(ctx.random),
      api_version: fields.api_version ?? DEFAULT_API_VERSION,
      integration_id: integrationId,
      last_triggered_at: null,
      last_triggered_status: null,
      last_triggered_error: null,
      status: 'available',
      disabled_reason: null,
      filter: fields.filter ?? null,
      previous_secrets: null,
      source_id: fields.source_id ?? null,
      created_at: stamp,
      updated_at: stamp,
    };
    try {
      await trx.insertInto('webhooks').values(row).execute();
    } catch (error) {
      // The integration was deleted after the caller's key was checked.
      if (isForeignKeyViolation(error)) throw unknownIntegration();
      throw error;
    }
    return row;
  });
  return serializeWebhook(row);
}

/**
 * Edits a webhook: name, event, target_url, secret (empty → a new generated one), api_version,
 * filter, source_id and status (`disabled` by a user records why; `available` clears the reason).
 * `integration_id` is ignored. A save that changes nothing keeps updated_at.
 */
export async function editWebhook(ctx: WebhookContext, id: string, input: Input, actor: WebhookActor): Promise<WebhookOutput> {
  const fields = readWebhookInput(input, 'edit', {allowPrivateTargets: ctx.allowPrivateTargets});
  const row = await ctx.database.db.transaction().execute(async (trx) => {
    await lockWebhookWrites(trx, ctx.database);
    const before = await ownedWebhook(trx, id, actor, 'edit');
    const next: Partial<WebhooksTable> = {};
    if (fields.event !== undefined) next.event = fields.event;
    if (fields.target_url !== undefined) next.target_url = fields.target_url;
    if (fields.name !== undefined) next.name = fields.name;
    if (fields.secret !== undefined) next.secret = fields.secret ?? generateWebhookSecret(ctx.random);
    if (fields.api_version !== undefined) next.api_version = fields.api_version ?? DEFAULT_API_VERSION;
    if (fields.filter !== undefined) next.filter = fields.filter;
    if (fields.source_id !== undefined) next.source_id = fields.source_id;
    if (fields.status === 'available') {
      next.status = 'available';
      next.disabled_reason = null;
    } else if (fields.status === 'disabled' && before.status !== 'disabled') {
      // Already disabled (say by a 410): keep the recorded reason, clients PUT back what they GET.
      next.status = 'disabled';
      next.disabled_reason = DISABLED_BY_USER;
    }
    const changed = Object.entries(next).filter(([key, value]) => before[key as keyof WebhooksTable] !== value);
    if (changed.length === 0) return before;

    const event = next.event ?? before.event;
    const targetUrl = next.target_url ?? before.target_url;
    const sourceId = next.source_id === undefined ? before.source_id : next.source_id;
    if (next.source_id !== undefined && next.source_id !== before.source_id) await checkSource(trx, next.source_id);
    const pairChanged =
      event.toLowerCase() !== before.event.toLowerCase() || targetUrl.toLowerCase() !== before.target_url.toLowerCase() || sourceId !== before.source_id;
    if (pairChanged && (await targetTaken(trx, event, targetUrl, sourceId, id))) throw duplicateTarget();

    // Only the changed columns are written, so a concurrent last_triggered_* or 410-disable
    // update by the delivery worker is not overwritten; the row is re-read for the answer.
    await trx.updateTable('webhooks').set({...Object.fromEntries(changed), updated_at: ctx.now.toISOString()}).where('id', '=', id).execute();
    return trx.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  });
  return serializeWebhook(row);
}

/** Deletes a webhook (its deliveries go with it), or throws 404 / 403. */
export async function deleteWebhook(ctx: WebhookContext, id: string, actor: WebhookActor): Promise<void> {
  await ctx.database.db.transaction().execute(async (trx) => {
    await ownedWebhook(trx, id, actor, 'delete');
    await trx.deleteFrom('webhooks').where('id', '=', id).execute();
  });
}
