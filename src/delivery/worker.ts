/**
 * The delivery worker: claims due deliveries with a lease, sends them in parallel, and records
 * every attempt. Three separate steps, never one transaction around the network:
 *
 *   claim (read due rows, UPDATE … RETURNING a lease)  →  send (no transaction)  →  record (one short transaction)
 *
 * Claiming and recording run on this thread (on SQLite through worker-sqlite.ts); signing and
 * sending run on a sender thread by default (dispatcher.ts), so the two halves use two cores.
 * An attempt's slot is free once its answer is in; its record is written a moment later with
 * the others that finished meanwhile, while the lease still keeps the delivery to this worker.
 *
 * Any number of workers, in any number of processes, can share one database: a claim takes a
 * lease (on PostgreSQL with FOR UPDATE SKIP LOCKED, so concurrent claims pass each other by),
 * and an attempt whose worker died is retried once its lease has run out. Concurrency is
 * bounded per process and per webhook, so one slow endpoint never holds up the others; a
 * retry is a row with a later next_attempt_at, never a sleeping task. A content write in this
 * process hands its deliveries over when the worker has room (handoff.ts): they are inserted
 * leased to it and start after the commit, with no claim. The worker sleeps until it is woken
 * (in-process after a commit that left deliveries due, by LISTEN/NOTIFY on PostgreSQL, or when
 * one of its own attempts finishes while rows may be waiting), until the next scheduled retry
 * is due, or until the slow safety-net poll; it never busy-loops.
 */
import os from 'node:os';
import {sql} from 'kysely';
import type {Logger} from 'pino';
import type {Config} from '../config.ts';
import type {Database, Queryable} from '../db/database.ts';
import type {DeliveryAttemptsTable} from '../db/schema.ts';
import type {Clock} from '../lib/clock.ts';
import {objectId, type Random} from '../lib/ids.ts';
import {DELIVERY_CHANNEL, type Wake} from '../lib/wake.ts';
import {attemptError, classify, lastTriggeredError, lastTriggeredStatus, type HttpResult, type Outcome} from './outcome.ts';
import {listenOnChannels, type ChannelListener} from './pg-listen.ts';
import {attemptHeaders, redactUrl} from './request.ts';
import {nextDelay} from './retry-policy.ts';
import {createSender, type Sender, type SenderOptions} from './sender.ts';
import {inProcessDispatcher, threadDispatcher, type Dispatched, type Dispatcher} from './dispatcher.ts';
import {createGuardedLookup, literalTargetProblem} from './ssrf.ts';
import type {AttemptOutcomeLabel, Metrics} from './metrics.ts';
import {fileAll} from './filing.ts';
import {jobOf} from './job.ts';
import {claimSqlite, disableSqlite, failingSinceSqlite, recordSqlite, webhookCache} from './worker-sqlite.ts';
import {inPickedOrder, pickWithinRoom, type ClaimInput, type ClaimResult} from './claim-policy.ts';
import type {HandedOff, Handoff, Reservation} from './handoff.ts';
import {triggeredToWrite, type Triggered, type Written} from './triggered-policy.ts';

/** What the worker needs from the composition root (a subset of the app's Deps). */
export interface WorkerDeps {
  readonly config: Config;
  readonly database: Database;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  /** Woken after commits that wrote deliveries; the worker also wakes itself through it. */
  readonly wake: Wake;
  /** Counts and times every recorded attempt (SPEC §11); none when absent. */
  readonly metrics?: Metrics;
  /**
   * Where this process's outbox writes ask for room (handoff.ts): the worker answers while it
   * runs, and their deliveries start without a claim. None: every delivery is claimed.
   */
  readonly handoff?: Handoff;
}

/** Tuning of one worker; every option has a production default. */
export interface WorkerOptions {
  /** Attempts in flight at once in this process. Default DEFAULT_CONCURRENCY (256). */
  readonly concurrency?: number;
  /** Attempts in flight at once to one webhook. Default 8. */
  readonly perWebhookConcurrency?: number;
  /** The safety-net poll: the longest the worker sleeps without being woken, in ms. Default 1000. */
  readonly pollIntervalMs?: number;
  /** Lease = delivery timeout + this margin (time to record the attempt), in ms. Default 10 000. */
  readonly leaseMarginMs?: number;
  /** A webhook whose deliveries have only failed for this long is disabled, in ms. Default 5 days. */
  readonly disableAfterMs?: number;
  /** Names this worker in `lease_owner`. Default `<host>:<pid>:<random>`. */
  readonly workerId?: string;
  /**
   * The process's sender (its own connection pools). Default: a new one, closed by stop(). A
   * given one is left open by stop(), unless attempts outlast its grace: then its abortAll()
   * ends them.
   */
  readonly sender?: Sender;
  /**
   * How to build the sender when none is given. Unless `config.allowPrivateTargets`, its lookup
   * (default: the system resolver) is wrapped in the SSRF guard's vetting lookup.
   */
  readonly senderOptions?: SenderOptions;
  /**
   * Sign and send on a sender thread of this worker's own (dispatcher.ts), so claiming and
   * recording keep this thread to themselves. Default true, unless `sender` or
   * `senderOptions` is given (a function cannot cross to another thread): those run here.
   */
  readonly senderThread?: boolean;
  /** LISTEN on PostgreSQL for cross-process wake-ups. Default true on PostgreSQL. */
  readonly listen?: boolean;
  /**
   * Finished attempts waiting to be written, at most, before the worker stops claiming. A slot
   * frees as soon as its answer is in, so a stalled database must not let unrecorded attempts
   * (each holding its response) pile up in memory. Default 400.
   */
  readonly maxUnrecorded?: number;
}

/** A running worker. */
export interface Worker {
  /** The lease owner name of this worker. */
  readonly id: string;
  /** Resolves once the sender thread has loaded and the LISTEN connection (PostgreSQL) is in place. */
  readonly ready: Promise<void>;
  /** Attempts in flight now (sent and waiting for an answer; recording happens after). */
  inFlight(): number;
  /**
   * Stops claiming, lets in-flight attempts finish and records them, then closes the LISTEN
   * connection and the sender. Attempts still running after `graceMs` (default: the delivery
   * timeout + 1 s, which every attempt respects) are aborted, not recorded, and their leases
   * released so another worker retries them at once.
   */
  stop(options?: {graceMs?: number}): Promise<void>;
}

/** A claimed delivery row. */
export interface ClaimedRow {
  id: string;
  event_id: string;
  webhook_id: string;
  attempt_count: number;
  next_attempt_at: string | null;
  /** Why this attempt is made (see DeliveriesTable.next_trigger); null = the schedule. */
  next_trigger?: string | null;
}

/** Everything one attempt needs, loaded once per claimed batch. */
export interface Job {
  readonly delivery: ClaimedRow;
  readonly event: {readonly name: string; readonly payload: string; readonly created_at: string; readonly source_id: string | null};
  readonly webhook: {readonly id: string; readonly target_url: string; readonly secret: string | null; readonly previous_secrets: string | null};
}

/** An attempt on its way: what answered() needs once its answer is in. */
interface InFlight {
  readonly job: Job;
  readonly startedAt: Date;
}

/** One finished attempt, waiting to be recorded. */
interface Finished {
  readonly job: Job;
  readonly attemptNumber: number;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly url: string;
  /** The request headers sent, as stored (JSON). */
  readonly requestHeaders: string;
  readonly result: HttpResult;
  readonly outcome: Outcome;
}

/** How one recorded attempt left its delivery. */
type Resolution = 'succeeded' | 'retry' | 'failed';

/** What recording a batch of finished attempts writes; both engines' writers apply it. */
export interface RecordPlan {
  /** The delivery_attempts rows, in the batch's order. */
  readonly attempts: readonly DeliveryAttemptsTable[];
  /** The new state of each delivery, in the batch's order. */
  readonly updates: readonly {id: string; status: 'pending' | 'succeeded' | 'failed'; nextAt: string | null; lastAt: string; code: number | null; error: string | null}[];
  /** last_triggered_* to write (triggered-policy.ts): each webhook's latest attempt, in id order. */
  readonly triggered: readonly Triggered[];
  /**
   * Webhooks to disable (never delete), with the reason to store: at once when the endpoint
   * answered 410 Gone; when a delivery ran out of attempts, only if the webhook's deliveries
   * have failed, with no success since, for disableAfterMs (`ifFailingSince`, the cutoff).
   */
  readonly disable: readonly {webhookId: string; reason: string; ifFailingSince: string | null}[];
}

/** Why a webhook was disabled, for its log line. */
interface Disabled {
  readonly webhookId: string;
  readonly reason: string;
}

/**
 * Attempts in flight per process, by default. The window has to outlast the longest stretch
 * this thread spends on one piece of work (a content write with its fan-out, a recording
 * batch): meanwhile the sender thread and the receivers work through what is in flight. With
 * 128 the sender ran dry behind those stretches under load; 256 delivered 10 % more per second
 * in the benchmark at the same CPU per delivery (a bare client at 256 connections was no faster
 * than at 128). One webhook still holds at most perWebhookConcurrency of them.
 */
export const DEFAULT_CONCURRENCY = 256;

/**
 * Most due rows one claim reads. On PostgreSQL the read locks every row it returns until its
 * commit, also those it cannot take (a webhook's room is decided after the read), so a claim
 * as large as 256 free slots could lock a whole small backlog and leave another worker nothing
 * to read. A larger window claims in several rounds (a full claim is followed at once by the next).
 */
const MAX_CLAIM = 128;

/**
 * Hand-offs (handoff.ts) are granted while fewer than this many times `concurrency` attempts
 * are in flight or waiting in line for a slot. The line is leased rows that start as slots
 * free up, with no claim. At 2 × the slots, bursts of writes overflowed it: in four throughput
 * benchmark runs 2,885–3,922 of the 12,000 deliveries went in due instead, to be read and
 * leased by 38–49 claims; at 8 ×, 1,019–4,418 (median 1,428) in seven runs. Each webhook's
 * room still bounds what waits for it.
 */
const HANDOFF_LINE = 8;
/**
 * A webhook may have this many times its in-flight limit (perWebhookConcurrency) in flight and
 * waiting in line: the waiting ones start as its own attempts finish. When a webhook could only
 * hold as many as it may have in flight, a burst of posts a few deep refused hand-offs to every
 * webhook (375–3,267 refusals in three throughput runs), and the claims that followed fell
 * behind and refused all the rest (1,100–5,800 more).
 */
const WAITING_PER_WEBHOOK = HANDOFF_LINE;

const DAY_MS = 86_400_000;
/** Most attempts written in one recording transaction. */
const RECORD_BATCH = 200;
/** How long finished attempts gather before they are written, when many are in flight. */
const RECORD_DELAY_MS = 5;
/** Under load, a webhook's last_triggered_* is written at most this often (triggered-policy.ts). */
const TRIGGERED_EVERY_MS = 1000;
/**
 * While the worker is caught up, an attempt finishing wakes the loop to look for rows other
 * processes added at most this often (more often, it would mostly find nothing).
 */
const RECHECK_MS = 50;

/** Starts a delivery worker on `deps`; call stop() before closing the database. */
export function startWorker(deps: WorkerDeps, options: WorkerOptions = {}): Worker {
  const {config, database, clock, logger, wake} = deps;
  const db = database.db;
  const concurrency = positive(options.concurrency, DEFAULT_CONCURRENCY);
  const perWebhook = positive(options.perWebhookConcurrency, 8);
  const pollMs = positive(options.pollIntervalMs, 1000);
  const maxUnrecorded = positive(options.maxUnrecorded, RECORD_BATCH * 2);
  /** Free slots worth a claim while other attempts are in flight. */
  const claimThreshold = Math.max(1, Math.min(32, Math.floor(concurrency / 4)));
  const timeoutMs = config.deliveryTimeoutMs;
  // The attempt itself is cut off at timeoutMs; the margin only covers recording it. A dead
  // worker's deliveries are retried once this runs out, so keep it short.
  const leaseMs = timeoutMs + (options.leaseMarginMs ?? 10_000);
  const disableAfterMs = options.disableAfterMs ?? deps.config.disableAfterMs ?? 5 * DAY_MS;
  const workerId = (options.workerId ?? `${os.hostname()}:${process.pid}:${deps.random.bytes(4).toString('hex')}`).slice(0, 64);
  const log = logger.child({component: 'delivery', worker: workerId});
  // The SSRF guard (SPEC §7): unless private targets are allowed, every name is resolved through
  // the vetting lookup (composed with a given one; the sender thread builds its own). A given
  // `sender` is used as it is, and left open at stop() (see WorkerOptions.sender).
  const inThread = options.senderThread ?? (!options.sender && !options.senderOptions);
  const dispatcher: Dispatcher<InFlight> = inThread
    ? threadDispatcher<InFlight>(
        {
          allowPrivateTargets: config.allowPrivateTargets,
          onThreadError: (message) => log.error({err: {message}}, 'the sender thread stopped; its attempts failed and will be retried'),
        },
        answered,
      )
    : inProcessDispatcher<InFlight>(
        options.sender ??
          createSender(config.allowPrivateTargets ? options.senderOptions : {...options.senderOptions, lookup: createGuardedLookup(options.senderOptions?.lookup)}),
        answered,
      );
  const ownDispatcher = inThread || !options.sender;

  /** Attempts per webhook id in flight or held for a hand-off (reserved, or waiting in `handed`). */
  const perWebhookCount = new Map<string, number>();
  /** Attempts per webhook id in flight: never more than perWebhook. */
  const inFlightOf = new Map<string, number>();
  /** Webhook rows kept between claims while no webhook changes (SQLite; see worker-sqlite.ts). */
  const cachedWebhooks = webhookCache();
  /**
   * In-flight attempts, as a count (and a waiter for stop()), not a set of their promises: a
   * long-lived collection holding per-attempt closures or promises makes garbage collection
   * cost far more per attempt (measured in the sender: see sender.ts and dispatcher.ts).
   */
  let running = 0;
  let onIdle: (() => void) | null = null;
  /** Deliveries whose attempt was aborted by shutdown: leases to hand back. */
  const abandoned: string[] = [];
  let stopping = false;
  /** Claims in a row that got nothing because other workers got there first. */
  let collisions = 0;
  /** The instant the last claim looked for due rows. */
  let checkedAt: Date | null = null;
  /**
   * The last claim took every due row it could (it was not full): only then does a hand-off
   * get room, so fresh deliveries never start ahead of rows that were due before them.
   */
  let caughtUp = false;
  /**
   * Webhooks at their limit in flight at the last claim: rows of theirs may be due and
   * unclaimed. One of their attempts finishing wakes the loop, and a hand-off gives them no
   * room, so a slow endpoint's fresh deliveries go in due behind those rows. (A webhook whose
   * room is taken by deliveries waiting for a slot only, as in a burst of posts, keeps getting
   * room: its due rows, if any, are claimed once its line is down.)
   */
  let crowded: ReadonlySet<string> = new Set();
  /** When the last claim ran (performance.now()): pacing for rows other processes add. */
  let claimedAtMs = 0;
  /**
   * The next flush wakes the loop: a round held back its claim for unrecorded attempts, or a
   * recorded retry is due sooner than the loop may be sleeping.
   */
  let wakeAfterFlush = false;
  /** A retry was recorded since the loop last looked up the next scheduled attempt. */
  let replan = false;
  /**
   * Handed-off deliveries (handoff.ts) leased to this worker and waiting for a slot: a line per
   * webhook, oldest first. They start before anything is claimed: each finished attempt starts
   * the next. `startable` holds the webhooks with a line and fewer than perWebhook attempts in
   * flight, in turn, so a webhook at its limit never holds up the others.
   */
  const handed = new Map<string, Job[]>();
  const startable: string[] = [];
  const isStartable = new Set<string>();
  /** Puts a webhook in turn to start its next waiting delivery, if it has one and room in flight. */
  const markStartable = (id: string): void => {
    if (!isStartable.has(id) && handed.has(id) && (inFlightOf.get(id) ?? 0) < perWebhook) {
      isStartable.add(id);
      startable.push(id);
    }
  };
  /** Takes every waiting delivery out of line (stop), oldest first per webhook. */
  const takeAllHanded = (): Job[] => {
    const all = [...handed.values()].flat();
    handed.clear();
    startable.length = 0;
    isStartable.clear();
    return all;
  };
  /** The webhook ids whose count has reached perWebhook. */
  const atPerWebhook = (counts: ReadonlyMap<string, number>): string[] => {
    const ids: string[] = [];
    for (const [id, n] of counts) if (n >= perWebhook) ids.push(id);
    return ids;
  };
  /** The webhooks with no room left for a claimed row (perWebhook attempts in flight or held). */
  const webhooksAtRoom = (): string[] => atPerWebhook(perWebhookCount);
  /** The webhooks with perWebhook attempts in flight. */
  const webhooksAtLimit = (): string[] => atPerWebhook(inFlightOf);
  /** Room held for hand-offs: reserved for writes not yet committed, plus `handed`. */
  let held = 0;
  /** Attempts can start at once (the sender thread has loaded). */
  let senderReady = false;
  void dispatcher.ready.then(() => (senderReady = true));

  const listener: ChannelListener | null =
    (options.listen ?? database.dialect === 'postgres') && database.dialect === 'postgres' && config.databaseUrl
      ? listenOnChannels({databaseUrl: config.databaseUrl, logger: log, channels: [DELIVERY_CHANNEL], onNotification: () => wake.notify(), onConnect: () => wake.notify()})
      : null;

  // ---- claim ---------------------------------------------------------------------------

  /**
   * PostgreSQL's claim: one short transaction reads the candidates FOR UPDATE OF d SKIP LOCKED
   * (a concurrent claim in another process skips them and reads the rows behind them, never
   * waits) and leases the picked ones; the unpicked are unlocked at commit. `full` says the
   * candidate read hit its limit: more may be due. (SQLite's is claimSqlite.)
   */
  async function claimPostgres(input: ClaimInput): Promise<{rows: ClaimedRow[]; full: boolean; collided: boolean}> {
    const {free, nowIso} = input;
    return db.transaction().execute(async (trx) => {
      // The right plan is always "walk deliveries_claim in order and stop at the limit". Right
      // after a burst of inserts (before autoanalyze), PostgreSQL's row estimates are far off
      // and it chose to sort every due row instead (seconds per claim with 100,000 pending).
      await sql`set local enable_sort = off`.execute(trx);
      let candidates = trx
        .selectFrom('deliveries as d')
        .select(['d.id', 'd.webhook_id'])
        .where('d.status', '=', 'pending')
        .where('d.next_attempt_at', '<=', nowIso)
        .where((eb) => eb.or([eb('d.lease_expires_at', 'is', null), eb('d.lease_expires_at', '<', nowIso)]))
        // Disabled webhooks are few: a filter, not a join (a join let the planner drive the
        // query from the webhooks table).
        .where('d.webhook_id', 'not in', (eb) => eb.selectFrom('webhooks').select('id').where('status', '<>', 'available'))
        .orderBy('d.next_attempt_at')
        .orderBy('d.id')
        // One row more than can be taken: it tells whether more are due (`full`).
        .limit(free + 1)
        .forUpdate()
        .skipLocked();
      if (input.saturated.length > 0) candidates = candidates.where('d.webhook_id', 'not in', [...input.saturated]);
      const read = await candidates.execute();
      const full = read.length > free;
      const found = full ? read.slice(0, free) : read;
      const picked = pickWithinRoom(found, input.roomOf);
      if (picked.length === 0) return {rows: [], full, collided: false};
      // The read above locked the rows; the conditions are checked again all the same.
      const rows = await trx
        .updateTable('deliveries')
        // Next due when the lease runs out (see worker-sqlite.ts): claims do not walk past it.
        .set({lease_owner: input.workerId, lease_expires_at: input.leaseUntil, next_attempt_at: input.leaseUntil})
        .where('id', 'in', picked)
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', nowIso)]))
        .returning(['id', 'event_id', 'webhook_id', 'attempt_count', 'next_attempt_at', 'next_trigger'])
        .execute();
      return {rows: inPickedOrder(rows, picked), full, collided: rows.length < picked.length};
    });
  }

  /** Hands leases back (claimed rows this worker will not attempt now). */
  async function release(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await db
      .updateTable('deliveries')
      // Due again at once: the lease had moved next_attempt_at to its expiry.
      .set({lease_owner: null, lease_expires_at: null, next_attempt_at: clock.now().toISOString()})
      .where('id', 'in', [...ids])
      .where('lease_owner', '=', workerId)
      .execute();
  }

  /** Loads the events and webhooks of a claimed batch: two queries, whatever its size. */
  async function loadJobs(rows: readonly ClaimedRow[]): Promise<{jobs: Job[]; missing: string[]}> {
    const eventIds = [...new Set(rows.map((r) => r.event_id))];
    const webhookIds = [...new Set(rows.map((r) => r.webhook_id))];
    const [events, webhooks] = await Promise.all([
      db.selectFrom('events').select(['id', 'name', 'payload', 'created_at', 'source_id']).where('id', 'in', eventIds).execute(),
      db.selectFrom('webhooks').select(['id', 'target_url', 'secret', 'previous_secrets', 'status']).where('id', 'in', webhookIds).execute(),
    ]);
    const eventById = new Map(events.map((e) => [e.id, e]));
    const webhookById = new Map(webhooks.map((w) => [w.id, w]));
    const jobs: Job[] = [];
    const missing: string[] = [];
    for (const delivery of rows) {
      const event = eventById.get(delivery.event_id);
      const webhook = webhookById.get(delivery.webhook_id);
      // Disabled between the claim and this read: leave the delivery pending, unsent.
      if (!event || !webhook || webhook.status !== 'available') missing.push(delivery.id);
      else jobs.push(jobOf(delivery, event, webhook));
    }
    return {jobs, missing};
  }

  /**
   * Claims up to `free` due deliveries, oldest due first and each webhook within its room
   * (claim-policy.ts), and loads what their attempts need. On SQLite one synchronous
   * transaction does both (worker-sqlite.ts); on PostgreSQL the claim, then one read of the
   * events and webhooks.
   */
  async function claimJobs(free: number, saturated: readonly string[]): Promise<ClaimResult> {
    const now = clock.now();
    checkedAt = now;
    const input: ClaimInput = {
      free,
      roomOf: (webhookId) => perWebhook - (perWebhookCount.get(webhookId) ?? 0),
      saturated,
      nowIso: now.toISOString(),
      leaseUntil: new Date(now.getTime() + leaseMs).toISOString(),
      workerId,
    };
    if (database.syncTransaction) return database.syncTransaction((prepare) => claimSqlite(prepare, input, cachedWebhooks));
    const {rows, full, collided} = await claimPostgres(input);
    if (rows.length === 0) return {jobs: [], missing: [], full, collided};
    try {
      return {...(await loadJobs(rows)), full, collided};
    } catch (error) {
      await release(rows.map((row) => row.id)).catch(() => {}); // else they wait for the lease
      throw error;
    }
  }

  // ---- the loop ------------------------------------------------------------------------

  /**
   * One round: claim as many due deliveries as there are free slots (and room per webhook),
   * and start them. Returns true when another round should follow at once (the claim was
   * full, so more may be due, and there are free slots).
   */
  async function round(): Promise<boolean> {
    // Handed-off deliveries take the next free slots.
    const free = concurrency - running - held;
    // Written attempts free their memory; until enough are, claim nothing more. The next flush
    // wakes the loop (so nothing polls for it meanwhile).
    if (queue.length + writing >= maxUnrecorded) {
      checkedAt = clock.now();
      wakeAfterFlush = true;
      return false;
    }
    // While attempts are in flight, those finishing wake the loop when rows may be waiting
    // (settle): claim once a useful number of slots is free rather than one query per finished
    // attempt (an idle worker claims at once, so a lone event waits for nothing).
    if (free <= 0 || (running > 0 && free < claimThreshold)) {
      checkedAt = clock.now();
      return false;
    }
    claimedAtMs = performance.now();
    // The claim leaves out the webhooks at their room now: until it is back, one of the
    // attempts of those at their limit finishing must wake the loop again.
    const atRoom = webhooksAtRoom();
    crowded = new Set(webhooksAtLimit());
    let claimed: ClaimResult;
    try {
      claimed = await claimJobs(Math.min(free, MAX_CLAIM), atRoom);
    } catch (error) {
      caughtUp = false;
      throw error;
    }
    const {jobs, missing, full, collided} = claimed;
    caughtUp = !full;
    const giveBack = [...missing];
    for (const job of jobs) {
      const id = job.webhook.id;
      const busy = perWebhookCount.get(id) ?? 0;
      // The cap is per webhook, so a slow endpoint holds at most `perWebhook` slots; rows over
      // it (only possible in a race) go back at once: other webhooks never wait behind it. A
      // hand-off may have taken room while the claim waited for the database.
      if (busy >= perWebhook || running + held >= concurrency || stopping) {
        giveBack.push(job.delivery.id);
        continue;
      }
      launch(job);
    }
    // Rows of the webhooks at their limit, before or after this claim, may still be due (left
    // out of the read, or over their room): their fresh deliveries go in due behind them.
    const nowCrowded = new Set(crowded);
    for (const id of webhooksAtLimit()) nowCrowded.add(id);
    crowded = nowCrowded;
    // Another process leased some picked rows first: read again at once (those are leased
    // now, so the next read finds others). Bounded, so a stuck lock cannot make a busy loop.
    if (jobs.length === 0 && missing.length === 0) return collided && ++collisions <= 3;
    collisions = 0;
    await release(giveBack);
    return full && running + held < concurrency;
  }

  /**
   * How long to sleep: until the next scheduled attempt if that comes before the poll. "Next"
   * means due after the last claim's instant (not after now): a row that fell due between
   * that claim and this query was not claimed, and gives a 1 ms sleep instead of being missed
   * until the poll. Rows due before the claim but not claimed (leased elsewhere, webhook
   * saturated here) are left to the poll and to finishing attempts, so they cannot spin the loop.
   */
  async function sleepMs(): Promise<number> {
    const now = clock.now();
    const next = await db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.min('next_attempt_at').as('at'))
      .where('status', '=', 'pending')
      .where('next_attempt_at', '>', (checkedAt ?? now).toISOString())
      .executeTakeFirst();
    const at = next?.at ? Date.parse(next.at as string) : Number.NaN;
    if (Number.isNaN(at)) return pollMs;
    return Math.max(1, Math.min(pollMs, at - now.getTime()));
  }

  const loopDone = (async () => {
    // No lease before attempts can start: a claim made while the sender thread still loads
    // would hold its rows (and count that wait into their attempts).
    await dispatcher.ready;
    while (!stopping) {
      let again = false;
      try {
        again = await round();
      } catch (error) {
        log.error({err: errorInfo(error)}, 'delivery claim failed; retrying after the poll interval');
      }
      if (stopping) break;
      if (again) continue;
      let ms = pollMs;
      // With attempts in flight the next scheduled attempt is looked up only after a retry was
      // recorded (it may be due before the poll); an idle worker always looks.
      if (running === 0 || replan) {
        replan = false;
        try {
          ms = await sleepMs();
        } catch {
          // the database is unreachable: the poll interval paces the retries
        }
      }
      if (stopping) break;
      await wake.wait(ms);
    }
  })();

  // ---- hand-off -------------------------------------------------------------------------

  /**
   * Room for one delivery per webhook id, for an outbox write in progress (handoff.ts). Each
   * is granted within its webhook's room for waiting (WAITING_PER_WEBHOOK × perWebhook, attempts
   * in flight and held counting alike; at most perWebhook of them start at once) and while the
   * line is not full (HANDOFF_LINE); taken now (so a claim meanwhile cannot overfill) and
   * held until the write commits (start: they queue in `handed` for slots) or rolls back
   * (cancel). None while stopping, before the sender thread is ready, while rows are due (the
   * last claim was full), for a webhook at its limit at the last claim (crowded), or while
   * unrecorded attempts are at their bound. (A delivery refused room goes in due, and a later
   * one of its webhook may be handed off before the next claim takes it: with 8 attempts per
   * webhook in flight at once, arrival order is not kept anyway. Marking such a webhook crowded
   * until the next claim kept the order but, under load, sent 5,600–7,400 of the throughput
   * run's 12,000 deliveries through claims.)
   */
  function reserve(webhookIds: readonly string[]): Reservation | null {
    if (stopping || !senderReady || !caughtUp || queue.length + writing >= maxUnrecorded) return null;
    const taken: string[] = [];
    const granted = webhookIds.map((id) => {
      const busy = perWebhookCount.get(id) ?? 0;
      if (running + held >= HANDOFF_LINE * concurrency || busy >= WAITING_PER_WEBHOOK * perWebhook || crowded.has(id)) return false;
      held++;
      perWebhookCount.set(id, busy + 1);
      taken.push(id);
      return true;
    });
    if (taken.length === 0) return null;
    const leaseUntil = new Date(clock.now().getTime() + leaseMs).toISOString();
    let open = true;
    return {
      leaseOwner: workerId,
      leaseUntil,
      granted,
      start(deliveries: readonly HandedOff[]) {
        if (!open) return;
        open = false;
        let next = 0;
        for (const d of deliveries) {
          // One per granted webhook, in order; anything else is a bug (that row's lease runs out).
          if (d.webhook.id !== taken[next]) continue;
          next++;
          const line = handed.get(d.webhook.id);
          const job = jobOf({id: d.deliveryId, event_id: d.event.id, webhook_id: d.webhook.id, attempt_count: 0, next_attempt_at: leaseUntil, next_trigger: null}, d.event, d.webhook);
          if (line) line.push(job);
          else handed.set(d.webhook.id, [job]);
          markStartable(d.webhook.id);
        }
        for (const id of taken.slice(next)) unhold(id);
        if (stopping) {
          // Too late to start: stop() hands them back, or (once it is past that) their leases run out.
          for (const job of takeAllHanded()) {
            abandoned.push(job.delivery.id);
            unhold(job.webhook.id);
          }
          return;
        }
        pump();
      },
      cancel() {
        if (!open) return;
        open = false;
        for (const id of taken) unhold(id);
      },
    };
  }
  deps.handoff?.attach(reserve);

  /** Gives back the room held for one hand-off to `webhookId`. */
  function unhold(webhookId: string): void {
    held--;
    const left = (perWebhookCount.get(webhookId) ?? 1) - 1;
    if (left <= 0) perWebhookCount.delete(webhookId);
    else perWebhookCount.set(webhookId, left);
  }

  /**
   * Starts handed-off deliveries while slots are free: each startable webhook's oldest in turn.
   * One whose lease would run out before its attempt could (it waited too long for a slot) is
   * handed back instead: due at once, and claimed with a fresh lease.
   */
  function pump(): void {
    if (startable.length === 0) return;
    const latest = clock.now().getTime() + timeoutMs + 1000;
    const stale: string[] = [];
    while (startable.length > 0 && running < concurrency && !stopping) {
      const id = startable.shift()!;
      isStartable.delete(id);
      const line = handed.get(id)!;
      const job = line.shift()!;
      if (line.length === 0) handed.delete(id);
      if (Date.parse(job.delivery.next_attempt_at!) < latest) {
        stale.push(job.delivery.id);
        unhold(id);
        markStartable(id);
        continue;
      }
      // Its room moves from held to running; its webhook's count stays.
      held--;
      running++;
      inFlightOf.set(id, (inFlightOf.get(id) ?? 0) + 1);
      // Its next waiting delivery, if it may start one more, comes after the other webhooks'.
      markStartable(id);
      begin(job);
    }
    if (stale.length > 0) {
      caughtUp = false;
      release(stale).then(
        () => wake.notify(),
        () => {}, // their leases run out on their own
      );
    }
  }

  // ---- one attempt ---------------------------------------------------------------------

  /**
   * Starts one attempt; answered() takes it from there once its answer is in, which frees its
   * slot. Its record is queued by then and written with others a moment later (flush): the
   * lease keeps the delivery from being claimed again until that commit, and stop() waits for it.
   */
  function launch(job: Job): void {
    // Taken here, given back by settle(): the two counts change together.
    running++;
    perWebhookCount.set(job.webhook.id, (perWebhookCount.get(job.webhook.id) ?? 0) + 1);
    inFlightOf.set(job.webhook.id, (inFlightOf.get(job.webhook.id) ?? 0) + 1);
    begin(job);
  }

  /** Starts an attempt whose slot is already counted; one that throws gives its slot back. */
  function begin(job: Job): void {
    try {
      startAttempt(job);
    } catch (error) {
      log.error({err: errorInfo(error), delivery_id: job.delivery.id}, 'delivery attempt crashed');
      settle(job.webhook.id);
    }
  }

  function startAttempt(job: Job): void {
    const startedAt = clock.now();
    // !! NO transaction is open here, and none may be: the claim has committed, and the
    // record is a new short transaction after the response. Holding a transaction (or a
    // pooled connection) across a network call would let one slow endpoint stall the database.
    // net.connect never calls the lookup for an IP-literal host, so a literal target (perhaps
    // stored before the configuration changed) is checked here, before any connection.
    const blocked = config.allowPrivateTargets ? null : literalTargetProblem(job.webhook.target_url);
    const input = {
      deliveryId: job.delivery.id,
      url: job.webhook.target_url,
      body: job.event.payload,
      bodyKey: job.delivery.event_id,
      secret: job.webhook.secret,
      previousSecrets: job.webhook.previous_secrets,
      now: startedAt,
      timeoutMs,
    };
    const context: InFlight = {job, startedAt};
    if (blocked === null) {
      dispatcher.dispatch(input, context);
      return;
    }
    const requestHeaders = JSON.stringify(attemptHeaders(input));
    queueMicrotask(() => answered(context, {requestHeaders, result: {kind: 'error', code: 'BLOCKED', message: blocked, durationMs: 0}}));
  }

  /** An attempt's answer (or failure) is in: queue its record, free its slot, claim again. */
  function answered({job, startedAt}: InFlight, {requestHeaders, result}: Dispatched): void {
    try {
      if (result.kind === 'error' && result.code === 'ABORTED') {
        abandoned.push(job.delivery.id);
      } else {
        const finishedAt = clock.now();
        record({
          job,
          attemptNumber: job.delivery.attempt_count + 1,
          startedAt,
          finishedAt,
          url: redactUrl(job.webhook.target_url),
          requestHeaders,
          result,
          outcome: classify(result, timeoutMs, finishedAt.getTime()),
        });
      }
    } catch (error) {
      log.error({err: errorInfo(error), delivery_id: job.delivery.id}, 'delivery attempt crashed');
    } finally {
      settle(job.webhook.id);
    }
  }

  /** An attempt is over (recorded or not): its slots are free for the next hand-off, or a claim. */
  function settle(webhookId: string): void {
    running--;
    if (running === 0 && onIdle) {
      onIdle();
      onIdle = null;
    }
    const left = (perWebhookCount.get(webhookId) ?? 1) - 1;
    if (left <= 0) perWebhookCount.delete(webhookId);
    else perWebhookCount.set(webhookId, left);
    const flying = (inFlightOf.get(webhookId) ?? 1) - 1;
    if (flying <= 0) inFlightOf.delete(webhookId);
    else inFlightOf.set(webhookId, flying);
    if (stopping) return;
    markStartable(webhookId);
    pump();
    // Claim again if rows may be waiting for a slot (the last claim was full, or this webhook
    // had no room left), and now and then for rows other processes added (on SQLite nothing
    // else tells). Otherwise a claim would find nothing: a fresh event's deliveries wake the
    // loop themselves, or come handed off.
    if (!caughtUp || crowded.has(webhookId) || performance.now() - claimedAtMs >= RECHECK_MS) wake.notify();
  }

  // ---- recording -----------------------------------------------------------------------

  const queue: Finished[] = [];
  /** last_triggered_* not written yet: each webhook's latest recorded attempt (triggered-policy.ts). */
  const triggeredPending = new Map<string, Triggered>();
  /** What was last written per webhook, and when (performance.now()). */
  const triggeredWritten = new Map<string, Written>();
  /** Attempts in the transaction being written now (taken off the queue, not yet written). */
  let writing = 0;
  let flushing: Promise<void> | null = null;

  /**
   * Queues a finished attempt for writing. The write starts a moment later, so attempts
   * finishing together share one transaction: on the next turn of the event loop when few
   * attempts run, after RECORD_DELAY_MS when many do (a commit per attempt was the worker's
   * largest cost under load). Nothing waits for it but stop() and the claim bound
   * (maxUnrecorded): a failed write leaves the lease to run out, and the delivery is attempted
   * again.
   */
  function record(finished: Finished): void {
    queue.push(finished);
    if (flushing) return;
    flushing = new Promise<void>((resolve) => {
      const start = () => void flush().then(resolve);
      if (running > claimThreshold) setTimeout(start, RECORD_DELAY_MS);
      else setImmediate(start);
    });
  }

  /** Writes queued attempts, many per transaction when they finish together. */
  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, RECORD_BATCH);
      writing = batch.length;
      for (let attempt = 1; ; attempt++) {
        try {
          const resolutions = await recordBatch(batch);
          batch.forEach((f, i) => {
            logAttempt(f, resolutions[i]!);
            observe(f, resolutions[i]!);
          });
          // A retry is due sooner than the loop may be sleeping (it slept while the lease held
          // the row): wake it to look again.
          if (resolutions.includes('retry')) wakeAfterFlush = replan = true;
          break;
        } catch (error) {
          // The transaction rolled back as a whole, so trying again is safe (a deadlock or a
          // busy database is usually gone a moment later).
          if (attempt < 3) {
            await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
            continue;
          }
          // Nothing of the batch was written; the leases run out and the attempts are made again.
          log.error({err: errorInfo(error), deliveries: batch.map((f) => f.job.delivery.id)}, 'recording delivery attempts failed');
          break;
        }
      }
      writing = 0;
      if (!stopping && wakeAfterFlush) {
        wakeAfterFlush = false;
        wake.notify();
      }
    }
    flushing = null;
  }

  /**
   * What recording `batch` writes, decided here once for both engines: each delivery's new
   * state (the retry schedule, Retry-After, a manual retry's single attempt), the attempt rows,
   * each webhook's last_triggered_* from its latest attempt, and the webhooks to look at for
   * disabling.
   */
  function planRecord(batch: readonly Finished[], now: Date): {plan: RecordPlan; resolutions: Resolution[]} {
    const cutoff = new Date(now.getTime() - disableAfterMs).toISOString();
    const resolutions: Resolution[] = [];
    const exhausted = new Map<string, Finished>();
    const updates = batch.map((f) => {
      let resolution: Resolution;
      let nextAt: string | null = null;
      if (f.outcome.kind === 'success') resolution = 'succeeded';
      else if (f.outcome.kind === 'gone') resolution = 'failed';
      // A manual retry of a finished delivery gets exactly one attempt: no schedule after it.
      else if (f.job.delivery.next_trigger === 'manual_once') resolution = 'failed';
      else {
        const delay = nextDelay({
          attempt: f.attemptNumber,
          schedule: config.retrySchedule,
          random: uniform(deps.random),
          retryAfterMs: f.outcome.retryAfterMs ?? null,
        });
        resolution = delay === null ? 'failed' : 'retry';
        if (delay !== null) nextAt = new Date(f.finishedAt.getTime() + delay).toISOString();
        else exhausted.set(f.job.webhook.id, f);
      }
      resolutions.push(resolution);
      return {
        id: f.job.delivery.id,
        status: resolution === 'retry' ? ('pending' as const) : resolution,
        nextAt,
        lastAt: f.startedAt.toISOString(),
        code: f.outcome.status,
        error: attemptError(f.outcome),
      };
    });
    for (const f of batch) {
      const at = f.startedAt.toISOString();
      const seen = triggeredPending.get(f.job.webhook.id);
      if (seen && seen.at > at) continue;
      triggeredPending.set(f.job.webhook.id, {webhookId: f.job.webhook.id, at, status: lastTriggeredStatus(f.outcome), error: lastTriggeredError(f.outcome)});
    }
    // Loops rather than spreads of Sets and Maps: V8 threw away planRecord's optimized code at
    // those spreads under load (README, Performance).
    const disable: RecordPlan['disable'][number][] = [];
    const gone = new Set<string>();
    for (const f of batch) {
      if (f.outcome.kind !== 'gone' || gone.has(f.job.webhook.id)) continue;
      gone.add(f.job.webhook.id);
      disable.push({webhookId: f.job.webhook.id, reason: 'The endpoint answered 410 Gone', ifFailingSince: null});
    }
    for (const [webhookId, f] of exhausted) disable.push({webhookId, reason: exhaustedReason(attemptError(f.outcome)), ifFailingSince: cutoff});
    const plan: RecordPlan = {
      attempts: batch.map((f) => ({
        id: objectId(f.startedAt, deps.random),
        delivery_id: f.job.delivery.id,
        webhook_id: f.job.webhook.id,
        attempt_number: f.attemptNumber,
        trigger: f.job.delivery.next_trigger ? ('manual' as const) : ('scheduled' as const),
        started_at: f.startedAt.toISOString(),
        duration_ms: f.result.durationMs,
        request_url: f.url,
        request_headers: f.requestHeaders,
        response_status: f.result.kind === 'response' ? f.result.status : null,
        response_headers: f.result.kind === 'response' ? JSON.stringify(f.result.headers) : null,
        response_body: f.result.kind === 'response' ? f.result.body : null,
        error: attemptError(f.outcome),
      })),
      updates,
      // In id order: two workers recording attempts of the same webhooks at once lock the rows
      // in the same order (PostgreSQL), and a rare deadlock is retried by flush(). At rest
      // (nothing else running, held or queued) every pending one is written.
      triggered: triggeredToWrite(triggeredPending, triggeredWritten, {
        nowMs: performance.now(),
        idle: running === 0 && held === 0 && queue.length === 0,
        everyMs: TRIGGERED_EVERY_MS,
      }),
      disable,
    };
    return {plan, resolutions};
  }

  /** The reason stored on a webhook disabled after disableAfterMs of failures. */
  function exhaustedReason(error: string | null): string {
    const days = Math.round((disableAfterMs / DAY_MS) * 10) / 10;
    return `Every delivery failed for ${days} ${days === 1 ? 'day' : 'days'} (last error: ${error})`;
  }

  /** One short transaction: the attempt rows, the deliveries, the webhooks' last_triggered_*. */
  async function recordBatch(batch: readonly Finished[]): Promise<Resolution[]> {
    const now = clock.now();
    const nowIso = now.toISOString();
    const {plan, resolutions} = planRecord(batch, now);
    // The same writes on both engines: the plan, then each webhook to disable (see RecordPlan).
    const {lost, disabled} = database.syncTransaction
      ? await database.syncTransaction((prepare) => {
          const lostHere = recordSqlite(prepare, plan, workerId, nowIso);
          const disabledHere: Disabled[] = [];
          for (const d of plan.disable) {
            if ((d.ifFailingSince === null || failingSinceSqlite(prepare, d.webhookId, d.ifFailingSince)) && disableSqlite(prepare, d.webhookId, d.reason, nowIso)) disabledHere.push(d);
          }
          return {lost: lostHere, disabled: disabledHere};
        })
      : await db.transaction().execute(async (trx) => {
          const lostHere = await recordPostgres(trx, plan, nowIso);
          const disabledHere: Disabled[] = [];
          for (const d of plan.disable) {
            if ((d.ifFailingSince === null || (await failingSince(trx, d.webhookId, d.ifFailingSince))) && (await disable(trx, d.webhookId, d.reason, nowIso))) disabledHere.push(d);
          }
          return {lost: lostHere, disabled: disabledHere};
        });
    const writtenMs = performance.now();
    for (const t of plan.triggered) {
      if (triggeredPending.get(t.webhookId) === t) triggeredPending.delete(t.webhookId);
      triggeredWritten.set(t.webhookId, {atMs: writtenMs, status: t.status, error: t.error});
    }
    // One entry per webhook seen; a process with more forgets and writes each again once.
    if (triggeredWritten.size > 10_000) triggeredWritten.clear();
    for (const id of lost) log.warn({delivery_id: id}, 'delivery lease was lost before the attempt was recorded');
    for (const {webhookId, reason} of disabled) log.warn({webhook_id: webhookId, reason}, 'webhook disabled');
    return resolutions;
  }

  /**
   * The plan on PostgreSQL: three statements of fixed text, whatever the batch size, each row
   * set passed as one array per column and joined with unnest(). (A VALUES list or a CASE per
   * column over the ids made a new statement per batch size for PostgreSQL to parse and plan,
   * and the CASE grew with the square of the batch.) Returns the ids whose lease was lost.
   */
  async function recordPostgres(trx: Queryable, plan: RecordPlan, nowIso: string): Promise<string[]> {
    const attempts = plan.attempts;
    const column = <K extends keyof DeliveryAttemptsTable>(key: K) => attempts.map((a) => a[key]);
    await sql`insert into delivery_attempts (id, delivery_id, webhook_id, attempt_number, trigger, started_at, duration_ms,
        request_url, request_headers, response_status, response_headers, response_body, error)
      select * from unnest(${column('id')}::text[], ${column('delivery_id')}::text[], ${column('webhook_id')}::text[],
        ${column('attempt_number')}::int[], ${column('trigger')}::text[], ${column('started_at')}::text[], ${column('duration_ms')}::int[],
        ${column('request_url')}::text[], ${column('request_headers')}::text[], ${column('response_status')}::int[],
        ${column('response_headers')}::text[], ${column('response_body')}::text[], ${column('error')}::text[])`.execute(trx);

    const u = plan.updates;
    // Only while the lease is still ours: if it ran out and another worker took the delivery,
    // that worker's attempt decides; this attempt is still in the log.
    const updated = await sql<{id: string}>`update deliveries as d set status = v.status, attempt_count = d.attempt_count + 1,
        next_attempt_at = v.next_at, last_attempt_at = v.last_at, last_status_code = v.code, last_error = v.error,
        next_trigger = null, lease_owner = null, lease_expires_at = null, updated_at = ${nowIso}
      from unnest(${u.map((x) => x.id)}::text[], ${u.map((x) => x.status)}::text[], ${u.map((x) => x.nextAt)}::text[],
        ${u.map((x) => x.lastAt)}::text[], ${u.map((x) => x.code)}::int[], ${u.map((x) => x.error)}::text[]) as v(id, status, next_at, last_at, code, error)
      where d.id = v.id and d.lease_owner = ${workerId}
      returning d.id`.execute(trx);
    const done = new Set(updated.rows.map((r) => r.id));
    const lost = u.filter((x) => !done.has(x.id)).map((x) => x.id);

    // plan.triggered is in id order: two workers recording attempts of the same webhooks lock
    // them in the same order (a rare deadlock is retried by flush()).
    const t = plan.triggered;
    await sql`update webhooks as w set last_triggered_at = v.at, last_triggered_status = v.status, last_triggered_error = v.error
      from unnest(${t.map((x) => x.webhookId)}::text[], ${t.map((x) => x.at)}::text[], ${t.map((x) => x.status)}::text[],
        ${t.map((x) => x.error)}::text[]) as v(id, at, status, error)
      where w.id = v.id`.execute(trx);
    return lost;
  }

  /** Disables a webhook that is still available; true when it did. */
  async function disable(trx: Queryable, webhookId: string, reason: string, nowIso: string): Promise<boolean> {
    const updated = await trx
      .updateTable('webhooks')
      .set({status: 'disabled', disabled_reason: reason, updated_at: nowIso})
      .where('id', '=', webhookId)
      .where('status', '=', 'available')
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) > 0;
  }

  /** True when a delivery of the webhook failed at or before `cutoffIso` and none succeeded since. */
  async function failingSince(trx: Queryable, webhookId: string, cutoffIso: string): Promise<boolean> {
    // Through the webhook's own index, which holds filed rows only (see failingSinceSqlite).
    await fileAll(trx);
    const success = await trx
      .selectFrom('deliveries')
      .select((eb) => eb.fn.max('last_attempt_at').as('at'))
      .where('webhook_id', '=', webhookId)
      .where(sql<boolean>`filed = 1`)
      .where('status', '=', 'succeeded')
      .executeTakeFirst();
    let old = trx
      .selectFrom('deliveries')
      .select('id')
      .where('webhook_id', '=', webhookId)
      .where(sql<boolean>`filed = 1`)
      .where('status', '=', 'failed')
      .where('created_at', '<=', cutoffIso)
      .limit(1);
    if (success?.at) old = old.where('created_at', '>', success.at as string);
    return (await old.executeTakeFirst()) !== undefined;
  }

  /** One log line per attempt: ids, event, status, duration, outcome; never a secret or a full URL. */
  function logAttempt(f: Finished, resolution: Resolution): void {
    // At the default level successes are not logged: do not build their lines.
    if (f.outcome.kind === 'success' && !log.isLevelEnabled('info')) return;
    const line = {
      delivery_id: f.job.delivery.id,
      webhook_id: f.job.webhook.id,
      event: f.job.event.name,
      attempt: f.attemptNumber,
      target: hostOf(f.job.webhook.target_url),
      status: f.outcome.status,
      duration_ms: f.result.durationMs,
      outcome: f.outcome.kind,
      delivery_status: resolution === 'retry' ? 'pending' : resolution,
      ...(f.outcome.kind === 'success' ? {} : {error: attemptError(f.outcome)}),
    };
    if (f.outcome.kind === 'success') log.info(line, 'delivery attempt');
    else log.warn(line, 'delivery attempt');
  }

  /** Feeds one recorded attempt to the metrics, if any. */
  function observe(f: Finished, resolution: Resolution): void {
    if (!deps.metrics) return;
    const outcome: AttemptOutcomeLabel =
      f.outcome.kind === 'gone' ? 'gone'
      : f.result.kind === 'error' && f.result.code === 'BLOCKED' ? 'blocked'
      : resolution === 'retry' ? 'retrying'
      : resolution;
    deps.metrics.recordAttempt({outcome, durationMs: f.result.durationMs, eventCreatedAt: f.job.event.created_at, finishedAt: f.finishedAt, source: f.job.event.source_id});
  }

  // ---- lifecycle -----------------------------------------------------------------------

  let stopped: Promise<void> | null = null;
  return {
    id: workerId,
    ready: Promise.all([listener?.ready, dispatcher.ready]).then(() => {}),
    inFlight: () => running,
    stop(stopOptions = {}) {
      stopped ??= (async () => {
        stopping = true;
        deps.handoff?.detach(reserve);
        wake.notify(); // end the loop's sleep
        await loopDone;
        const graceMs = stopOptions.graceMs ?? timeoutMs + 1000;
        const all = running === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onIdle = resolve));
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
        if ((await Promise.race([all.then(() => 'done' as const), graceOver])) === 'late') {
          dispatcher.abortAll();
          await all;
        }
        clearTimeout(timer);
        await flushing;
        // last_triggered_* still pending (no recorded attempt came after them at rest).
        if (triggeredPending.size > 0) await recordBatch([]).catch((error: unknown) => log.warn({err: errorInfo(error)}, 'could not write last_triggered_*'));
        // Handed-off deliveries that never got a slot: due again at once, for the next worker.
        for (const job of takeAllHanded()) {
          abandoned.push(job.delivery.id);
          unhold(job.webhook.id);
        }
        try {
          await release(abandoned);
        } catch (error) {
          log.warn({err: errorInfo(error)}, 'could not release the leases of aborted attempts; they run out on their own');
        }
        await listener?.close();
        if (ownDispatcher) await dispatcher.close().catch(() => {});
      })();
      return stopped;
    },
  };
}

/** A uniform number in [0, 1) from the Random port. */
function uniform(random: Random): number {
  return random.bytes(4).readUInt32BE(0) / 0x1_0000_0000;
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

/** An error's message and code, for logs (never the object itself, which may carry a URL or config). */
function errorInfo(error: unknown): {message: string; code?: string} {
  const err = error as {message?: unknown; code?: unknown} | null;
  return {message: typeof err?.message === 'string' ? err.message : String(error), ...(typeof err?.code === 'string' ? {code: err.code} : {})};
}
