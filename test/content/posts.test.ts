import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {loadConfig} from '../../src/config.ts';
import {openDatabase, type Database} from '../../src/db/database.ts';
import type {PostsTable, TagsTable} from '../../src/db/schema.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {HeraldError} from '../../src/lib/errors.ts';
import {countWords, excerptOf, htmlToLexical, htmlToPlaintext, parseLexical, readingTime, renderLexical} from '../../src/content/lexical.ts';
import {ADMIN_DEFAULT_FORMATS, WEBHOOK_FORMATS, parseFormats, serializePost, type PostSnapshot} from '../../src/content/post-serializer.ts';
import {addPost, deletePost, editPost, resolvePublishing, type PostChange, type PostContext} from '../../src/content/posts.ts';
import {DIALECTS, createStore, type TestStore} from '../support/herald.ts';

const FIXTURES = path.resolve('..', 'shared', 'ghost-fixtures', 'payloads');

/** The `current` keys of a real Ghost delivery, minus mobiledoc (Ghost 6 dropped it). */
function fixtureKeys(file: string, resource: 'post' | 'page'): string[] {
  const body = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')).body;
  return Object.keys(body[resource].current).filter((k) => k !== 'mobiledoc');
}

/** A Lexical document of the given children under root. */
function doc(...children: unknown[]): string {
  return JSON.stringify({root: {type: 'root', version: 1, children}});
}
const text = (t: string, format = 0) => ({type: 'extended-text', text: t, format, version: 1});
const paragraph = (...children: unknown[]) => ({type: 'paragraph', children, version: 1});

describe('lexical rendering', () => {
  test('renders the prose nodes and escapes text', () => {
    const html = renderLexical(parseLexical(doc(
      {type: 'heading', tag: 'h1', children: [text('Title')]},
      paragraph(text('a < b & '), text('bold', 1), text(' '), text('italic', 2), text(' '), text('both', 3), {type: 'linebreak'}, text('next')),
      {type: 'quote', children: [text('quoted')]},
      {type: 'list', listType: 'bullet', children: [{type: 'listitem', children: [text('one')]}, {type: 'listitem', children: [text('two')]}]},
      {type: 'list', listType: 'number', start: 3, children: [{type: 'listitem', children: [text('three')]}]},
      paragraph({type: 'link', url: 'https://example.com/?a=1&b="2"', children: [{type: 'text', text: 'link', format: 0}]}),
      {type: 'html', html: '<div class="raw">kept</div>'},
      {type: 'heading', tag: 'script', children: [text('bad tag')]},
      {type: 'mystery-card', children: [text('inner')]},
    )));
    assert.equal(html, [
      '<h1>Title</h1>',
      '<p>a &lt; b &amp; <strong>bold</strong> <em>italic</em> <strong><em>both</em></strong><br>next</p>',
      '<blockquote>quoted</blockquote>',
      '<ul><li>one</li><li>two</li></ul>',
      '<ol start="3"><li>three</li></ol>',
      '<p><a href="https://example.com/?a=1&amp;b=&quot;2&quot;">link</a></p>',
      '<div class="raw">kept</div>',
      '<h2>bad tag</h2>',
      'inner',
    ].join(''));
  });

  test('parseLexical rejects what is not a Lexical JSON document with a 422 on lexical', () => {
    for (const bad of ['not json', '[]', '{"root": 5}', 'null', '"text"', '{}']) {
      assert.throws(() => parseLexical(bad), (e: unknown) => e instanceof HeraldError && e.status === 422 && e.property === 'lexical', bad);
    }
  });

  test('htmlToLexical makes one html card that renders back to the same html', () => {
    const html = '<p>Hello <em>world</em></p>';
    const lexical = htmlToLexical(html);
    assert.deepEqual(JSON.parse(lexical), {root: {children: [{type: 'html', version: 1, html}], direction: null, format: '', indent: 0, type: 'root', version: 1}});
    assert.equal(renderLexical(parseLexical(lexical)), html);
  });

  test('plaintext strips tags, decodes entities and collapses whitespace', () => {
    assert.equal(htmlToPlaintext('<p>Hello anchor world.</p>'), 'Hello anchor world.');
    assert.equal(htmlToPlaintext('<h1>T</h1>\n\n  <p>a &amp; b&nbsp;&lt;c&gt; &#39;q&#x27; &quot;d&quot;</p><p>x<br>y</p>'), 'T\n\na & b <c> \'q\' "d"\n\nx\ny');
    assert.equal(htmlToPlaintext('<style>p{}</style><script>alert(1)</script><!-- note --><span>  spaced    out </span>'), 'spaced out');
    assert.equal(htmlToPlaintext('&amp;lt; &unknown;'), '&lt; &unknown;');
    assert.equal(htmlToPlaintext(''), '');
  });

  test('word count, reading time and excerpt', () => {
    assert.equal(countWords('Hello anchor world.'), 3);
    assert.equal(countWords(' — a, b '), 2);
    assert.equal(readingTime('Hello anchor world.'), 0);
    assert.equal(readingTime(Array(550).fill('word').join(' ')), 2);
    assert.equal(readingTime(null), 0);
    assert.equal(excerptOf('Custom', 'Plain'), 'Custom');
    assert.equal(excerptOf(null, 'One\n\nTwo'), 'One Two');
    assert.equal(excerptOf(null, 'x'.repeat(600))!.length, 500);
    assert.equal(excerptOf(null, null), null);
    assert.equal(excerptOf('', null), null);
  });
});

const STAMP = '2026-11-28T08:09:09.000Z';

function row(type: 'post' | 'page', overrides: Partial<PostsTable> = {}): PostsTable {
  return {
    id: '6b0a8c25116f123f0ab0dfc5', uuid: '89ab36f2-9df9-4636-b543-4a30d1796745', type, title: 'Anchor', slug: 'anchor',
    lexical: htmlToLexical('<p>Hello anchor world.</p>'), html: '<p>Hello anchor world.</p>', plaintext: 'Hello anchor world.',
    feature_image: null, feature_image_alt: null, feature_image_caption: null, featured: 0, status: 'draft', visibility: 'public',
    custom_excerpt: null, codeinjection_head: null, codeinjection_foot: null, custom_template: null, canonical_url: null,
    og_image: null, og_title: null, og_description: null, twitter_image: null, twitter_title: null, twitter_description: null,
    meta_title: null, meta_description: null, email_subject: null, frontmatter: null, show_title_and_feature_image: 1,
    published_at: null, created_at: STAMP, updated_at: STAMP, ...overrides,
  };
}

const TAG: TagsTable = {
  id: '6b0a8c24116f123f0ab0dfc3', name: 'News', slug: 'news', description: null, feature_image: null, visibility: 'public',
  og_image: null, og_title: null, og_description: null, twitter_image: null, twitter_title: null, twitter_description: null,
  meta_title: null, meta_description: null, codeinjection_head: null, codeinjection_foot: null, canonical_url: null,
  accent_color: null, created_at: STAMP, updated_at: STAMP,
};

const AUTHOR = {
  user: {
    id: '1', name: 'Owner', slug: 'owner', email: 'owner@example.com', password: null, status: 'active', role_id: 'r1',
    profile_image: null, cover_image: null, bio: null, website: null, location: null, facebook: null, twitter: null,
    meta_title: null, meta_description: null, last_seen: null, created_at: STAMP, updated_at: STAMP,
  },
  role: {id: 'r1', name: 'Owner', description: 'Site Owner', created_at: STAMP, updated_at: STAMP},
};

describe('post serializer', () => {
  const SITE = 'http://127.0.0.1:2368';
  const snapshot = (type: 'post' | 'page', overrides: Partial<PostsTable> = {}): PostSnapshot => ({row: row(type, overrides), tags: [TAG], authors: [AUTHOR]});

  test('webhook formats give exactly the fixture keys, in order, for posts and pages', () => {
    assert.deepEqual(Object.keys(serializePost(snapshot('post'), SITE, {formats: WEBHOOK_FORMATS})), fixtureKeys('post.published.json', 'post'));
    assert.deepEqual(Object.keys(serializePost(snapshot('page'), SITE, {formats: WEBHOOK_FORMATS})), fixtureKeys('page.added.json', 'page'));
  });

  test('the Admin API default puts lexical where mobiledoc sat and leaves out html and plaintext', () => {
    const expected = (file: string, resource: 'post' | 'page') => {
      const keys = Object.keys(JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')).body[resource].current);
      return keys.map((k) => (k === 'mobiledoc' ? 'lexical' : k)).filter((k) => k !== 'html' && k !== 'plaintext');
    };
    assert.deepEqual(Object.keys(serializePost(snapshot('post'), SITE)), expected('post.published.json', 'post'));
    assert.deepEqual(Object.keys(serializePost(snapshot('page'), SITE, {formats: ADMIN_DEFAULT_FORMATS})), expected('page.added.json', 'page'));
  });

  test('values: neutral fields, urls, relations, excerpt', () => {
    const draft = serializePost(snapshot('post'), SITE, {formats: ['html', 'plaintext', 'lexical']});
    assert.equal(draft.url, `${SITE}/p/89ab36f2-9df9-4636-b543-4a30d1796745/`);
    assert.equal(draft.comment_id, draft.id);
    assert.equal(draft.featured, false);
    assert.equal(draft.excerpt, 'Hello anchor world.');
    assert.equal(draft.reading_time, 0);
    assert.deepEqual(draft.post_revisions, []);
    assert.deepEqual(draft.tiers, []);
    assert.deepEqual(draft.count, {clicks: 0, positive_feedback: 0, negative_feedback: 0});
    assert.equal(draft.email_segment, 'all');
    assert.equal(draft.email_only, false);
    assert.equal((draft.primary_tag as {slug: string}).slug, 'news');
    assert.equal((draft.primary_author as {slug: string}).slug, 'owner');
    assert.equal('email' in (draft.authors as object[])[0]!, false);

    const published = serializePost(snapshot('page', {status: 'published', published_at: STAMP, custom_excerpt: 'Mine'}), SITE);
    assert.equal(published.url, `${SITE}/anchor/`);
    assert.equal(published.excerpt, 'Mine');
    assert.equal(published.show_title_and_feature_image, true);

    const bare = serializePost({row: row('post', {html: null, plaintext: null, lexical: null}), tags: [], authors: []}, SITE);
    assert.equal(bare.primary_tag, null);
    assert.equal(bare.primary_author, null);
    assert.equal(bare.excerpt, null);
  });

  test('parseFormats: default, lists, mobiledoc ignored, fields add formats, junk is a 422', () => {
    assert.deepEqual(parseFormats(undefined), ['lexical']);
    assert.deepEqual(parseFormats('html'), ['html']);
    assert.deepEqual(parseFormats('html, plaintext,lexical'), ['html', 'plaintext', 'lexical']);
    assert.deepEqual(parseFormats('mobiledoc'), []);
    assert.deepEqual(parseFormats(undefined, 'title,html'), ['lexical', 'html']);
    assert.throws(() => parseFormats('pdf'), (e: unknown) => e instanceof HeraldError && e.property === 'formats');
  });
});

describe('publishing rules (pure)', () => {
  const now = new Date('2026-01-01T00:00:00.000Z');
  const future = '2026-01-02T00:00:00.000Z';
  const past = '2025-12-31T00:00:00.000Z';
  const is422 = (property: string) => (e: unknown) => e instanceof HeraldError && e.status === 422 && e.property === property;

  test('add', () => {
    assert.deepEqual(resolvePublishing(null, {}, now), {status: 'draft', published_at: null});
    assert.deepEqual(resolvePublishing(null, {status: 'published'}, now), {status: 'published', published_at: now.toISOString()});
    assert.deepEqual(resolvePublishing(null, {status: 'published', publishedAt: past}, now), {status: 'published', published_at: past});
    assert.deepEqual(resolvePublishing(null, {status: 'scheduled', publishedAt: future}, now), {status: 'scheduled', published_at: future});
    assert.throws(() => resolvePublishing(null, {status: 'scheduled'}, now), is422('published_at'));
    assert.throws(() => resolvePublishing(null, {status: 'scheduled', publishedAt: past}, now), is422('published_at'));
    assert.throws(() => resolvePublishing(null, {status: 'scheduled', publishedAt: now.toISOString()}, now), is422('published_at'));
  });

  test('edit', () => {
    const published = {status: 'published' as const, published_at: past};
    const scheduled = {status: 'scheduled' as const, published_at: past};
    assert.throws(() => resolvePublishing(published, {status: 'scheduled', publishedAt: future}, now), is422('status'));
    assert.deepEqual(resolvePublishing(published, {status: 'draft'}, now), {status: 'draft', published_at: past});
    assert.deepEqual(resolvePublishing({status: 'draft', published_at: null}, {status: 'published'}, now), {status: 'published', published_at: now.toISOString()});
    // A scheduled post whose time has come may still be edited; moving its date needs a future one.
    assert.deepEqual(resolvePublishing(scheduled, {}, now), scheduled);
    assert.throws(() => resolvePublishing(scheduled, {publishedAt: '2025-12-30T00:00:00.000Z'}, now), is422('published_at'));
    assert.deepEqual(resolvePublishing(scheduled, {status: 'draft'}, now), {status: 'draft', published_at: past});
  });
});

for (const dialect of DIALECTS) {
  describe(`post change records (${dialect})`, () => {
    let store: TestStore;
    let database: Database;
    let clock = new Date('2026-03-01T10:00:00.000Z');
    const ctx = (): PostContext => ({database, now: clock, random: cryptoRandom});
    const tick = () => {
      clock = new Date(clock.getTime() + 1000);
    };
    const slugs = (tags: readonly TagsTable[]) => tags.map((t) => t.slug);

    before(async () => {
      store = await createStore(dialect);
      database = await openDatabase(loadConfig({...store.flags}, {}));
    });
    after(async () => {
      await database?.close();
      await store?.drop();
    });

    test('add, edit tags, edit fields, no-op, reorder, delete', async () => {
      await addPost(ctx(), 'post', {title: 'Seed', tags: ['Existing']});
      tick();
      const calls: PostChange[] = [];
      const onChange = async (_trx: unknown, change: PostChange) => void calls.push(change);

      const added = await addPost(ctx(), 'post', {title: 'Story', tags: ['Fresh', {name: 'existing'}]}, {onChange});
      assert.equal(added.before, null);
      assert.equal(added.type, 'post');
      assert.deepEqual(added.changedFields, []);
      assert.deepEqual(slugs(added.attachedTags), ['fresh', 'existing']);
      assert.deepEqual(slugs(added.createdTags), ['fresh']);
      assert.deepEqual(added.detachedTags, []);
      assert.equal(added.after!.authors[0]!.user.password, null);
      assert.equal(calls.length, 1);
      const id = added.after!.row.id;
      let updatedAt = added.after!.row.updated_at;

      tick();
      const retagged = await editPost(ctx(), 'post', id, {updated_at: updatedAt, tags: ['existing', 'Brand New']}, {onChange});
      assert.deepEqual(retagged.changedFields, ['updated_at', 'tags']);
      assert.deepEqual(slugs(retagged.attachedTags), ['brand-new']);
      assert.deepEqual(slugs(retagged.detachedTags), ['fresh']);
      assert.deepEqual(slugs(retagged.createdTags), ['brand-new']);
      assert.deepEqual(slugs(retagged.before!.tags), ['fresh', 'existing']);
      assert.deepEqual(slugs(retagged.after!.tags), ['existing', 'brand-new']);
      assert.notEqual(retagged.after!.row.updated_at, updatedAt);
      updatedAt = retagged.after!.row.updated_at;

      tick();
      const published = await editPost(ctx(), 'post', id, {updated_at: updatedAt, title: 'Story 2', status: 'published'}, {onChange});
      assert.deepEqual([...published.changedFields].sort(), ['published_at', 'status', 'title', 'updated_at']);
      assert.deepEqual(published.attachedTags, []);
      assert.deepEqual(published.detachedTags, []);
      assert.equal(published.before!.row.status, 'draft');
      assert.equal(published.after!.row.published_at, clock.toISOString());
      updatedAt = published.after!.row.updated_at;

      tick();
      const callsBefore = calls.length;
      const noop = await editPost(ctx(), 'post', id, {updated_at: updatedAt, title: 'Story 2', status: 'published', tags: [{slug: 'existing'}, 'Brand New']}, {onChange});
      assert.deepEqual(noop.changedFields, []);
      assert.deepEqual(noop.attachedTags, []);
      assert.deepEqual(noop.detachedTags, []);
      assert.deepEqual(noop.createdTags, []);
      assert.equal(noop.after, noop.before);
      assert.equal(noop.after!.row.updated_at, updatedAt);
      assert.equal(calls.length, callsBefore, 'no hook call for a save that changed nothing');

      tick();
      const reordered = await editPost(ctx(), 'post', id, {updated_at: updatedAt, tags: [{slug: 'brand-new'}, 'Existing']});
      assert.deepEqual(reordered.changedFields, ['updated_at', 'tags']);
      assert.deepEqual(reordered.attachedTags, []);
      assert.deepEqual(reordered.detachedTags, []);
      updatedAt = reordered.after!.row.updated_at;

      const removed = await deletePost(ctx(), 'post', id, {onChange});
      assert.equal(removed.after, null);
      assert.equal(removed.before!.row.id, id);
      assert.deepEqual(slugs(removed.detachedTags), ['brand-new', 'existing']);
      assert.equal(calls.at(-1), removed);
      assert.equal((await database.db.selectFrom('posts_tags').select('id').where('post_id', '=', id).execute()).length, 0);
      assert.equal((await database.db.selectFrom('posts_authors').select('id').where('post_id', '=', id).execute()).length, 0);
    });

    test('the hook runs inside the transaction, and its failure rolls everything back', async () => {
      let seen: string | undefined;
      await addPost(ctx(), 'page', {title: 'Hooked'}, {
        onChange: async (trx, change) => {
          seen = (await trx.selectFrom('posts').select('title').where('id', '=', change.after!.row.id).executeTakeFirst())?.title;
        },
      });
      assert.equal(seen, 'Hooked');

      const count = async () => (await database.db.selectFrom('posts').select('id').execute()).length;
      const postsBefore = await count();
      await assert.rejects(addPost(ctx(), 'post', {title: 'Doomed', tags: ['Never Made']}, {onChange: async () => {
        throw new Error('outbox failed');
      }}), /outbox failed/);
      assert.equal(await count(), postsBefore);
      assert.equal(await database.db.selectFrom('tags').select('id').where('slug', '=', 'never-made').executeTakeFirst(), undefined);
    });

    test('a 422 or 409 half way leaves nothing written', async () => {
      const base = await addPost(ctx(), 'post', {title: 'Guarded'});
      tick();
      // A new tag is resolved before the unknown author fails: it must not survive.
      await assert.rejects(addPost(ctx(), 'post', {title: 'X', tags: ['Orphan Tag'], authors: [{slug: 'nobody'}]}), (e: unknown) => e instanceof HeraldError && e.property === 'authors');
      assert.equal(await database.db.selectFrom('tags').select('id').where('slug', '=', 'orphan-tag').executeTakeFirst(), undefined);
      // Stale updated_at with a real change: 409, and the tag created on the way is rolled back.
      await assert.rejects(editPost(ctx(), 'post', base.after!.row.id, {updated_at: '2020-01-01T00:00:00.000Z', title: 'Changed', tags: ['Orphan Two']}), (e: unknown) => e instanceof HeraldError && e.code === 'UPDATE_COLLISION');
      assert.equal(await database.db.selectFrom('tags').select('id').where('slug', '=', 'orphan-two').executeTakeFirst(), undefined);
      const stored = await database.db.selectFrom('posts').selectAll().where('id', '=', base.after!.row.id).executeTakeFirstOrThrow();
      assert.equal(stored.title, 'Guarded');
    });
  });
}
