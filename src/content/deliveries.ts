/**
 * The delivery log and its operations (SPEC §3.1): list a webhook's deliveries, read one with
 * its payload and attempts, retry one, recover a window of failed ones, send a test delivery,
 * rotate a webhook's secret, list fired events. No HTTP here; routes are admin-api/deliveries.ts.
 *
 * Ownership follows webhooks: an integration sees and acts on the deliveries of its own
 * webhooks only (403 otherwise); staff on all. Events are site-wide (a post published is
 * published for everyone), so every caller may list them.
 *
 * Retry semantics (deliveries.next_trigger, migration 0004):
 * - POST /deliveries/:id/retry/ makes one more attempt now whatever the state. The attempt is
 *   recorded with trigger `manual`. Of a finished delivery (succeeded or failed) it is exactly
 *   one attempt (`manual_once`): if it fails the delivery is `failed` again. Of a pending one
 *   (`manual`) it is the next attempt of the running schedule, which goes on if it fails.
 *   A lease held by a worker is cleared, so an attempt in flight may be recorded beside it.
 * - POST /webhooks/:id/recover/ re-queues failed deliveries with a renewed attempt budget:
 *   attempt_count starts again at 0 (the log keeps every earlier attempt), so the whole retry
 *   schedule applies again; the first new attempt is recorded as `manual`.
 */
import {sql} from 'kysely';
import type {Database, Queryable} from '../db/database.ts';
import type {FilterSpec} from '../db/filter.ts';
import type {DeliveriesTable, DeliveryStatus, EventsTable, PostsTable, RolesTable, TagsTable, UsersTable, WebhooksTable} from '../db/schema.ts';
import type {PreviousSecret} from '../delivery/signing.ts';
import {fileAll} from '../delivery/filing.ts';
import type {DetectedEvent, ResourceState} from '../events/detect.ts';
import {isEventName, resourceOf, type EventName} from '../events/names.ts';
import {buildPayload} from '../events/payload.ts';
import {pendingDeliveryRow} from '../events/outbox.ts';
import {HeraldError, notFound, validationError} from '../lib/errors.ts';
import {objectId, type Random} from '../lib/ids.ts';
import {browsePage, type BrowseQuery, type BrowseSpec, type Pagination} from './browse.ts';
import type {Input} from './input.ts';
import type {MemberOutput} from './members.ts';
import {emptyPost} from './posts.ts';
import {generateWebhookSecret, serializeWebhook, type WebhookActor, type WebhookOutput} from './webhooks.ts';

/** What delivery operations need from the outside world. */
export interface DeliveryContext {
  readonly database: Database;
  readonly now: Date;
  readonly random: Random;
  /** The public site URL without trailing slash (for sample payloads). */
  readonly siteUrl: string;
}

/** A delivery as listed. */
export interface DeliveryOutput {
  id: string;
  webhook_id: string;
  event_id: string;
  event: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  created_at: string;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
}

/** One attempt, as read with its delivery. */
export interface AttemptOutput {
  id: string;
  started_at: string;
  duration_ms: number;
  trigger: string;
  request: {url: string; headers: Record<string, string>};
  response: {status: number; headers: Record<string, string>; body: string | null} | null;
  error: string | null;
}

/** A delivery as read singly: the list fields, the exact body sent and every attempt, oldest first. */
export interface DeliveryDetail extends DeliveryOutput {
  payload: string;
  attempts: AttemptOutput[];
}

/** A fired event as listed. */
export interface EventOutput {
  id: string;
  name: string;
  resource_type: string | null;
  resource_id: string | null;
  created_at: string;
}

/** How long a rotated-out secret keeps signing. */
export const PREVIOUS_SECRET_TTL_MS = 24 * 60 * 60 * 1000;

/** Filterable and sortable delivery fields (`event` is the event's name, from the joined events row). */
export const DELIVERY_BROWSE: BrowseSpec = {
  filter: {
    fields: {
      id: {column: 'deliveries.id', kind: 'string'},
      status: {column: 'deliveries.status', kind: 'string'},
      event: {column: 'events.name', kind: 'string'},
      event_id: {column: 'deliveries.event_id', kind: 'string'},
      attempt_count: {column: 'deliveries.attempt_count', kind: 'number'},
      created_at: {column: 'deliveries.created_at', kind: 'date'},
      last_attempt_at: {column: 'deliveries.last_attempt_at', kind: 'date'},
      next_attempt_at: {column: 'deliveries.next_attempt_at', kind: 'date'},
    },
  } satisfies FilterSpec,
  orderable: {
    created_at: 'deliveries.created_at',
    last_attempt_at: 'deliveries.last_attempt_at',
    next_attempt_at: 'deliveries.next_attempt_at',
    status: 'deliveries.status',
    id: 'deliveries.id',
  },
  defaultOrder: 'created_at desc',
  idColumn: 'deliveries.id',
};

/** Filterable and sortable event fields. */
export const EVENT_BROWSE: BrowseSpec = {
  filter: {
    fields: {
      id: {column: 'events.id', kind: 'string'},
      name: {column: 'events.name', kind: 'string'},
      resource_type: {column: 'events.resource_type', kind: 'string'},
      resource_id: {column: 'events.resource_id', kind: 'string'},
      created_at: {column: 'events.created_at', kind: 'date'},
    },
  } satisfies FilterSpec,
  orderable: {created_at: 'events.created_at', name: 'events.name', id: 'events.id'},
  defaultOrder: 'created_at desc',
  idColumn: 'events.id',
};

type DeliveryRow = DeliveriesTable & {event: string};

/** Turns a deliveries row (joined with its event's name) into the list shape. */
export function serializeDelivery(row: DeliveryRow): DeliveryOutput {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    event_id: row.event_id,
    event: row.event,
    status: row.status,
    attempt_count: Number(row.attempt_count),
    next_attempt_at: row.next_attempt_at,
    created_at: row.created_at,
    last_attempt_at: row.last_attempt_at,
    last_status_code: row.last_status_code === null ? null : Number(row.last_status_code),
    last_error: row.last_error,
  };
}

function notYours(action: string, resource: 'webhook' | 'delivery'): HeraldError {
  return new HeraldError('NoPermission', {
    message: `You do not have permission to ${action} this ${resource}.`,
    context: `You may only ${action} ${resource === 'webhook' ? 'webhooks' : 'deliveries of webhooks'} that belong to the authenticated integration. Check the supplied Admin API Key.`,
  });
}

/** Loads a webhook the actor may act on, or throws 404 / 403. */
async function ownedWebhook(q: Queryable, id: string, actor: WebhookActor, action: string): Promise<WebhooksTable> {
  const row = await q.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('webhook', action);
  if (actor.kind === 'integration' && row.integration_id !== actor.integrationId) throw notYours(action, 'webhook');
  return row;
}

/** A select of deliveries with their event's name (and payload). */
function deliveriesQuery(q: Queryable) {
  return q.selectFrom('deliveries').innerJoin('events', 'events.id', 'deliveries.event_id').selectAll('deliveries').select(['events.name as event']);
}

/** Loads a delivery the actor may act on (with its event name and payload), or throws 404 / 403. */
async function ownedDelivery(q: Queryable, id: string, actor: WebhookActor, action: string): Promise<DeliveryRow & {payload: string}> {
  const row = await deliveriesQuery(q)
    .innerJoin('webhooks', 'webhooks.id', 'deliveries.webhook_id')
    .select(['events.payload as payload', 'webhooks.integration_id as integration_id'])
    .where('deliveries.id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('delivery', action);
  if (actor.kind === 'integration' && row.integration_id !== actor.integrationId) throw notYours(action, 'delivery');
  return row as DeliveryRow & {payload: string};
}

async function reloadDelivery(q: Queryable, id: string): Promise<DeliveryOutput> {
  return serializeDelivery((await deliveriesQuery(q).where('deliveries.id', '=', id).executeTakeFirstOrThrow()) as DeliveryRow);
}

/** The delivery log of one webhook, newest first by default. */
export async function browseDeliveries(ctx: DeliveryContext, webhookId: string, query: BrowseQuery, actor: WebhookActor): Promise<{deliveries: DeliveryOutput[]; pagination: Pagination}> {
  await ownedWebhook(ctx.database.db, webhookId, actor, 'read');
  await fileAll(ctx.database.db);
  const {rows, pagination} = await browsePage<DeliveryRow>(
    deliveriesQuery(ctx.database.db),
    query,
    DELIVERY_BROWSE,
    ctx.database.dialect,
    ctx.now,
    // The always-true range on created_at makes the webhook's own index (webhook_id, created_at)
    // the obvious plan for SQLite, which has no statistics: with a status filter it counted the
    // page's total by walking deliveries_claim over that status for every webhook instead. The
    // index holds filed rows only (literally `filed = 1`, or the planner cannot use it), and
    // everything was filed just above.
    sql<boolean>`deliveries.webhook_id = ${webhookId} and deliveries.created_at > '' and deliveries.filed = 1`,
  );
  return {deliveries: rows.map(serializeDelivery), pagination};
}

function parseHeaders(text: string | null): Record<string, string> {
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** One delivery with the exact body sent and every attempt, oldest first. */
export async function readDelivery(ctx: DeliveryContext, id: string, actor: WebhookActor): Promise<DeliveryDetail> {
  const db = ctx.database.db;
  const row = await ownedDelivery(db, id, actor, 'read');
  const attempts = await db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', id).orderBy('started_at', 'asc').orderBy('id', 'asc').execute();
  return {
    ...serializeDelivery(row),
    payload: row.payload,
    attempts: attempts.map((a) => ({
      id: a.id,
      started_at: a.started_at,
      duration_ms: Number(a.duration_ms),
      trigger: a.trigger,
      request: {url: a.request_url, headers: parseHeaders(a.request_headers)},
      response: a.response_status === null ? null : {status: Number(a.response_status), headers: parseHeaders(a.response_headers), body: a.response_body},
      error: a.error,
    })),
  };
}

/**
 * Queues one more attempt of a delivery now, whatever its state (see the module comment).
 * The caller wakes the worker after this returns.
 */
export async function retryDelivery(ctx: DeliveryContext, id: string, actor: WebhookActor): Promise<DeliveryOutput> {
  return ctx.database.db.transaction().execute(async (trx) => {
    const row = await ownedDelivery(trx, id, actor, 'retry');
    const stamp = ctx.now.toISOString();
    await trx
      .updateTable('deliveries')
      .set({
        status: 'pending',
        next_attempt_at: stamp,
        lease_owner: null,
        lease_expires_at: null,
        next_trigger: row.status === 'pending' ? 'manual' : 'manual_once',
        updated_at: stamp,
      })
      .where('id', '=', id)
      .execute();
    return reloadDelivery(trx, id);
  });
}

/** An ISO-8601 instant from a body property, or a 422 naming it. */
function readInstant(input: Input, key: string, required: boolean): Date | null {
  const value = input[key];
  if (value === undefined || value === null || value === '') {
    if (required) throw validationError(key, `${key} is required: an ISO-8601 date, e.g. 2026-01-31T00:00:00Z.`);
    return null;
  }
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim()) ? Date.parse(value.trim()) : Number.NaN;
  if (Number.isNaN(ms)) throw validationError(key, `${key} must be an ISO-8601 date, e.g. 2026-01-31T00:00:00Z.`);
  return new Date(ms);
}

/**
 * Re-queues every failed delivery of a webhook created in [since, until] (until defaults to
 * now) with a renewed attempt budget; returns how many.
 */
export async function recoverDeliveries(ctx: DeliveryContext, webhookId: string, body: unknown, actor: WebhookActor): Promise<number> {
  const input: Input = body && typeof body === 'object' && !Array.isArray(body) ? (body as Input) : {};
  const since = readInstant(input, 'since', true)!;
  const until = readInstant(input, 'until', false) ?? ctx.now;
  if (until < since) throw validationError('until', 'until must not be before since.');
  return ctx.database.db.transaction().execute(async (trx) => {
    await ownedWebhook(trx, webhookId, actor, 'edit');
    await fileAll(trx);
    const stamp = ctx.now.toISOString();
    const updated = await trx
      .updateTable('deliveries')
      .set({status: 'pending', attempt_count: 0, next_attempt_at: stamp, lease_owner: null, lease_expires_at: null, next_trigger: 'manual', updated_at: stamp})
      .where('webhook_id', '=', webhookId)
      .where(sql<boolean>`filed = 1`)
      .where('status', '=', 'failed')
      .where('created_at', '>=', since.toISOString())
      .where('created_at', '<=', until.toISOString())
      .executeTakeFirst();
    return Number(updated.numUpdatedRows);
  });
}

/**
 * Writes one sample event of the webhook's own event (an event row whose payload is built by
 * events/payload.ts from sample data shaped like Ghost's fixtures) and one delivery for this
 * webhook only. The caller wakes the worker.
 */
export async function testDelivery(ctx: DeliveryContext, webhookId: string, actor: WebhookActor): Promise<DeliveryOutput> {
  return ctx.database.db.transaction().execute(async (trx) => {
    const webhook = await ownedWebhook(trx, webhookId, actor, 'edit');
    if (!isEventName(webhook.event)) throw new HeraldError('Validation', {message: 'Validation error, cannot test webhook.', context: `'${webhook.event}' is not a webhook event.`, property: 'event'});
    const detected = sampleEvent(webhook.event, ctx.now, ctx.random);
    const stamp = ctx.now.toISOString();
    const event: EventsTable = {
      id: objectId(ctx.now, ctx.random),
      name: detected.name,
      resource_type: detected.resourceType,
      resource_id: detected.resourceId,
      payload: buildPayload(detected, ctx.siteUrl),
      source_id: null,
      created_at: stamp,
    };
    await trx.insertInto('events').values(event).execute();
    const id = objectId(ctx.now, ctx.random);
    await trx
      .insertInto('deliveries')
      .values(pendingDeliveryRow(id, event.id, webhook.id, stamp))
      .execute();
    return reloadDelivery(trx, id);
  });
}

/**
 * Gives a webhook a new `whsec_` secret. The old one joins previous_secrets and keeps signing
 * (webhook-signature) for 24 h; expired entries are dropped.
 */
export async function rotateSecret(ctx: DeliveryContext, webhookId: string, actor: WebhookActor): Promise<WebhookOutput> {
  const row = await ctx.database.db.transaction().execute(async (trx) => {
    const before = await ownedWebhook(trx, webhookId, actor, 'edit');
    let previous: PreviousSecret[] = [];
    try {
      const parsed = before.previous_secrets ? (JSON.parse(before.previous_secrets) as unknown) : [];
      if (Array.isArray(parsed)) previous = parsed.filter((e): e is PreviousSecret => !!e && typeof e.secret === 'string' && typeof e.expires_at === 'string');
    } catch {
      previous = [];
    }
    const nowMs = ctx.now.getTime();
    previous = previous.filter((e) => Date.parse(e.expires_at) > nowMs);
    if (before.secret) previous.push({secret: before.secret, expires_at: new Date(nowMs + PREVIOUS_SECRET_TTL_MS).toISOString()});
    await trx
      .updateTable('webhooks')
      .set({secret: generateWebhookSecret(ctx.random), previous_secrets: previous.length > 0 ? JSON.stringify(previous) : null, updated_at: ctx.now.toISOString()})
      .where('id', '=', webhookId)
      .execute();
    return trx.selectFrom('webhooks').selectAll().where('id', '=', webhookId).executeTakeFirstOrThrow();
  });
  return serializeWebhook(row);
}

/** The fired events, newest first by default. Events are site-wide: every caller sees all. */
export async function browseEvents(ctx: DeliveryContext, query: BrowseQuery): Promise<{events: EventOutput[]; pagination: Pagination}> {
  const base = ctx.database.db.selectFrom('events').select(['events.id', 'events.name', 'events.resource_type', 'events.resource_id', 'events.created_at']);
  const {rows, pagination} = await browsePage<EventOutput>(base, query, EVENT_BROWSE, ctx.database.dialect, ctx.now);
  return {events: rows.map((r) => ({id: r.id, name: r.name, resource_type: r.resource_type, resource_id: r.resource_id, created_at: r.created_at})), pagination};
}

// ---- sample data for test deliveries ---------------------------------------------------

/** A sample event of `name`, with resources shaped like Ghost's fixtures (ghost-fixtures/payloads). */
export function sampleEvent(name: EventName, now: Date, random: Random): DetectedEvent {
  const resource = resourceOf(name);
  if (resource === null) return {name, resourceType: null, resourceId: null, current: null, previous: null, previousKeys: []};
  const stamp = now.toISOString();
  const id = objectId(now, random);
  let state: ResourceState;
  let before: ResourceState;
  if (resource === 'tag') {
    const row = sampleTag(id, stamp);
    state = {kind: 'tag', row};
    before = {kind: 'tag', row: {...row, name: 'Getting Started (old)', updated_at: stamp}};
  } else if (resource === 'member') {
    const member = sampleMember(id, stamp, random);
    state = {kind: 'member', member};
    before = {kind: 'member', member: {...member, name: 'Jamie Example (old)'}};
  } else {
    const row = samplePost(id, resource, name, stamp, random);
    const snapshot = {row, tags: [sampleTag(objectId(now, random), stamp)], authors: [sampleAuthor(objectId(now, random), objectId(now, random), stamp)]};
    state = {kind: 'post', snapshot};
    before = {kind: 'post', snapshot: {...snapshot, row: {...row, title: `${row.title} (old)`}}};
  }
  if (name.endsWith('.deleted')) return {name, resourceType: resource, resourceId: id, current: null, previous: before, previousKeys: 'all'};
  if (name.endsWith('.added')) return {name, resourceType: resource, resourceId: id, current: state, previous: null, previousKeys: []};
  const previousKeys = resource === 'member' ? ['name'] : resource === 'tag' ? ['name', 'updated_at'] : ['title', 'updated_at'];
  return {name, resourceType: resource, resourceId: id, current: state, previous: before, previousKeys};
}

function sampleTag(id: string, stamp: string): TagsTable {
  return {
    id,
    name: 'Getting Started',
    slug: 'getting-started',
    description: 'Sample tag sent by a Herald test delivery.',
    feature_image: null,
    visibility: 'public',
    og_image: null,
    og_title: null,
    og_description: null,
    twitter_image: null,
    twitter_title: null,
    twitter_description: null,
    meta_title: null,
    meta_description: null,
    codeinjection_head: null,
    codeinjection_foot: null,
    canonical_url: null,
    accent_color: null,
    created_at: stamp,
    updated_at: stamp,
  };
}

function samplePost(id: string, type: 'post' | 'page', name: EventName, stamp: string, random: Random): PostsTable {
  const status = /scheduled|rescheduled/.test(name) && !name.includes('unscheduled') ? 'scheduled' : /published|unpublished/.test(name) && !name.includes('unpublished') ? 'published' : 'draft';
  const uuid = random.bytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
  return {
    ...emptyPost(),
    id,
    uuid,
    type,
    title: 'Welcome to Herald',
    slug: 'welcome-to-herald',
    html: '<p>This is a sample delivery sent by Herald to test your webhook.</p>',
    plaintext: 'This is a sample delivery sent by Herald to test your webhook.',
    status,
    published_at: status === 'draft' ? null : stamp,
    created_at: stamp,
    updated_at: stamp,
  };
}

function sampleAuthor(userId: string, roleId: string, stamp: string): {user: UsersTable; role: RolesTable} {
  return {
    user: {
      id: userId,
      name: 'Sample Author',
      slug: 'sample-author',
      email: 'author@example.com',
      password: null,
      status: 'active',
      role_id: roleId,
      profile_image: null,
      cover_image: null,
      bio: null,
      website: null,
      location: null,
      facebook: null,
      twitter: null,
      meta_title: null,
      meta_description: null,
      last_seen: null,
      created_at: stamp,
      updated_at: stamp,
    },
    role: {id: roleId, name: 'Administrator', description: 'Administrators', created_at: stamp, updated_at: stamp},
  };
}

function sampleMember(id: string, stamp: string, random: Random): MemberOutput {
  const uuid = random.bytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
  return {
    id,
    uuid,
    email: 'jamie@example.com',
    name: 'Jamie Example',
    note: null,
    geolocation: null,
    subscribed: true,
    created_at: stamp,
    updated_at: stamp,
    labels: [],
    subscriptions: [],
    avatar_image: null,
    comped: false,
    email_count: 0,
    email_opened_count: 0,
    email_open_rate: null,
    status: 'free',
    last_seen_at: null,
    tiers: [],
    newsletters: [],
  };
}
