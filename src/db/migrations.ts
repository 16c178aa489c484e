/**
 * The one set of migrations, applied at start for both engines. Each migration is a named,
 * append-only step; never edit one that has shipped, add a new one.
 */
import {randomUUID} from 'node:crypto';
import {SqliteAdapter, sql, type Kysely, type Migration} from 'kysely';
import {objectId} from '../lib/ids.ts';

/** Column type for a 24-hex id. */
const ID = 'varchar(24)';
/** Column type for an ISO timestamp (text sorts correctly for UTC with fixed width). */
const TS = 'varchar(32)';

/** Settings every site starts with; the values Ghost ships as defaults where it has one. */
export const DEFAULT_SETTINGS: Readonly<Record<string, string | null>> = {
  title: 'Herald',
  description: 'Thoughts, stories and ideas.',
  logo: null,
  icon: null,
  accent_color: '#FF1A75',
  cover_image: null,
  locale: 'en',
  timezone: 'Etc/UTC',
  facebook: null,
  twitter: null,
  meta_title: null,
  meta_description: null,
  navigation: '[]',
  secondary_navigation: '[]',
};

const initial: Migration = {
  async up(db: Kysely<any>) {
    const now = new Date().toISOString();

    await db.schema
      .createTable('roles')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('name', 'varchar(50)', (c) => c.notNull().unique())
      .addColumn('description', 'varchar(2000)')
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('users')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('name', 'varchar(191)', (c) => c.notNull())
      .addColumn('slug', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('email', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('password', 'varchar(255)')
      .addColumn('status', 'varchar(50)', (c) => c.notNull())
      .addColumn('role_id', ID, (c) => c.notNull().references('roles.id'))
      .addColumn('profile_image', 'varchar(2000)')
      .addColumn('cover_image', 'varchar(2000)')
      .addColumn('bio', 'text')
      .addColumn('website', 'varchar(2000)')
      .addColumn('location', 'text')
      .addColumn('facebook', 'varchar(2000)')
      .addColumn('twitter', 'varchar(2000)')
      .addColumn('meta_title', 'varchar(2000)')
      .addColumn('meta_description', 'varchar(2000)')
      .addColumn('last_seen', TS)
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', ID, (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('origin', 'varchar(2000)', (c) => c.notNull())
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('expires_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('posts')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('type', 'varchar(50)', (c) => c.notNull())
      .addColumn('title', 'varchar(2000)', (c) => c.notNull())
      .addColumn('slug', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('lexical', 'text')
      .addColumn('html', 'text')
      .addColumn('plaintext', 'text')
      .addColumn('feature_image', 'varchar(2000)')
      .addColumn('feature_image_alt', 'varchar(191)')
      .addColumn('feature_image_caption', 'text')
      .addColumn('featured', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('status', 'varchar(50)', (c) => c.notNull())
      .addColumn('visibility', 'varchar(50)', (c) => c.notNull())
      .addColumn('custom_excerpt', 'varchar(2000)')
      .addColumn('codeinjection_head', 'text')
      .addColumn('codeinjection_foot', 'text')
      .addColumn('custom_template', 'varchar(100)')
      .addColumn('canonical_url', 'text')
      .addColumn('og_image', 'varchar(2000)')
      .addColumn('og_title', 'varchar(300)')
      .addColumn('og_description', 'varchar(500)')
      .addColumn('twitter_image', 'varchar(2000)')
      .addColumn('twitter_title', 'varchar(300)')
      .addColumn('twitter_description', 'varchar(500)')
      .addColumn('meta_title', 'varchar(2000)')
      .addColumn('meta_description', 'varchar(2000)')
      .addColumn('email_subject', 'varchar(300)')
      .addColumn('frontmatter', 'text')
      .addColumn('show_title_and_feature_image', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('published_at', TS)
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('posts_type_status_published_at').on('posts').columns(['type', 'status', 'published_at']).execute();

    await db.schema
      .createTable('tags')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('name', 'varchar(191)', (c) => c.notNull())
      .addColumn('slug', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('description', 'text')
      .addColumn('feature_image', 'varchar(2000)')
      .addColumn('visibility', 'varchar(50)', (c) => c.notNull())
      .addColumn('og_image', 'varchar(2000)')
      .addColumn('og_title', 'varchar(300)')
      .addColumn('og_description', 'varchar(500)')
      .addColumn('twitter_image', 'varchar(2000)')
      .addColumn('twitter_title', 'varchar(300)')
      .addColumn('twitter_description', 'varchar(500)')
      .addColumn('meta_title', 'varchar(2000)')
      .addColumn('meta_description', 'varchar(2000)')
      .addColumn('codeinjection_head', 'text')
      .addColumn('codeinjection_foot', 'text')
      .addColumn('canonical_url', 'varchar(2000)')
      .addColumn('accent_color', 'varchar(50)')
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('posts_tags')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('post_id', ID, (c) => c.notNull().references('posts.id').onDelete('cascade'))
      .addColumn('tag_id', ID, (c) => c.notNull().references('tags.id').onDelete('cascade'))
      .addColumn('sort_order', 'integer', (c) => c.notNull().defaultTo(0))
      .addUniqueConstraint('posts_tags_post_tag', ['post_id', 'tag_id'])
      .execute();
    await db.schema.createIndex('posts_tags_tag_id').on('posts_tags').column('tag_id').execute();

    await db.schema
      .createTable('posts_authors')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('post_id', ID, (c) => c.notNull().references('posts.id').onDelete('cascade'))
      .addColumn('author_id', ID, (c) => c.notNull().references('users.id'))
      .addColumn('sort_order', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('posts_authors_post_id').on('posts_authors').column('post_id').execute();

    await db.schema
      .createTable('members')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
      .addColumn('email', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('name', 'varchar(191)')
      .addColumn('note', 'varchar(2000)')
      .addColumn('geolocation', 'varchar(2000)')
      .addColumn('status', 'varchar(50)', (c) => c.notNull())
      .addColumn('subscribed', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('email_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('email_opened_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('email_open_rate', 'integer')
      .addColumn('last_seen_at', TS)
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('labels')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('name', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('slug', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('members_labels')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('member_id', ID, (c) => c.notNull().references('members.id').onDelete('cascade'))
      .addColumn('label_id', ID, (c) => c.notNull().references('labels.id').onDelete('cascade'))
      .addColumn('sort_order', 'integer', (c) => c.notNull().defaultTo(0))
      .addUniqueConstraint('members_labels_member_label', ['member_id', 'label_id'])
      .execute();

    await db.schema
      .createTable('newsletters')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
      .addColumn('name', 'varchar(191)', (c) => c.notNull())
      .addColumn('slug', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('description', 'varchar(2000)')
      .addColumn('status', 'varchar(50)', (c) => c.notNull())
      .addColumn('sort_order', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('settings')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('key', 'varchar(50)', (c) => c.notNull().unique())
      .addColumn('value', 'text')
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('integrations')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('type', 'varchar(50)', (c) => c.notNull())
      .addColumn('name', 'varchar(191)', (c) => c.notNull())
      .addColumn('slug', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('icon_image', 'varchar(2000)')
      .addColumn('description', 'varchar(2000)')
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('type', 'varchar(50)', (c) => c.notNull())
      .addColumn('secret', 'varchar(191)', (c) => c.notNull().unique())
      .addColumn('role_id', ID)
      .addColumn('integration_id', ID, (c) => c.references('integrations.id').onDelete('cascade'))
      .addColumn('user_id', ID)
      .addColumn('last_seen_at', TS)
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('webhooks')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('event', 'varchar(50)', (c) => c.notNull())
      .addColumn('target_url', 'varchar(2000)', (c) => c.notNull())
      .addColumn('name', 'varchar(191)')
      .addColumn('secret', 'varchar(191)')
      .addColumn('api_version', 'varchar(50)', (c) => c.notNull())
      .addColumn('integration_id', ID, (c) => c.notNull().references('integrations.id').onDelete('cascade'))
      .addColumn('last_triggered_at', TS)
      .addColumn('last_triggered_status', 'varchar(50)')
      .addColumn('last_triggered_error', 'varchar(2000)')
      .addColumn('status', 'varchar(50)', (c) => c.notNull().defaultTo('available'))
      .addColumn('disabled_reason', 'varchar(2000)')
      .addColumn('filter', 'varchar(2000)')
      .addColumn('previous_secrets', 'text')
      .addColumn('source_id', ID)
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('webhooks_event').on('webhooks').column('event').execute();

    // Seed what Ghost ships with: the roles, an inactive owner (setup fills it in, so posts
    // always have an author), one default newsletter and the default settings.
    const stamp = {created_at: now, updated_at: now};
    const roles = [
      {id: objectId(), name: 'Owner', description: 'Site Owner'},
      {id: objectId(), name: 'Administrator', description: 'Administrators'},
      {id: objectId(), name: 'Admin Integration', description: 'External Apps'},
    ];
    await db.insertInto('roles').values(roles.map((r) => ({...r, ...stamp}))).execute();
    await db
      .insertInto('users')
      .values({
        id: objectId(),
        name: 'Herald',
        slug: 'herald',
        email: 'owner@herald.invalid',
        password: null,
        status: 'inactive',
        role_id: roles[0]!.id,
        ...stamp,
      })
      .execute();
    await db
      .insertInto('newsletters')
      .values({id: objectId(), uuid: randomUUID(), name: 'Herald', slug: 'default-newsletter', description: null, status: 'active', sort_order: 0, ...stamp})
      .execute();
    await db
      .insertInto('settings')
      .values(Object.entries(DEFAULT_SETTINGS).map(([key, value]) => ({id: objectId(), key, value, ...stamp})))
      .execute();
  },
};

/** Every migration, in order. Names sort lexically; Kysely runs them in that order. */
/**
 * Member e-mails are unique regardless of case (the API compares them lowercased); the index
 * makes that hold under concurrent adds too, on both engines.
 */
const membersEmailLower: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createIndex('members_email_lower').on('members').unique().expression(sql`lower(email)`).execute();
  },
};

/**
 * The outbox: one row per fired event, one delivery per (event, webhook), one attempt row per
 * HTTP try. Written in the same transaction as the content change that fired the event.
 */
const outbox: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('events')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('name', 'varchar(50)', (c) => c.notNull())
      .addColumn('resource_type', 'varchar(50)')
      .addColumn('resource_id', ID)
      // The exact body sent to receivers, built once per event.
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('source_id', ID)
      .addColumn('created_at', TS, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('events_created_at').on('events').column('created_at').execute();

    await db.schema
      .createTable('deliveries')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('event_id', ID, (c) => c.notNull().references('events.id').onDelete('cascade'))
      .addColumn('webhook_id', ID, (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
      .addColumn('status', 'varchar(20)', (c) => c.notNull())
      .addColumn('attempt_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', TS)
      .addColumn('lease_owner', 'varchar(64)')
      .addColumn('lease_expires_at', TS)
      .addColumn('last_attempt_at', TS)
      .addColumn('last_status_code', 'integer')
      .addColumn('last_error', 'varchar(2000)')
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();
    // The claim query: pending rows whose time has come, oldest first.
    await db.schema.createIndex('deliveries_claim').on('deliveries').columns(['status', 'next_attempt_at']).execute();
    await db.schema.createIndex('deliveries_webhook_created').on('deliveries').columns(['webhook_id', 'created_at']).execute();
    await db.schema.createIndex('deliveries_event').on('deliveries').column('event_id').execute();

    await db.schema
      .createTable('delivery_attempts')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('delivery_id', ID, (c) => c.notNull().references('deliveries.id').onDelete('cascade'))
      .addColumn('webhook_id', ID, (c) => c.notNull())
      .addColumn('attempt_number', 'integer', (c) => c.notNull())
      .addColumn('trigger', 'varchar(20)', (c) => c.notNull())
      .addColumn('started_at', TS, (c) => c.notNull())
      .addColumn('duration_ms', 'integer', (c) => c.notNull())
      .addColumn('request_url', 'varchar(2000)', (c) => c.notNull())
      .addColumn('request_headers', 'text', (c) => c.notNull())
      .addColumn('response_status', 'integer')
      .addColumn('response_headers', 'text')
      .addColumn('response_body', 'text')
      .addColumn('error', 'varchar(2000)')
      .execute();
    await db.schema.createIndex('delivery_attempts_delivery').on('delivery_attempts').columns(['delivery_id', 'started_at']).execute();
  },
};

/**
 * Manual retries (POST /deliveries/:id/retry/): deliveries.next_trigger says why the next
 * attempt is made; null means the retry schedule.
 */
const deliveryNextTrigger: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('deliveries').addColumn('next_trigger', 'varchar(20)').execute();
  },
};

/**
 * `herald listen` (SPEC §9): the integration's own `whsec_` secret for its listen stream, made
 * on first use and kept, so a receiver started with it keeps verifying across listener restarts.
 */
const integrationListenSecret: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('integrations').addColumn('listen_secret', 'varchar(191)').execute();
  },
};

/**
 * The relay (SPEC §13): upstream Ghost sites (`sources`), the Ghost webhooks `source connect`
 * made in each (so `disconnect` removes exactly those), and the signatures of recent ingests
 * (an exact repeat within 24 h is dropped; older rows are pruned as new ones arrive).
 */
const sources: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('sources')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('name', 'varchar(191)', (c) => c.notNull())
      .addColumn('secret', 'varchar(191)', (c) => c.notNull())
      .addColumn('ghost_url', 'varchar(2000)')
      .addColumn('created_at', TS, (c) => c.notNull())
      .addColumn('updated_at', TS, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('source_ghost_webhooks')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('source_id', ID, (c) => c.notNull().references('sources.id').onDelete('cascade'))
      .addColumn('ghost_url', 'varchar(2000)', (c) => c.notNull())
      .addColumn('event', 'varchar(50)', (c) => c.notNull())
      // The id Ghost gave the webhook it created (what DELETE /webhooks/:id/ needs).
      .addColumn('ghost_webhook_id', 'varchar(191)', (c) => c.notNull())
      .addColumn('target_url', 'varchar(2000)', (c) => c.notNull())
      .addColumn('created_at', TS, (c) => c.notNull())
      .addUniqueConstraint('source_ghost_webhooks_source_event', ['source_id', 'event'])
      .execute();

    await db.schema
      .createTable('source_receipts')
      .addColumn('source_id', ID, (c) => c.notNull().references('sources.id').onDelete('cascade'))
      // SHA-256 (hex) of the X-Ghost-Signature value: equal for an exact repeat only.
      .addColumn('signature_hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('received_at', TS, (c) => c.notNull())
      .addPrimaryKeyConstraint('source_receipts_pk', ['source_id', 'signature_hash'])
      .execute();
    await db.schema.createIndex('source_receipts_received_at').on('source_receipts').column('received_at').execute();
    // The ingest looks up a source's webhooks per event.
    await db.schema.createIndex('webhooks_source_event').on('webhooks').columns(['source_id', 'event']).execute();
  },
};

/**
 * The worker claims due deliveries ordered by (next_attempt_at, id): with id in the index the
 * order comes straight from it, instead of sorting every due row per claim (a 100,000-row
 * backlog made each claim a full sort). Retention finds old attempts by started_at.
 */
const deliveryClaimOrder: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.dropIndex('deliveries_claim').execute();
    await db.schema.createIndex('deliveries_claim').on('deliveries').columns(['status', 'next_attempt_at', 'id']).execute();
    await db.schema.createIndex('delivery_attempts_started').on('delivery_attempts').column('started_at').execute();
  },
};

/**
 * SQLite only: a generation that changes with every change to what delivering reads of a
 * webhook (its event, target, secrets, status, source; rows added or deleted, cascades
 * included). Triggers keep it, so the writes of every connection and process count. The worker
 * and the outbox keep webhook rows in memory while it holds still, instead of reading them again
 * for every delivery and every write. Each change sets a new random value rather than adding
 * one: a number seen inside a transaction that was then rolled back never comes back for
 * another change. (PostgreSQL reads the webhooks in one batched query instead.)
 */
const webhookGeneration: Migration = {
  async up(db: Kysely<any>) {
    if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return;
    await sql`create table herald_generations (name varchar(50) primary key, value integer not null)`.execute(db);
    await sql`insert into herald_generations (name, value) values ('webhooks', 0)`.execute(db);
    // Within 2^53, so JavaScript reads it exactly.
    const bump = `update herald_generations set value = abs(random() % 9007199254740991) where name = 'webhooks'`;
    await sql.raw(`create trigger webhooks_generation_insert after insert on webhooks begin ${bump}; end`).execute(db);
    await sql.raw(`create trigger webhooks_generation_delete after delete on webhooks begin ${bump}; end`).execute(db);
    await sql
      .raw(`create trigger webhooks_generation_update after update of event, target_url, secret, previous_secrets, status, source_id on webhooks begin ${bump}; end`)
      .execute(db);
  },
};

/**
 * The per-webhook index (webhook_id, created_at) holds filed rows only. A fan-out's deliveries
 * belong to as many webhooks, so filing them as they are written touched one index page per
 * webhook in every post's commit (about 100 of its 115 pages with 100 webhooks on SQLite).
 * SQLite's outbox writes them unfiled instead (filed = 0, in deliveries_unfiled, which only grows
 * at its end), and delivery/filing.ts files them about once a second, many rows per page.
 * Everything that reads a webhook's deliveries through the index files first. Rows already
 * here are filed; PostgreSQL writes every row filed. The cost: deleting a webhook, SQLite's
 * cascade finds its deliveries by reading the table (it cannot use a partial index), about
 * 20 ms per 100,000 deliveries kept on the benchmark machine.
 */
const deliveryFiling: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('deliveries').addColumn('filed', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    await db.schema.dropIndex('deliveries_webhook_created').execute();
    await db.schema.createIndex('deliveries_webhook_created').on('deliveries').columns(['webhook_id', 'created_at']).where(sql.ref('filed'), '=', 1).execute();
    await db.schema.createIndex('deliveries_unfiled').on('deliveries').column('id').where(sql.ref('filed'), '=', 0).execute();
  },
};

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_initial': initial,
  '0002_members_email_lower': membersEmailLower,
  '0003_outbox': outbox,
  '0004_delivery_next_trigger': deliveryNextTrigger,
  '0005_integration_listen_secret': integrationListenSecret,
  '0006_sources': sources,
  '0007_delivery_claim_order': deliveryClaimOrder,
  '0008_webhook_generation': webhookGeneration,
  '0009_delivery_filing': deliveryFiling,
};

/** Key of the PostgreSQL advisory lock that lets one process migrate at a time. */
const MIGRATION_LOCK_KEY = 0x48_45_52_41; // "HERA"

/**
 * Applies every pending migration, all or nothing, holding a lock so concurrent starts wait
 * for each other. Throws (naming the failing migration, with its error as cause) when one
 * fails; nothing of the failed run is kept.
 *
 * Herald keeps its own small ledger (`herald_migrations`) rather than Kysely's Migrator: that
 * one introspects every schema of the database, which fails when another schema is dropped
 * meanwhile, and runs SQLite migrations without a transaction or a lock.
 */
export async function migrate(
  db: Kysely<any>,
  dialect: 'sqlite' | 'postgres' = 'sqlite',
  migrations: Readonly<Record<string, Migration>> = MIGRATIONS,
): Promise<void> {
  if (dialect === 'postgres') {
    // DDL is transactional on PostgreSQL; the advisory lock is released at commit/rollback.
    await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
      await applyPending(trx, migrations);
    });
    return;
  }
  // SQLite: take the write lock first (other processes wait on busy_timeout), then run
  // everything and commit or roll back as one. Kysely's SQLite driver has one connection.
  await sql`begin immediate`.execute(db);
  try {
    await applyPending(db, migrations);
  } catch (error) {
    await sql`rollback`.execute(db);
    throw error;
  }
  await sql`commit`.execute(db);
}

async function applyPending(q: Kysely<any>, migrations: Readonly<Record<string, Migration>>): Promise<void> {
  await sql`create table if not exists herald_migrations (name varchar(100) primary key, applied_at varchar(32) not null)`.execute(q);
  const applied = new Set((await sql<{name: string}>`select name from herald_migrations`.execute(q)).rows.map((r) => r.name));
  const known = new Set(Object.keys(migrations));
  const unknown = [...applied].filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new Error(`the database was migrated by a newer Herald (unknown migrations: ${unknown.join(', ')}); upgrade Herald`);
  }
  for (const name of [...known].sort()) {
    if (applied.has(name)) continue;
    try {
      await migrations[name]!.up(q);
    } catch (error) {
      throw new Error(`database migration ${name} failed`, {cause: error});
    }
    await sql`insert into herald_migrations (name, applied_at) values (${name}, ${new Date().toISOString()})`.execute(q);
  }
}
