/**
 * The ingest of a Ghost delivery (SPEC §13): pure checks of what Ghost sent (signature,
 * timestamp, event name), then one transaction that drops an exact repeat or commits the event
 * and its onward deliveries. Only after that commit may the route answer 2xx: Ghost makes a
 * single attempt, so its acknowledgement must mean "durable".
 */
import {createHash, timingSafeEqual} from 'node:crypto';
import type {Database} from '../db/database.ts';
import {writeRelayedEvent, type OutboxResult} from '../events/outbox.ts';
import type {Reserve} from '../delivery/handoff.ts';
import {isEventName, resourceOf, type EventName} from '../events/names.ts';
import {ghostSignature} from '../delivery/signing.ts';
import type {FiredEvent} from '../listen/feed.ts';
import type {Random} from '../lib/ids.ts';

/** How far Ghost's `t` may be from now, either way: 5 minutes. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;
/** How long an accepted signature is remembered to drop an exact repeat: 24 hours. */
export const REPEAT_WINDOW_MS = 24 * 3_600_000;

/** The verdict on an X-Ghost-Signature header. */
export type SignatureCheck =
  | {readonly kind: 'valid'; readonly tMs: number}
  | {readonly kind: 'missing'}
  | {readonly kind: 'malformed'}
  | {readonly kind: 'mismatch'}
  | {readonly kind: 'stale'; readonly tMs: number};

/** Ghost's format: `sha256=<64 lowercase hex>, t=<ms>` (whitespace around the comma tolerated; t a safe integer). */
const SIGNATURE = /^\s*sha256=([0-9a-fA-F]{64})\s*,\s*t=(\d{1,15})\s*$/;

/**
 * Checks `header` (X-Ghost-Signature) against the exact body text and `secret` (as Ghost signs:
 * HMAC-SHA256 of body + t with the secret's UTF-8 bytes), in constant time, and that `t`
 * (milliseconds) lies within `toleranceMs` of `nowMs`. The signature is checked first, so a
 * forged request learns nothing about the clock.
 */
export function checkGhostSignature(body: string, header: string | undefined, secret: string, nowMs: number, toleranceMs = SIGNATURE_TOLERANCE_MS): SignatureCheck {
  if (header === undefined || header.trim() === '') return {kind: 'missing'};
  const match = SIGNATURE.exec(header);
  if (!match) return {kind: 'malformed'};
  const tMs = Number(match[2]);
  const expected = Buffer.from(ghostSignature(body, secret, tMs).slice('sha256='.length, 'sha256='.length + 64), 'hex');
  const given = Buffer.from(match[1]!.toLowerCase(), 'hex');
  if (!timingSafeEqual(expected, given)) return {kind: 'mismatch'};
  if (Math.abs(nowMs - tMs) > toleranceMs) return {kind: 'stale', tMs};
  return {kind: 'valid', tMs};
}

/** The event a delivery carries, or why none could be read. */
export type EventOfBody =
  | {readonly kind: 'event'; readonly name: EventName; readonly resourceType: string | null; readonly resourceId: string | null}
  | {readonly kind: 'invalid-json'}
  | {readonly kind: 'unknown-event'; readonly given: string | null};

/**
 * The event name of a Ghost body: its top-level `event` key (Ghost 6) or else the path segment
 * (Ghost 5 bodies have none); it must be one of the 29. The resource id (for the events log)
 * is read from `<resource>.current.id` or `.previous.id` when it looks like an ObjectId.
 */
export function eventOfBody(body: string, pathEvent: string | undefined): EventOfBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return {kind: 'invalid-json'};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {kind: 'invalid-json'};
  const object = parsed as Record<string, unknown>;
  const given = typeof object.event === 'string' ? object.event : pathEvent ?? null;
  if (!isEventName(given)) return {kind: 'unknown-event', given: given ?? (object.event === undefined ? null : String(object.event))};
  const resource = resourceOf(given);
  let resourceId: string | null = null;
  if (resource !== null) {
    const part = object[resource] as {current?: {id?: unknown}; previous?: {id?: unknown}} | undefined;
    const id = part?.current?.id ?? part?.previous?.id;
    if (typeof id === 'string' && /^[0-9a-f]{24}$/.test(id)) resourceId = id;
  }
  return {kind: 'event', name: given, resourceType: resource, resourceId};
}

/** What one ingest wrote. */
export type IngestResult =
  | {readonly kind: 'accepted'; readonly event: FiredEvent; readonly deliveries: number; readonly handedOff: OutboxResult['handedOff']}
  | {readonly kind: 'repeat'};

/**
 * Records one verified Ghost delivery in ONE transaction: remembers its signature (an exact
 * repeat within 24 h writes nothing else and reports `repeat`), then the events row (the body
 * byte for byte, `source_id` set) and one pending delivery per available webhook subscribed to
 * the source and event. Receipts older than 24 h are pruned on the way.
 * No network I/O happens here. Deliveries `reserve` gets room for go in leased to this
 * process's worker: the caller starts them after this resolves (and wakes the worker for the
 * rest); if the transaction fails, the reservation is cancelled here.
 */
export async function recordIngest(
  database: Database,
  input: {readonly sourceId: string; readonly signature: string; readonly body: string; readonly event: Extract<EventOfBody, {kind: 'event'}>},
  context: {readonly now: Date; readonly random: Random; readonly reserve?: Reserve},
): Promise<IngestResult> {
  const signatureHash = createHash('sha256').update(input.signature.trim(), 'utf8').digest('hex');
  const stamp = context.now.toISOString();
  const cutoff = new Date(context.now.getTime() - REPEAT_WINDOW_MS).toISOString();
  // Set inside the transaction; cancelled here if the transaction does not commit.
  let handedOff = null as OutboxResult['handedOff'];
  try {
    return await database.db.transaction().execute(async (trx) => {
      // Old receipts go first, so a remembered signature is always one seen within the window.
      await trx.deleteFrom('source_receipts').where('received_at', '<', cutoff).execute();
      // ON CONFLICT DO NOTHING on both engines: a concurrent twin waits on the key and then
      // inserts nothing, so exactly one of two simultaneous repeats is accepted.
      const inserted = await trx
        .insertInto('source_receipts')
        .values({source_id: input.sourceId, signature_hash: signatureHash, received_at: stamp})
        .onConflict((oc) => oc.columns(['source_id', 'signature_hash']).doNothing())
        .returning('source_id')
        .executeTakeFirst();
      if (!inserted) return {kind: 'repeat'} as const;
      const written = await writeRelayedEvent(
        trx,
        database.dialect,
        {name: input.event.name, payload: input.body, sourceId: input.sourceId, resourceType: input.event.resourceType, resourceId: input.event.resourceId},
        context,
      );
      handedOff = written.handedOff;
      return {kind: 'accepted', event: written.event, deliveries: written.deliveries, handedOff} as const;
    });
  } catch (error) {
    handedOff?.reservation.cancel();
    throw error;
  }
}
