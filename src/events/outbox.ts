/**
 * The outbox writer (SPEC §2, the outbox rule): inside the content change's own transaction,
 * one `events` row per fired event (with its payload, built once) and one `deliveries` row per
 * (event, matching webhook). The worker reads these rows later; nothing here does network I/O.
 *
 * Routes wire it with one line: `const withEvents = eventsFor(deps)`, then
 * `await withEvents((on) => editPost(ctx, type, id, body, {onChange: on.post}))`.
 */
import {sql, type Transaction} from 'kysely';
import type {Database} from '../db/database.ts';
import type {DB, DeliveriesTable, EventsTable} from '../db/schema.ts';
import type {Clock} from '../lib/clock.ts';
import {objectId, type Random} from '../lib/ids.ts';
import {DELIVERY_CHANNEL, type Wake} from '../lib/wake.ts';
import {EVENTS_CHANNEL, IDS_PER_NOTIFY, type EventFeed, type FiredEvent} from '../listen/feed.ts';
import type {OnPostChange} from '../content/posts.ts';
import type {OnTagChange} from '../content/tags.ts';
import type {MemberChangeHook} from '../content/members.ts';
import type {SettingsChangeHook} from '../content/settings.ts';
import {combineEvents, detectMemberEvents, detectPostEvents, detectSettingsEvents, detectTagEvents, type DetectedEvent} from './detect.ts';
import {buildPayloads} from './payload.ts';
import {generationCache, WEBHOOKS_GENERATION, type GenerationCache} from '../db/generation.ts';
import type {HandedOff, Handoff, Reservation, Reserve} from '../delivery/handoff.ts';

/** What the outbox needs from the composition root (a subset of app Deps). */
export interface OutboxDeps {
  readonly database: Database;
  readonly clock: Clock;
  readonly random: Random;
  /** The public site URL, for `url` fields of payloads. */
  readonly siteUrl: () => string;
  /** Wakes this process's delivery worker after a commit that wrote deliveries. */
  readonly wake: Wake;
  /** The live feed of `herald listen` streams; told about events after their commit. */
  readonly feed: EventFeed;
  /**
   * Room at this process's delivery worker (delivery/handoff.ts): deliveries it has room for go
   * in leased to it and start after the commit, without a claim. None: every delivery goes in due.
   */
  readonly handoff?: Handoff;
}

/** What one outbox write inserted. */
export interface OutboxResult {
  /** The events written, in emission order. */
  readonly events: readonly FiredEvent[];
  readonly deliveries: number;
  /** Deliveries inserted leased to this process's worker, to start after the commit (else null). */
  readonly handedOff: {readonly reservation: Reservation; readonly deliveries: readonly HandedOff[]} | null;
}

/** A webhook an event fans out to, with what its attempts need (for a hand-off). */
interface Subscriber {
  readonly id: string;
  readonly event: string;
  readonly target_url: string;
  readonly secret: string | null;
  readonly previous_secrets: string | null;
}

/**
 * The webhooks writes fan out to, by source and event names, kept from one write to the next
 * while the webhooks' generation holds still (SQLite only: migration 0008's triggers change it
 * on every change to a webhook's event, status, source…, from any connection, cascades
 * included). Reading them again for every write cost more than the write's own event row.
 */
export type FanOutCache = GenerationCache<readonly Subscriber[]>;

/** At most 1000 lists (one per source and set of event names written together). */
export function fanOutCache(): FanOutCache {
  return generationCache(1000);
}

/** Event rows per INSERT statement: keeps the bound parameters under SQLite's 32766 and PostgreSQL's 65535. */
const CHUNK_ROWS = 1000;

/** A new delivery of `eventId` to `webhookId`, due at once (`stamp` is an ISO timestamp). */
export function pendingDeliveryRow(id: string, eventId: string, webhookId: string, stamp: string): DeliveriesTable {
  return {
    id,
    event_id: eventId,
    webhook_id: webhookId,
    status: 'pending',
    attempt_count: 0,
    next_attempt_at: stamp,
    lease_owner: null,
    lease_expires_at: null,
    last_attempt_at: null,
    last_status_code: null,
    last_error: null,
    created_at: stamp,
    updated_at: stamp,
  };
}

/**
 * `count` fresh ObjectIds in ascending order, so ordering events (or one webhook's deliveries)
 * by (created_at, id) gives emission order.
 */
export function consecutiveIds(count: number, now: Date, random: Random): string[] {
  // objectId() sorts by creation within a process (its counter increments), so ids drawn in
  // order are ascending: no arithmetic on ids (which could collide with later ones).
  return Array.from({length: count}, () => objectId(now, random));
}

/**
 * Writes `events` (one transaction's, in emission order) into the outbox inside `trx`: the
 * events rows, and a pending delivery for every webhook whose `event` is the event's name,
 * whose status is `available` and that belongs to no relay source. On PostgreSQL it also
 * queues `NOTIFY herald_deliveries` (when it wrote deliveries) and `NOTIFY herald_events` with
 * the event ids, which PostgreSQL sends at commit (never on rollback).
 * `site.changed` is kept at most once, last.
 */
export async function writeOutbox(
  trx: Transaction<DB>,
  dialect: Database['dialect'],
  events: readonly DetectedEvent[],
  context: {readonly now: Date; readonly random: Random; readonly siteUrl: string; readonly cache?: FanOutCache; readonly reserve?: Reserve},
): Promise<OutboxResult> {
  const ordered = combineEvents(events);
  if (ordered.length === 0) return {events: [], deliveries: 0, handedOff: null};
  const stamp = context.now.toISOString();
  const payloads = buildPayloads(ordered, context.siteUrl);
  const eventIds = consecutiveIds(ordered.length, context.now, context.random);
  const eventRows: EventsTable[] = ordered.map((event, i) => ({
    id: eventIds[i]!,
    name: event.name,
    resource_type: event.resourceType,
    resource_id: event.resourceId,
    payload: payloads[i]!,
    source_id: null,
    created_at: stamp,
  }));
  return insertEventsWithDeliveries(trx, dialect, eventRows, null, context);
}

/**
 * The one write behind both outbox entries: `eventRows` (one source: null for Herald's own
 * content, else a relay source), then a delivery for every `available` webhook of that source
 * whose `event` is the event's name, in webhook creation order: leased to this process's
 * worker where `reserve` got room for it, else pending and due. On PostgreSQL it also queues
 * the NOTIFYs that PostgreSQL sends at commit (never on rollback): `herald_events` with the
 * event ids, and `herald_deliveries` when deliveries were written due.
 */
async function insertEventsWithDeliveries(
  trx: Transaction<DB>,
  dialect: Database['dialect'],
  eventRows: readonly EventsTable[],
  sourceId: string | null,
  context: {readonly now: Date; readonly random: Random; readonly cache?: FanOutCache; readonly reserve?: Reserve},
): Promise<OutboxResult> {
  await insertEvents(trx, eventRows);
  if (dialect === 'postgres') {
    for (let start = 0; start < eventRows.length; start += IDS_PER_NOTIFY) {
      const ids = eventRows.slice(start, start + IDS_PER_NOTIFY).map((event) => event.id);
      await sql`select pg_notify(${EVENTS_CHANNEL}, ${ids.join(',')})`.execute(trx);
    }
  }

  const names = [...new Set(eventRows.map((event) => event.name))];
  const webhooks = await subscribedWebhooks(trx, dialect, names, sourceId, context.cache);
  const byEvent = new Map<string, Subscriber[]>();
  for (const webhook of webhooks) {
    const subscribers = byEvent.get(webhook.event);
    if (subscribers) subscribers.push(webhook);
    else byEvent.set(webhook.event, [webhook]);
  }

  const pairs = eventRows.flatMap((event) => (byEvent.get(event.name) ?? []).map((webhook) => ({event, webhook})));
  if (pairs.length === 0) return {events: eventRows, deliveries: 0, handedOff: null};
  const stamp = context.now.toISOString();
  const deliveryIds = consecutiveIds(pairs.length, context.now, context.random);
  // Asked last, right before the insert: the room is held from now until the caller's commit
  // (start) or rollback (cancel).
  const reservation = context.reserve?.(pairs.map((pair) => pair.webhook.id)) ?? null;
  const leased = reservation?.granted ?? [];
  const owner = reservation?.leaseOwner ?? null;
  const until = reservation?.leaseUntil ?? null;
  // One statement of fixed text for any fan-out: the rows go in as one JSON array (SQLite) or
  // arrays (PostgreSQL), so the statement is parsed and planned alike every time. A VALUES
  // list of 100 rows cost more to build, compile and plan than to insert. The rows are
  // pendingDeliveryRow's, in the same order; a leased row is due when its lease runs out (as a
  // claim leaves it).
  try {
    if (dialect === 'sqlite') {
      const rows = JSON.stringify(pairs.map((pair, i) => [deliveryIds[i], pair.event.id, pair.webhook.id, leased[i] ? 1 : 0]));
      // Unfiled: delivery/filing.ts enters them in the per-webhook index later, in batches.
      await sql`insert into deliveries (id, event_id, webhook_id, status, attempt_count, next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at, filed)
        select value ->> 0, value ->> 1, value ->> 2, 'pending', 0, iif(value ->> 3, ${until}, ${stamp}), iif(value ->> 3, ${owner}, null),
          iif(value ->> 3, ${until}, null), ${stamp}, ${stamp}, 0 from json_each(${rows}) order by key`.execute(trx);
    } else {
      const eventIds = pairs.map((pair) => pair.event.id);
      const webhookIds = pairs.map((pair) => pair.webhook.id);
      const flags = pairs.map((_, i) => leased[i] === true);
      await sql`insert into deliveries (id, event_id, webhook_id, status, attempt_count, next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at)
        select t.id, t.event_id, t.webhook_id, 'pending', 0, case when t.leased then ${until}::text else ${stamp}::text end,
          case when t.leased then ${owner}::text end, case when t.leased then ${until}::text end, ${stamp}, ${stamp}
        from unnest(${deliveryIds}::text[], ${eventIds}::text[], ${webhookIds}::text[], ${flags}::boolean[]) as t(id, event_id, webhook_id, leased)`.execute(trx);
      if (flags.includes(false)) await sql`select pg_notify(${DELIVERY_CHANNEL}, '')`.execute(trx);
    }
  } catch (error) {
    // The room was held for rows that were never written: give it back.
    reservation?.cancel();
    throw error;
  }
  if (!reservation) return {events: eventRows, deliveries: pairs.length, handedOff: null};
  const handed: HandedOff[] = [];
  pairs.forEach(({event, webhook}, i) => {
    if (leased[i]) handed.push({deliveryId: deliveryIds[i]!, event, webhook});
  });
  return {events: eventRows, deliveries: pairs.length, handedOff: {reservation, deliveries: handed}};
}

/** The available webhooks of `sourceId` on any of `names`, in creation order: from `cache` while current. */
async function subscribedWebhooks(
  trx: Transaction<DB>,
  dialect: Database['dialect'],
  names: readonly string[],
  sourceId: string | null,
  cache: FanOutCache | undefined,
): Promise<readonly Subscriber[]> {
  const read = () =>
    trx
      .selectFrom('webhooks')
      .select(['id', 'event', 'target_url', 'secret', 'previous_secrets'])
      .where('event', 'in', names)
      .where('status', '=', 'available')
      .where('source_id', sourceId === null ? 'is' : '=', sourceId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  if (!cache || dialect !== 'sqlite') return read();
  // Read in this transaction, which holds SQLite's write lock: no webhook changes before its commit.
  const lists = cache.at((await sql<{value: number}>`${sql.raw(WEBHOOKS_GENERATION)}`.execute(trx)).rows[0]?.value ?? null);
  const key = `${sourceId ?? ''}\n${[...names].sort().join(',')}`;
  let webhooks = lists.get(key);
  if (!webhooks) {
    webhooks = await read();
    lists.set(key, webhooks);
  }
  return webhooks;
}

/**
 * After the commit of an outbox write (never before: nobody may see a signal for rows it
 * cannot read yet): wakes this process's worker when deliveries were written due
 * (`deliveries`: those not handed off, which started without a claim), and hands the events to
 * this process's listen feed.
 */
export function announceCommitted(deps: Pick<OutboxDeps, 'wake' | 'feed'>, written: {readonly events: readonly FiredEvent[]; readonly deliveries: number}): void {
  if (written.deliveries > 0) deps.wake.notify();
  if (written.events.length > 0) deps.feed.committed(written.events);
}

/**
 * Writes one relayed event (SPEC §13) inside `trx`: the events row with `source_id` set and the
 * upstream body as its payload, byte for byte, and a pending delivery for every `available`
 * webhook subscribed to that source and event (leased to this process's worker where `reserve`
 * got room: see writeOutbox). Notifies on PostgreSQL as writeOutbox does. After its commit the
 * caller starts what was handed off and calls announceCommitted; after a rollback it cancels
 * the reservation.
 */
export async function writeRelayedEvent(
  trx: Transaction<DB>,
  dialect: Database['dialect'],
  event: {
    readonly name: string;
    readonly payload: string;
    readonly sourceId: string;
    readonly resourceType?: string | null;
    readonly resourceId?: string | null;
  },
  context: {readonly now: Date; readonly random: Random; readonly reserve?: Reserve},
): Promise<{readonly event: FiredEvent; readonly deliveries: number; readonly handedOff: OutboxResult['handedOff']}> {
  const row: EventsTable = {
    id: objectId(context.now, context.random),
    name: event.name,
    resource_type: event.resourceType ?? null,
    resource_id: event.resourceId ?? null,
    payload: event.payload,
    source_id: event.sourceId,
    created_at: context.now.toISOString(),
  };
  const written = await insertEventsWithDeliveries(trx, dialect, [row], event.sourceId, context);
  return {event: row, deliveries: written.deliveries, handedOff: written.handedOff};
}

/** The events rows: one statement for any ordinary change; a huge batch is split. (The deliveries go in as arrays, see insertEventsWithDeliveries.) */
async function insertEvents(trx: Transaction<DB>, rows: readonly EventsTable[]): Promise<void> {
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    await trx.insertInto('events').values(rows.slice(start, start + CHUNK_ROWS)).execute();
  }
}

/** The onChange hooks a content write takes; each writes that write's events into its transaction. */
export interface EventHooks {
  readonly post: OnPostChange;
  readonly tag: OnTagChange;
  readonly member: MemberChangeHook;
  readonly settings: SettingsChangeHook;
}

/**
 * Runs one content write with its events: `write` receives the hooks to pass as `onChange`;
 * once it has resolved (its transaction committed), the in-process worker is woken (if it wrote
 * deliveries) and the listen feed is told. A write that throws (rolled back) wakes nobody and
 * left no events.
 */
export type WithEvents = <T>(write: (on: EventHooks) => Promise<T>) => Promise<T>;

/** Makes the WithEvents of a composition root (one per route module is fine). */
export function eventsFor(deps: OutboxDeps): WithEvents {
  const cache = fanOutCache();
  const reserve = deps.handoff?.reserve;
  return async (write) => {
    /** The transaction the hooks last wrote in: a write that runs again (a slug race) starts a new one. */
    let current: Transaction<DB> | null = null;
    let due = 0;
    const fired: FiredEvent[] = [];
    const handedOff: NonNullable<OutboxResult['handedOff']>[] = [];
    const record = async (trx: Transaction<DB>, events: readonly DetectedEvent[]): Promise<void> => {
      if (trx !== current) {
        // A new transaction means the one before rolled back: nothing it wrote counts.
        for (const {reservation} of handedOff.splice(0)) reservation.cancel();
        fired.length = 0;
        due = 0;
        current = trx;
      }
      const result = await writeOutbox(trx, deps.database.dialect, events, {now: deps.clock.now(), random: deps.random, siteUrl: deps.siteUrl(), cache, reserve});
      due += result.deliveries - (result.handedOff?.deliveries.length ?? 0);
      fired.push(...result.events);
      if (result.handedOff) handedOff.push(result.handedOff);
    };
    const hooks: EventHooks = {
      post: (trx, change) => record(trx, detectPostEvents(change)),
      tag: (trx, change) => record(trx, detectTagEvents(change)),
      member: (trx, change) => record(trx, detectMemberEvents(change)),
      settings: (trx, change) => record(trx, detectSettingsEvents(change)),
    };
    let result: Awaited<ReturnType<typeof write>>;
    try {
      result = await write(hooks);
    } catch (error) {
      for (const {reservation} of handedOff) reservation.cancel();
      throw error;
    }
    for (const {reservation, deliveries} of handedOff) reservation.start(deliveries);
    announceCommitted(deps, {events: fired, deliveries: due});
    if (due > 0) {
      // Let the in-process worker claim and send them before this request goes on to build
      // its response: the event reaches its receivers ~1 ms sooner, the response waits only
      // for the claim.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return result;
  };
}
