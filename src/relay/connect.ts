/**
 * `herald source connect` and `disconnect` (SPEC §13): make one Ghost webhook per chosen event
 * in the upstream Ghost site, pointing at this source's ingest URL and signed with its secret,
 * and remove exactly those again. What connect made is recorded (source_ghost_webhooks) one
 * row at a time, right after Ghost's 201, so a run cut short keeps its record and running
 * connect again only adds what is missing. No network call happens inside a transaction.
 */
import type {Database} from '../db/database.ts';
import type {SourceGhostWebhooksTable} from '../db/schema.ts';
import {EVENT_NAMES} from '../events/names.ts';
import {objectId, type Random} from '../lib/ids.ts';
import {createGhostClient, type GhostWebhookApi} from './ghost-client.ts';
import {connectedWebhooks, ingestPath, readSource} from './sources.ts';

/** The outcome for one event, printed as one line as it happens. */
export type ConnectLine =
  | {readonly event: string; readonly outcome: 'created'; readonly ghostWebhookId: string}
  | {readonly event: string; readonly outcome: 'already-connected'; readonly detail: string}
  | {readonly event: string; readonly outcome: 'failed'; readonly detail: string};

/** The outcome of one removal. */
export type DisconnectLine =
  | {readonly event: string; readonly outcome: 'removed'; readonly ghostWebhookId: string}
  | {readonly event: string; readonly outcome: 'already-gone'; readonly ghostWebhookId: string}
  | {readonly event: string; readonly outcome: 'failed'; readonly ghostWebhookId: string; readonly detail: string};

/** What connect and disconnect need besides their options. */
export interface RelayContext {
  readonly database: Database;
  readonly now: () => Date;
  readonly random: Random;
  /** The Ghost client (tests may pass one); default createGhostClient on the given URL and key. */
  readonly client?: GhostWebhookApi;
}

/** Options of connectSource. */
export interface ConnectOptions {
  readonly sourceId: string;
  /** Normalised (normaliseGhostUrl). */
  readonly ghostUrl: string;
  readonly adminKey: string;
  /** Herald's public base URL as Ghost reaches it, without trailing slash. */
  readonly publicUrl: string;
  /** Events to connect. Default all 29. */
  readonly events?: readonly string[];
}

/** Where Ghost sends `event` for `sourceId`. */
export function ingestTarget(publicUrl: string, sourceId: string, event: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${ingestPath(sourceId)}${event}`;
}

/**
 * Connects every chosen event, calling `progress` once per event in order. An event whose
 * webhook is recorded for the same Ghost and target is left alone; one Ghost already has
 * (its duplicate 422) counts as connected but is not recorded, so disconnect leaves it.
 * Throws GhostClientError when Ghost is unreachable or refuses the key (nothing further is
 * tried; what was made so far stays recorded), HeraldError 404 for an unknown source.
 */
export async function connectSource(ctx: RelayContext, options: ConnectOptions, progress: (line: ConnectLine) => void): Promise<ConnectLine[]> {
  const source = await readSource(ctx.database.db, options.sourceId);
  const client = ctx.client ?? createGhostClient({ghostUrl: options.ghostUrl, adminKey: options.adminKey});
  const recorded = new Map((await connectedWebhooks(ctx.database.db, source.id)).map((row) => [row.event, row]));
  const lines: ConnectLine[] = [];
  const emit = (line: ConnectLine) => {
    lines.push(line);
    progress(line);
  };

  try {
    await connectEvents();
  } finally {
    // The source remembers the Ghost it is connected to once anything there is recorded.
    if (lines.some((line) => line.outcome === 'created') || [...recorded.values()].some((row) => row.ghost_url === options.ghostUrl)) {
      await ctx.database.db.updateTable('sources').set({ghost_url: options.ghostUrl, updated_at: ctx.now().toISOString()}).where('id', '=', source.id).execute();
    }
  }
  return lines;

  async function connectEvents(): Promise<void> {
    for (const event of options.events ?? EVENT_NAMES) {
      const target = ingestTarget(options.publicUrl, source.id, event);
      const existing = recorded.get(event);
      if (existing) {
        if (existing.ghost_url !== options.ghostUrl) {
          emit({event, outcome: 'failed', detail: `connected to another Ghost (${existing.ghost_url}); disconnect that first`});
        } else if (existing.target_url !== target) {
          emit({event, outcome: 'failed', detail: `connected with another public URL (${existing.target_url}); disconnect, then connect again`});
        } else {
          emit({event, outcome: 'already-connected', detail: `Ghost webhook ${existing.ghost_webhook_id}`});
        }
        continue;
      }
      const outcome = await client.add({event, target_url: target, secret: source.secret, name: `Herald relay: ${source.name}`.slice(0, 191)});
      if (outcome.kind === 'created') {
        const row: SourceGhostWebhooksTable = {
          id: objectId(ctx.now(), ctx.random),
          source_id: source.id,
          ghost_url: options.ghostUrl,
          event,
          ghost_webhook_id: outcome.id,
          target_url: target,
          created_at: ctx.now().toISOString(),
        };
        await ctx.database.db.insertInto('source_ghost_webhooks').values(row).execute();
        emit({event, outcome: 'created', ghostWebhookId: outcome.id});
      } else if (outcome.kind === 'exists') {
        emit({event, outcome: 'already-connected', detail: 'Ghost already has this webhook (not made by connect; disconnect leaves it)'});
      } else {
        emit({event, outcome: 'failed', detail: `Ghost refused (${outcome.reason})`});
      }
    }
  }
}

/** Options of disconnectSource. */
export interface DisconnectOptions {
  readonly sourceId: string;
  /** Normalised (normaliseGhostUrl); only webhooks connect made in this Ghost are removed. */
  readonly ghostUrl: string;
  readonly adminKey: string;
}

/**
 * Removes from Ghost every webhook connect recorded for this source and Ghost site, and
 * forgets each one Ghost confirms gone (deleted now, or 404: already deleted by hand). A
 * webhook Ghost refuses to delete stays recorded. Throws as connectSource does.
 */
export async function disconnectSource(ctx: RelayContext, options: DisconnectOptions, progress: (line: DisconnectLine) => void): Promise<DisconnectLine[]> {
  const source = await readSource(ctx.database.db, options.sourceId);
  const client = ctx.client ?? createGhostClient({ghostUrl: options.ghostUrl, adminKey: options.adminKey});
  const rows = (await connectedWebhooks(ctx.database.db, source.id)).filter((row) => row.ghost_url === options.ghostUrl);
  const lines: DisconnectLine[] = [];
  for (const row of rows) {
    const outcome = await client.remove(row.ghost_webhook_id);
    let line: DisconnectLine;
    if (outcome.kind === 'refused') {
      line = {event: row.event, outcome: 'failed', ghostWebhookId: row.ghost_webhook_id, detail: `Ghost refused (${outcome.reason})`};
    } else {
      await ctx.database.db.deleteFrom('source_ghost_webhooks').where('id', '=', row.id).execute();
      line = {event: row.event, outcome: outcome.kind === 'deleted' ? 'removed' : 'already-gone', ghostWebhookId: row.ghost_webhook_id};
    }
    lines.push(line);
    progress(line);
  }
  const left = await connectedWebhooks(ctx.database.db, source.id);
  if (left.length === 0) await ctx.database.db.updateTable('sources').set({ghost_url: null, updated_at: ctx.now().toISOString()}).where('id', '=', source.id).execute();
  return lines;
}
