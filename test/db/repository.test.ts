// The database layer on both engines: migrations (idempotent, atomic, safe when several
// processes start at once), the seeded rows, id and timestamp formats, constraint detection,
// and integrations with their keys.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {sql} from 'kysely';
import pg from 'pg';
import {DIALECTS, TEST_PG_URL, createStore, type TestStore} from '../support/herald.ts';
import {loadConfig} from '../../src/config.ts';
import {isForeignKeyViolation, isUniqueViolation, openDatabase, type Database} from '../../src/db/database.ts';
import {DEFAULT_SETTINGS, MIGRATIONS, migrate} from '../../src/db/migrations.ts';
import {createIntegration, deleteIntegration, summariseIntegrations} from '../../src/content/integrations.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OBJECT_ID = /^[0-9a-f]{24}$/;
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const open = (store: TestStore) => openDatabase(loadConfig(store.flags, {}));

/** Row counts of the seeded tables. */
async function seededCounts(database: Database): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['roles', 'users', 'newsletters', 'settings'] as const) {
    const row = await database.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

/**
 * True when `name` is a table of this database (PostgreSQL: of the current schema; read from the
 * catalogs directly, as Kysely's introspection scans every schema and races with parallel drops).
 */
async function tableExists(database: Database, name: string): Promise<boolean> {
  const query =
    database.dialect === 'sqlite'
      ? sql`select 1 from sqlite_master where type = 'table' and name = ${name}`
      : sql`select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = current_schema() and c.relname = ${name}`;
  return (await query.execute(database.db)).rows.length > 0;
}

/** Catches what `work` throws (fails if it throws nothing). */
async function thrown(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  assert.fail('expected an error');
}

/** Opens (and closes) the database in a separate process; resolves to its exit code. */
function openInChild(store: TestStore): Promise<{code: number | null; stderr: string}> {
  const script = `import {openDatabase} from './src/db/database.ts';
    const database = await openDatabase({dataDir: process.env.DIR, databaseUrl: process.env.URL || null});
    await database.close();`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: {...process.env, DIR: store.flags.data, URL: store.flags['database-url'] ?? ''},
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({code, stderr})));
}

for (const dialect of DIALECTS) {
  describe(`database layer (${dialect})`, () => {
    let store: TestStore;
    let database: Database;
    const now = () => new Date();

    before(async () => {
      store = await createStore(dialect);
      database = await open(store);
    });
    after(async () => {
      await database?.close();
      await store?.drop();
    });

    test('migrations are idempotent: opening the same store again changes nothing', async () => {
      const before = await seededCounts(database);
      const again = await open(store);
      try {
        assert.deepEqual(await seededCounts(again), before);
      } finally {
        await again.close();
      }
      assert.deepEqual(await seededCounts(database), before);
    });

    test('several processes opening a fresh store at once all start, and seed once', async () => {
      const fresh = await createStore(dialect);
      try {
        const results = await Promise.all([openInChild(fresh), openInChild(fresh), openInChild(fresh)]);
        for (const result of results) assert.equal(result.code, 0, result.stderr);
        const check = await open(fresh);
        try {
          assert.deepEqual(await seededCounts(check), {roles: 3, users: 1, newsletters: 1, settings: Object.keys(DEFAULT_SETTINGS).length});
        } finally {
          await check.close();
        }
      } finally {
        await fresh.drop();
      }
    });

    test('migrations start even while other schemas are dropped around them', {skip: dialect !== 'postgres'}, async () => {
      // Kysely's introspection scans every schema; one vanishing mid-scan must not fail a start.
      let stop = false;
      const churn = (async () => {
        const client = new pg.Client({connectionString: TEST_PG_URL});
        await client.connect();
        try {
          for (let i = 0; !stop; i++) {
            const schema = `churn_${process.pid}_${i}`;
            await client.query(`create schema ${schema}; create table ${schema}.a (x int, y int); create table ${schema}.b (x int)`);
            await client.query(`drop schema ${schema} cascade`);
          }
        } finally {
          await client.end();
        }
      })();
      try {
        for (let n = 0; n < 5; n++) {
          const fresh = await createStore(dialect);
          try {
            await (await open(fresh)).close();
          } finally {
            await fresh.drop();
          }
        }
      } finally {
        stop = true;
        await churn;
      }
    });

    test('a failing migration leaves nothing of itself behind', async () => {
      const broken = {
        ...MIGRATIONS,
        '9999_broken': {
          async up(db: any) {
            await db.schema.createTable('half_done').addColumn('id', 'varchar(24)', (c: any) => c.primaryKey()).execute();
            await db.insertInto('settings').values({id: 'ffffffffffffffffffffffff', key: 'half_done', value: 'x', created_at: 'x', updated_at: 'x'}).execute();
            throw new Error('migration exploded');
          },
        },
      };
      const error = await thrown(() => migrate(database.db, dialect, broken));
      assert.match((error as Error).message, /9999_broken/);
      assert.ok(!(await tableExists(database, 'half_done')), 'the half-made table was rolled back');
      assert.equal(await database.db.selectFrom('settings').select('id').where('key', '=', 'half_done').executeTakeFirst(), undefined);
      // The database is still usable and migrating again is still a no-op.
      await migrate(database.db, dialect);
      assert.equal((await seededCounts(database)).roles, 3);
    });

    test('the seeded rows: roles, an inactive owner, one newsletter, the default settings', async () => {
      const roles = await database.db.selectFrom('roles').selectAll().orderBy('name').execute();
      assert.deepEqual(roles.map((r) => r.name), ['Admin Integration', 'Administrator', 'Owner']);
      const owner = await database.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
      assert.equal(owner.role_id, roles.find((r) => r.name === 'Owner')!.id);
      assert.equal(owner.status, 'inactive');
      assert.equal(owner.password, null);
      const newsletters = await database.db.selectFrom('newsletters').selectAll().execute();
      assert.equal(newsletters.length, 1);
      assert.equal(newsletters[0]!.status, 'active');
      const settings = await database.db.selectFrom('settings').select(['key', 'value']).execute();
      assert.deepEqual(Object.fromEntries(settings.map((s) => [s.key, s.value])), DEFAULT_SETTINGS);
    });

    test('ids are 24-hex ObjectIds and timestamps ISO-8601 with milliseconds', async () => {
      for (const table of ['roles', 'users', 'newsletters', 'settings'] as const) {
        const rows = await database.db.selectFrom(table).select(['id', 'created_at', 'updated_at']).execute();
        for (const row of rows) {
          assert.match(row.id, OBJECT_ID, table);
          assert.match(row.created_at, ISO_MS, table);
          assert.match(row.updated_at, ISO_MS, table);
        }
      }
      const integration = await database.db.transaction().execute((trx) => createIntegration(trx, {name: 'Formats'}, now(), cryptoRandom));
      assert.match(integration.id, OBJECT_ID);
      assert.match(integration.created_at, ISO_MS);
      const stored = await database.db.selectFrom('integrations').select('created_at').where('id', '=', integration.id).executeTakeFirstOrThrow();
      assert.equal(stored.created_at, integration.created_at);
    });

    test('unique and foreign-key violations are recognised on this engine', async () => {
      const stamp = now().toISOString();
      const tag = (id: string, slug: string) => ({id, name: slug, slug, visibility: 'public', created_at: stamp, updated_at: stamp}) as never;
      await database.db.insertInto('tags').values(tag('aaaaaaaaaaaaaaaaaaaaaaa1', 'unique-slug')).execute();

      const duplicateSlug = await thrown(() => database.db.insertInto('tags').values(tag('aaaaaaaaaaaaaaaaaaaaaaa2', 'unique-slug')).execute());
      assert.ok(isUniqueViolation(duplicateSlug), String(duplicateSlug));
      assert.ok(!isForeignKeyViolation(duplicateSlug));

      const duplicateId = await thrown(() => database.db.insertInto('tags').values(tag('aaaaaaaaaaaaaaaaaaaaaaa1', 'other-slug')).execute());
      assert.ok(isUniqueViolation(duplicateId), String(duplicateId));

      const orphan = await thrown(() =>
        database.db
          .insertInto('api_keys')
          .values({id: 'bbbbbbbbbbbbbbbbbbbbbbb1', type: 'admin', secret: 'ab'.repeat(32), role_id: null, integration_id: 'cccccccccccccccccccccccc', user_id: null, last_seen_at: null, created_at: stamp, updated_at: stamp})
          .execute(),
      );
      assert.ok(isForeignKeyViolation(orphan), String(orphan));
      assert.ok(!isUniqueViolation(orphan));

      const syntax = await thrown(() => sql`select * from no_such_table`.execute(database.db));
      assert.ok(!isUniqueViolation(syntax) && !isForeignKeyViolation(syntax));
      assert.ok(!isUniqueViolation(new Error('x')) && !isUniqueViolation(null) && !isUniqueViolation(undefined));
    });

    test('an integration gets exactly one admin and one content key; deleting it takes them', async () => {
      const row = await database.db.transaction().execute((trx) => createIntegration(trx, {name: 'Keys'}, now(), cryptoRandom));
      const keys = await database.db.selectFrom('api_keys').selectAll().where('integration_id', '=', row.id).orderBy('type').execute();
      assert.deepEqual(keys.map((k) => k.type), ['admin', 'content']);
      const [admin, content] = keys;
      assert.match(admin!.id, OBJECT_ID);
      assert.match(admin!.secret, /^[0-9a-f]{64}$/);
      assert.match(content!.secret, /^[0-9a-f]{26}$/);
      const role = await database.db.selectFrom('roles').select('id').where('name', '=', 'Admin Integration').executeTakeFirstOrThrow();
      assert.equal(admin!.role_id, role.id);

      const [summary] = await summariseIntegrations(database.db, row.id);
      assert.deepEqual(summary, {id: row.id, name: 'Keys', admin_key: `${admin!.id}:${admin!.secret}`, content_key: content!.secret});

      // A second integration of the same name gets its own slug.
      const twin = await database.db.transaction().execute((trx) => createIntegration(trx, {name: 'Keys'}, now(), cryptoRandom));
      assert.notEqual(twin.slug, row.slug);

      await database.db.transaction().execute((trx) => deleteIntegration(trx, row.id));
      assert.equal((await database.db.selectFrom('api_keys').select('id').where('integration_id', '=', row.id).execute()).length, 0);
    });

    test('a failed transaction writes nothing', async () => {
      const before = (await summariseIntegrations(database.db)).length;
      await thrown(() =>
        database.db.transaction().execute(async (trx) => {
          await createIntegration(trx, {name: 'Rolled back'}, now(), cryptoRandom);
          throw new Error('abort');
        }),
      );
      assert.equal((await summariseIntegrations(database.db)).length, before);
    });
  });
}

test('ObjectIds made in one process sort by creation, even within one second', async () => {
  const {objectId} = await import('../../src/lib/ids.ts');
  const now = new Date('2026-11-28T08:00:00.500Z');
  const ids = Array.from({length: 1000}, () => objectId(now));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});
