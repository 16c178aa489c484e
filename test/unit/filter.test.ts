// NQL → SQL, run against a real tags table on both engines: every operator, grouping, null,
// literal LIKE characters, relations, and the 400s for unknown fields and syntax errors.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {sql} from 'kysely';
import {DIALECTS, createStore, type TestStore} from '../support/herald.ts';
import {loadConfig} from '../../src/config.ts';
import {openDatabase, type Database} from '../../src/db/database.ts';
import {filterToSql, type FilterSpec} from '../../src/db/filter.ts';
import {HeraldError} from '../../src/lib/errors.ts';

/** Tag fields plus `post`, a relation through posts_tags (matched with EXISTS). */
const SPEC: FilterSpec = {
  fields: {
    id: {column: 'tags.id', kind: 'string'},
    name: {column: 'tags.name', kind: 'string'},
    slug: {column: 'tags.slug', kind: 'string'},
    visibility: {column: 'tags.visibility', kind: 'string'},
    description: {column: 'tags.description', kind: 'string'},
    created_at: {column: 'tags.created_at', kind: 'date'},
    'posts.slug': {
      relation: {from: sql`posts_tags inner join posts on posts.id = posts_tags.post_id`, link: sql`posts_tags.tag_id = tags.id`},
      column: 'posts.slug',
      kind: 'string',
    },
  },
  aliases: {post: 'posts.slug'},
};

const HOUR = 3_600_000;
const NOW = new Date();
/** The rows: slug, name, description, visibility, created_at. */
const TAGS: ReadonlyArray<readonly [string, string, string | null, string, string]> = [
  ['alpha', 'Alpha', 'first letter', 'public', '2026-01-01T00:00:00.000Z'],
  ['beta', 'Beta', null, 'public', '2026-02-01T00:00:00.000Z'],
  ['gamma-ray', 'Gamma Ray', '100% pure_x', 'internal', '2026-03-01T00:00:00.000Z'],
  ['hash-hidden', '#Hidden', 'a.b', 'internal', '2026-04-01T00:00:00.000Z'],
  ['recent', 'Recent', 'made lately', 'public', new Date(NOW.getTime() - 20 * HOUR).toISOString()],
];

/** Filter → the slugs it must select (sorted). */
const CASES: ReadonlyArray<readonly [string, string[]]> = [
  ['slug:alpha', ['alpha']],
  ["name:'Gamma Ray'", ['gamma-ray']],
  ['slug:-alpha', ['beta', 'gamma-ray', 'hash-hidden', 'recent']],
  ["created_at:>'2026-02-01'", ['gamma-ray', 'hash-hidden', 'recent']],
  ["created_at:>='2026-02-01'", ['beta', 'gamma-ray', 'hash-hidden', 'recent']],
  ["created_at:<'2026-02-01'", ['alpha']],
  ["created_at:<='2026-02-01'", ['alpha', 'beta']],
  ["created_at:>'2026-02-01 00:00:00'", ['gamma-ray', 'hash-hidden', 'recent']],
  ['created_at:>now-1d', ['recent']],
  ['slug:[alpha,beta]', ['alpha', 'beta']],
  ['slug:-[alpha,beta]', ['gamma-ray', 'hash-hidden', 'recent']],
  ["name:~'ray'", ['gamma-ray']],
  ["name:~'RAY'", ['gamma-ray']],
  ["name:~^'gam'", ['gamma-ray']],
  ["name:~^'ray'", []],
  ["name:~$'ta'", ['beta']],
  ["name:-~'a'", ['hash-hidden', 'recent']],
  // LIKE's own wildcards and regex specials in a value are literal characters.
  ["description:~'%'", ['gamma-ray']],
  ["description:~'_'", ['gamma-ray']],
  ["description:~'.'", ['hash-hidden']],
  ['visibility:public+slug:-alpha', ['beta', 'recent']],
  ['slug:alpha,slug:beta', ['alpha', 'beta']],
  ['(slug:alpha,slug:beta)+visibility:public', ['alpha', 'beta']],
  ["slug:alpha,(visibility:internal+name:~'gam')", ['alpha', 'gamma-ray']],
  ['slug:alpha+slug:beta,visibility:internal', ['gamma-ray', 'hash-hidden']],
  ['description:null', ['beta']],
  ['description:-null', ['alpha', 'gamma-ray', 'hash-hidden', 'recent']],
  // "Not equal" keeps rows with no value at all.
  ["description:-'first letter'", ['beta', 'gamma-ray', 'hash-hidden', 'recent']],
  ["description:[null,'a.b']", ['beta', 'hash-hidden']],
  ["description:-[null,'a.b']", ['alpha', 'gamma-ray', 'recent']],
  // Relations: "some related row matches" and "no related row matches".
  ['post:first-post', ['alpha', 'beta']],
  ['post:[first-post,second-post]', ['alpha', 'beta', 'gamma-ray']],
  ['post:-first-post', ['gamma-ray', 'hash-hidden', 'recent']],
  ['posts.slug:second-post', ['beta', 'gamma-ray']],
];

for (const dialect of DIALECTS) {
  describe(`NQL filters (${dialect})`, () => {
    let store: TestStore;
    let database: Database;
    const select = async (filter: string) =>
      (await database.db.selectFrom('tags').select('slug').where(filterToSql(filter, SPEC, dialect, NOW)).orderBy('slug').execute()).map((r) => r.slug);

    before(async () => {
      store = await createStore(dialect);
      database = await openDatabase(loadConfig(store.flags, {}));
      const ids = new Map<string, string>();
      for (const [index, [slug, name, description, visibility, created]] of TAGS.entries()) {
        const id = `${'0'.repeat(22)}${index.toString().padStart(2, '0')}`;
        ids.set(slug, id);
        await database.db
          .insertInto('tags')
          .values({id, slug, name, description, visibility, created_at: created, updated_at: created} as never)
          .execute();
      }
      const posts: Array<[string, string[]]> = [['first-post', ['alpha', 'beta']], ['second-post', ['beta', 'gamma-ray']]];
      for (const [index, [slug, tags]] of posts.entries()) {
        const id = `${'1'.repeat(22)}${index.toString().padStart(2, '0')}`;
        const stamp = NOW.toISOString();
        await database.db
          .insertInto('posts')
          .values({id, uuid: `00000000-0000-4000-8000-00000000000${index}`, type: 'post', title: slug, slug, status: 'draft', visibility: 'public', created_at: stamp, updated_at: stamp} as never)
          .execute();
        for (const [order, tag] of tags.entries()) {
          await database.db.insertInto('posts_tags').values({id: `${'2'.repeat(21)}${index}${order.toString().padStart(2, '0')}`, post_id: id, tag_id: ids.get(tag)!, sort_order: order}).execute();
        }
      }
    });
    after(async () => {
      await database?.close();
      await store?.drop();
    });

    for (const [filter, expected] of CASES) {
      test(filter, async () => {
        assert.deepEqual(await select(filter), expected);
      });
    }

    test('zone-less times are UTC whatever the server\'s time zone', async () => {
      const saved = process.env.TZ;
      process.env.TZ = 'America/Los_Angeles';
      try {
        assert.deepEqual(await select("created_at:>'2026-02-01 00:00:00'"), ['gamma-ray', 'hash-hidden', 'recent']);
        assert.deepEqual(await select("created_at:<='2026-02-01T00:00:00'"), ['alpha', 'beta']);
        // NQL resolves now-1d to a zone-less UTC time; read locally it would miss `recent`.
        assert.deepEqual(await select('created_at:>now-1d'), ['recent']);
      } finally {
        if (saved === undefined) delete process.env.TZ;
        else process.env.TZ = saved;
      }
    });

    test('an unknown field is a 400 INVALID_FILTER', async () => {
      for (const filter of ['password:x', 'slug:a+secret:b', '(name:x,email:y)']) {
        assert.throws(() => filterToSql(filter, SPEC, dialect, NOW), (e: unknown) => e instanceof HeraldError && e.status === 400 && e.code === 'INVALID_FILTER', filter);
      }
    });

    test('a syntax error is a 400 INVALID_FILTER', async () => {
      for (const filter of ['slug:', "slug:'open", 'slug:(a', '+slug:a', 'slug:a+']) {
        assert.throws(() => filterToSql(filter, SPEC, dialect, NOW), (e: unknown) => e instanceof HeraldError && e.status === 400 && e.code === 'INVALID_FILTER', filter);
      }
    });

    test('a value of the wrong kind is a 400 INVALID_FILTER', async () => {
      assert.throws(() => filterToSql("created_at:>'not a date'", SPEC, dialect, NOW), (e: unknown) => e instanceof HeraldError && e.code === 'INVALID_FILTER');
      assert.throws(() => filterToSql('created_at:>null', SPEC, dialect, NOW), (e: unknown) => e instanceof HeraldError && e.code === 'INVALID_FILTER');
    });

    test('a quote in a value cannot break out of the SQL', async () => {
      assert.deepEqual(await select("name:'x\\' or 1=1 --'"), []);
    });
  });
}
