import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {DIALECTS, request, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';

const FIXTURES = path.resolve('..', 'shared', 'ghost-fixtures', 'payloads');
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The `current` keys of a real Ghost delivery, minus mobiledoc (Ghost 6 dropped it). */
function fixtureKeys(file: string, resource: 'post' | 'page'): string[] {
  const body = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')).body;
  return Object.keys(body[resource].current).filter((k) => k !== 'mobiledoc');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

/** A matcher for the client's rejection: Ghost's error type, and the property when given. */
function ghostError(name: string, property?: string) {
  return (error: any) => {
    assert.equal(error.name, name, `${error.name}: ${error.message} (${error.context})`);
    if (property !== undefined) assert.equal(error.property, property);
    return true;
  };
}

/** A small Lexical document: one heading and one paragraph with bold text. */
const LEXICAL = JSON.stringify({
  root: {
    type: 'root', version: 1, direction: 'ltr', format: '', indent: 0,
    children: [
      {type: 'heading', tag: 'h2', version: 1, children: [{type: 'extended-text', text: 'Heading', format: 0, version: 1}]},
      {type: 'paragraph', version: 1, children: [
        {type: 'extended-text', text: 'Some ', format: 0, version: 1},
        {type: 'extended-text', text: 'bold', format: 1, version: 1},
        {type: 'extended-text', text: ' words.', format: 0, version: 1},
      ]},
    ],
  },
});

for (const dialect of DIALECTS) {
  describe(`posts and pages through @tryghost/admin-api (${dialect})`, () => {
    let herald: TestHerald;
    before(async () => {
      herald = await startHerald(dialect);
    });
    after(async () => herald?.close());

    /** Raw request with a valid Admin token, for what the client cannot express. */
    const raw = async (method: string, pathname: string, body?: unknown) => {
      const authorization = await adminToken(herald.integration.admin_key);
      return request(herald, method, `/ghost/api/admin${pathname}`, {body, headers: {authorization}});
    };

    test('add with source=html stores html, plaintext, excerpt and an html-card lexical', async () => {
      const html = '<p>Hello <strong>anchor</strong> &amp; world.</p><p>Second paragraph.</p>';
      const post = await herald.api.posts.add({title: 'From HTML', html}, {source: 'html'});
      assert.match(post.id, /^[0-9a-f]{24}$/);
      assert.equal(post.slug, 'from-html');
      assert.equal(post.status, 'draft');
      assert.equal(post.published_at, null);
      assert.match(post.created_at, ISO_MS);
      assert.equal(post.created_at, post.updated_at);
      assert.equal(post.url, `${herald.url}/p/${post.uuid}/`);
      assert.equal(post.excerpt, 'Hello anchor & world. Second paragraph.');
      assert.equal(post.reading_time, 0);
      assert.equal('html' in post, false, 'the Admin API default leaves html out');
      assert.equal('plaintext' in post, false);
      assert.deepEqual(JSON.parse(post.lexical).root.children, [{type: 'html', version: 1, html}]);

      const full = await herald.api.posts.read({id: post.id}, {formats: 'html,plaintext,lexical'});
      assert.equal(full.html, html);
      assert.equal(full.plaintext, 'Hello anchor & world.\n\nSecond paragraph.');
      assert.equal(full.lexical, post.lexical);
    });

    test('add with lexical renders html; html without source=html is ignored; mobiledoc is ignored', async () => {
      const post = await herald.api.posts.add({title: 'From Lexical', lexical: LEXICAL, html: '<p>ignored</p>', mobiledoc: '{"ignored":true}'}, {formats: 'html,plaintext'});
      assert.equal(post.html, '<h2>Heading</h2><p>Some <strong>bold</strong> words.</p>');
      assert.equal(post.plaintext, 'Heading\n\nSome bold words.');
      assert.equal(post.excerpt, 'Heading Some bold words.');
      assert.equal('mobiledoc' in post, false);
      assert.equal('lexical' in post, false, 'formats=html,plaintext leaves lexical out');

      const edited = await herald.api.posts.edit({id: post.id, updated_at: post.updated_at, html: '<p>also ignored</p>'}, {formats: 'html'});
      assert.equal(edited.html, post.html);
      assert.equal(edited.updated_at, post.updated_at);

      const empty = await herald.api.posts.add({title: 'Empty'}, {formats: 'html,plaintext,lexical'});
      assert.equal(empty.html, null);
      assert.equal(empty.plaintext, null);
      assert.equal(empty.lexical, null);
      assert.equal(empty.excerpt, null);
    });

    test('read by id and by slug; key sets and order match Ghost minus mobiledoc', async () => {
      const tag = `k-${Date.now()}`;
      const post = await herald.api.posts.add({title: 'Keys post', tags: [tag], custom_excerpt: 'Custom'});
      const page = await herald.api.pages.add({title: 'Keys page'});

      const byId = await herald.api.posts.read({id: post.id}, {formats: 'html,plaintext'});
      const bySlug = await herald.api.posts.read({slug: post.slug}, {formats: 'html,plaintext'});
      assert.deepEqual(bySlug, byId);
      assert.deepEqual(Object.keys(byId), fixtureKeys('post.published.json', 'post'));
      assert.deepEqual(Object.keys(await herald.api.pages.read({id: page.id}, {formats: 'html,plaintext'})), fixtureKeys('page.added.json', 'page'));

      // The default (lexical) puts lexical where mobiledoc sat.
      const defaultKeys = fixtureKeys('post.published.json', 'post').filter((k) => k !== 'html' && k !== 'plaintext');
      defaultKeys.splice(defaultKeys.indexOf('slug') + 1, 0, 'lexical');
      assert.deepEqual(Object.keys(post), defaultKeys);

      assert.equal(byId.excerpt, 'Custom');
      assert.equal(byId.comment_id, post.id);
      assert.deepEqual(byId.tiers, []);
      assert.deepEqual(byId.post_revisions, []);
      assert.deepEqual(byId.count, {clicks: 0, positive_feedback: 0, negative_feedback: 0});
      assert.equal(byId.email_segment, 'all');
      assert.equal(byId.email_only, false);
      assert.equal(byId.featured, false);
      assert.equal(byId.primary_tag.slug, tag);
      assert.equal(byId.primary_tag.url, `${herald.url}/tag/${tag}/`);
    });

    test('authors default to the owner, never show an e-mail, and must exist', async () => {
      const post = await herald.api.posts.add({title: 'Authored'});
      assert.equal(post.authors.length, 1);
      assert.equal(post.authors[0].roles[0].name, 'Owner');
      assert.equal('email' in post.authors[0], false);
      assert.deepEqual(post.primary_author, post.authors[0]);

      const bySlug = await herald.api.posts.add({title: 'By slug', authors: [{slug: post.authors[0].slug}]});
      assert.equal(bySlug.authors[0].id, post.authors[0].id);
      await assert.rejects(herald.api.posts.add({title: 'Ghostwritten', authors: [{id: 'ffffffffffffffffffffffff'}]}), ghostError('ValidationError', 'authors'));
      await assert.rejects(herald.api.posts.add({title: 'Nobody', authors: []}), ghostError('ValidationError', 'authors'));
    });

    test('tags as strings and objects: created on the fly, found by name, slug and id, in order', async () => {
      const existing = await herald.api.tags.add({name: 'Existing Tag', slug: 'existing-tag'});
      const post = await herald.api.posts.add({
        title: 'Tagged',
        tags: ['Fresh One', {name: 'existing tag'}, {slug: 'brand-slug'}, {id: existing.id}],
      });
      assert.deepEqual(post.tags.map((t: any) => t.slug), ['fresh-one', 'existing-tag', 'brand-slug']);
      assert.equal(post.primary_tag.slug, 'fresh-one');
      assert.equal((await herald.api.tags.read({slug: 'fresh-one'})).name, 'Fresh One');

      await sleep(5);
      // Tags present replace the list (order kept); changing only tags bumps updated_at.
      const retagged = await herald.api.posts.edit({id: post.id, updated_at: post.updated_at, tags: [{slug: 'brand-slug'}, 'Existing Tag']});
      assert.deepEqual(retagged.tags.map((t: any) => t.slug), ['brand-slug', 'existing-tag']);
      assert.notEqual(retagged.updated_at, post.updated_at);

      // Tags absent leave the list alone.
      await sleep(5);
      const retitled = await herald.api.posts.edit({id: post.id, updated_at: retagged.updated_at, title: 'Tagged again'});
      assert.deepEqual(retitled.tags.map((t: any) => t.slug), ['brand-slug', 'existing-tag']);

      const cleared = await herald.api.posts.edit({id: post.id, updated_at: retitled.updated_at, tags: []});
      assert.deepEqual(cleared.tags, []);
      assert.equal(cleared.primary_tag, null);
      await assert.rejects(herald.api.posts.edit({id: post.id, updated_at: cleared.updated_at, tags: [{id: 'aaaaaaaaaaaaaaaaaaaaaaaa'}]}), ghostError('ValidationError', 'tags'));
    });

    test('browse: limit, page, order, filters, fields, formats', async () => {
      const tag = `b-${Date.now()}`;
      const other = `o-${Date.now()}`;
      const a = await herald.api.posts.add({title: 'Browse A', tags: [tag], status: 'published', published_at: '2026-01-01T00:00:00.000Z', featured: true});
      const b = await herald.api.posts.add({title: 'Browse B', tags: [tag, other], status: 'published', published_at: '2026-01-02T00:00:00.000Z'});
      const c = await herald.api.posts.add({title: 'Browse C', tags: [other], lexical: LEXICAL});
      await herald.api.pages.add({title: 'Browse page', tags: [tag], status: 'published'});

      const list = await herald.api.posts.browse({filter: `tag:${tag}`, limit: 1});
      assert.equal(list.length, 1);
      assert.equal(list[0].id, b.id, 'default order is published_at desc');
      assert.deepEqual(list.meta.pagination, {page: 1, limit: 1, pages: 2, total: 2, next: 2, prev: null});
      const second = await herald.api.posts.browse({filter: `tag:${tag}`, limit: 1, page: 2});
      assert.equal(second[0].id, a.id);
      assert.deepEqual(second.meta.pagination, {page: 2, limit: 1, pages: 2, total: 2, next: null, prev: 1});

      const ordered = await herald.api.posts.browse({filter: `tags:[${tag},${other}]`, order: 'title asc'});
      assert.deepEqual(ordered.map((p: any) => p.title), ['Browse A', 'Browse B', 'Browse C']);
      const both = await herald.api.posts.browse({filter: `tags.slug:${tag}+tags.slug:${other}`});
      assert.deepEqual(both.map((p: any) => p.id), [b.id]);
      const published = await herald.api.posts.browse({filter: `status:published+tags:[${tag},${other}]`, order: 'published_at asc'});
      assert.deepEqual(published.map((p: any) => p.id), [a.id, b.id]);
      const notTagged = await herald.api.posts.browse({filter: `tag:-${tag}+tag:${other}`});
      assert.deepEqual(notTagged.map((p: any) => p.id), [c.id]);
      assert.deepEqual((await herald.api.posts.browse({filter: `id:'${c.id}'`})).map((p: any) => p.id), [c.id]);
      assert.deepEqual((await herald.api.posts.browse({filter: `featured:true+tag:${tag}`})).map((p: any) => p.id), [a.id]);
      assert.deepEqual((await herald.api.posts.browse({filter: `primary_tag:${other}`})).map((p: any) => p.id), [c.id]);
      const byAuthor = await herald.api.posts.browse({filter: `author:${a.authors[0].slug}+tag:${tag}`});
      assert.equal(byAuthor.length, 2);
      const pages = await herald.api.pages.browse({filter: `tag:${tag}`});
      assert.deepEqual(pages.map((p: any) => p.title), ['Browse page']);

      const picked = await herald.api.posts.browse({filter: `id:'${c.id}'`, fields: 'title,slug'});
      assert.deepEqual(Object.keys(picked[0]), ['id', 'title', 'slug']);
      const withHtml = await herald.api.posts.browse({filter: `id:'${c.id}'`, formats: 'html', include: 'tags,authors'});
      assert.equal(withHtml[0].html, '<h2>Heading</h2><p>Some <strong>bold</strong> words.</p>');
      assert.equal('lexical' in withHtml[0], false);
      assert.equal(withHtml[0].tags[0].slug, other);
      const readFields = await herald.api.posts.read({id: c.id}, {fields: 'title,html'});
      assert.deepEqual(readFields, {id: c.id, title: 'Browse C', html: withHtml[0].html});

      await assert.rejects(herald.api.posts.browse({order: 'password asc'}), ghostError('BadRequestError', 'order'));
      await assert.rejects(herald.api.posts.browse({filter: 'secret:1'}), ghostError('BadRequestError'));
      await assert.rejects(herald.api.posts.browse({formats: 'pdf'}), ghostError('ValidationError', 'formats'));
    });

    test('edit needs updated_at; a stale one with a real change is a 409, without a change it is accepted', async () => {
      const post = await herald.api.posts.add({title: 'Collide'});
      await assert.rejects(herald.api.posts.edit({id: post.id, title: 'No stamp'}), ghostError('ValidationError', 'updated_at'));
      await assert.rejects(herald.api.posts.edit({id: post.id, title: 'Bad stamp', updated_at: 'yesterday-ish'}), ghostError('ValidationError', 'updated_at'));

      await sleep(5);
      const edited = await herald.api.posts.edit({id: post.id, updated_at: post.updated_at, title: 'Collide 2'});
      assert.equal(edited.title, 'Collide 2');
      assert.notEqual(edited.updated_at, post.updated_at);
      assert.equal(edited.created_at, post.created_at);

      // Stale updated_at (the original) with a real change.
      await assert.rejects(herald.api.posts.edit({id: post.id, updated_at: post.updated_at, title: 'Collide 3'}), (error: any) => {
        assert.equal(error.name, 'UpdateCollisionError');
        assert.equal(error.code, 'UPDATE_COLLISION');
        return true;
      });
      const response = await raw('PUT', `/posts/${post.id}/`, {posts: [{updated_at: post.updated_at, title: 'Collide 3'}]});
      assert.equal(response.status, 409);

      // Stale updated_at and nothing changes: accepted, nothing written.
      const same = await herald.api.posts.edit({id: post.id, updated_at: post.updated_at, title: 'Collide 2'});
      assert.equal(same.updated_at, edited.updated_at);

      // The same instant written another way (offset, no milliseconds) is not stale.
      const instant = new Date(edited.updated_at);
      const offset = new Date(instant.getTime() + 3_600_000).toISOString().replace('Z', '+01:00');
      const viaOffset = await herald.api.posts.edit({id: post.id, updated_at: offset, title: 'Collide 4'});
      assert.equal(viaOffset.title, 'Collide 4');
    });

    test('a save that changes nothing keeps updated_at, even when the whole GET response is sent back', async () => {
      const post = await herald.api.posts.add({title: 'Round trip', tags: ['Round'], lexical: LEXICAL, custom_excerpt: 'Short'});
      await sleep(5);
      const fetched = await herald.api.posts.read({id: post.id}, {formats: 'html,plaintext,lexical'});
      const {id, ...body} = fetched;
      const saved = await herald.api.posts.edit({id, ...body});
      assert.deepEqual(saved.updated_at, post.updated_at);
      assert.deepEqual(saved.tags, post.tags);
      const again = await herald.api.posts.edit({id, updated_at: post.updated_at, title: 'Round trip'});
      assert.equal(again.updated_at, post.updated_at);
    });

    test('publish, unpublish, schedule, reschedule, unschedule', async () => {
      const post = await herald.api.posts.add({title: 'Lifecycle'});
      const published = await herald.api.posts.edit({id: post.id, updated_at: post.updated_at, status: 'published'});
      assert.equal(published.status, 'published');
      assert.match(published.published_at, ISO_MS);
      assert.ok(Math.abs(Date.parse(published.published_at) - Date.now()) < 60_000);
      assert.equal(published.url, `${herald.url}/lifecycle/`);

      await assert.rejects(herald.api.posts.edit({id: post.id, updated_at: published.updated_at, status: 'scheduled', published_at: inDays(1)}), ghostError('ValidationError', 'status'));

      await sleep(5);
      const unpublished = await herald.api.posts.edit({id: post.id, updated_at: published.updated_at, status: 'draft'});
      assert.equal(unpublished.status, 'draft');
      assert.equal(unpublished.published_at, published.published_at, 'unpublishing keeps the date');
      assert.equal(unpublished.url, `${herald.url}/p/${post.uuid}/`);

      await assert.rejects(herald.api.posts.edit({id: post.id, updated_at: unpublished.updated_at, status: 'scheduled', published_at: inDays(-1)}), ghostError('ValidationError', 'published_at'));
      await assert.rejects(herald.api.posts.edit({id: post.id, updated_at: unpublished.updated_at, status: 'scheduled'}), ghostError('ValidationError', 'published_at'));
      await sleep(5);
      const tomorrow = inDays(1);
      const scheduled = await herald.api.posts.edit({id: post.id, updated_at: unpublished.updated_at, status: 'scheduled', published_at: tomorrow});
      assert.equal(scheduled.status, 'scheduled');
      assert.equal(scheduled.published_at, tomorrow);

      await sleep(5);
      const later = inDays(2);
      const rescheduled = await herald.api.posts.edit({id: post.id, updated_at: scheduled.updated_at, published_at: later});
      assert.equal(rescheduled.published_at, later);
      await assert.rejects(herald.api.posts.edit({id: post.id, updated_at: rescheduled.updated_at, published_at: inDays(-2)}), ghostError('ValidationError', 'published_at'));

      await sleep(5);
      const unscheduled = await herald.api.posts.edit({id: post.id, updated_at: rescheduled.updated_at, status: 'draft'});
      assert.equal(unscheduled.status, 'draft');

      // Created directly in each state.
      const direct = await herald.api.posts.add({title: 'Direct', status: 'published'});
      assert.match(direct.published_at, ISO_MS);
      const dated = await herald.api.posts.add({title: 'Dated', status: 'published', published_at: '2020-05-05T05:05:05.000Z'});
      assert.equal(dated.published_at, '2020-05-05T05:05:05.000Z');
      const future = await herald.api.pages.add({title: 'Future page', status: 'scheduled', published_at: tomorrow});
      assert.equal(future.status, 'scheduled');
      await assert.rejects(herald.api.posts.add({title: 'Past', status: 'scheduled', published_at: inDays(-1)}), ghostError('ValidationError', 'published_at'));
      await assert.rejects(herald.api.posts.add({title: 'Undated', status: 'scheduled'}), ghostError('ValidationError', 'published_at'));
    });

    test('slugs: from the title or the body, unique across posts and pages, kept on edit', async () => {
      const first = await herald.api.posts.add({title: 'Same Title!'});
      const second = await herald.api.pages.add({title: 'Same Title!'});
      const third = await herald.api.posts.add({title: 'Other', slug: 'Same Title'});
      assert.deepEqual([first.slug, second.slug, third.slug], ['same-title', 'same-title-2', 'same-title-3']);

      const retitled = await herald.api.posts.edit({id: first.id, updated_at: first.updated_at, title: 'Renamed'});
      assert.equal(retitled.slug, 'same-title');
      const reslugged = await herald.api.posts.edit({id: first.id, updated_at: retitled.updated_at, slug: 'same-title-2'});
      assert.equal(reslugged.slug, 'same-title-2-2', 'taken by the page');
      const own = await herald.api.posts.edit({id: first.id, updated_at: reslugged.updated_at, slug: 'same-title-2-2'});
      assert.equal(own.updated_at, reslugged.updated_at);
    });

    test('posts and pages are separate; delete answers 204 and the post is gone', async () => {
      const post = await herald.api.posts.add({title: 'Only a post'});
      const page = await herald.api.pages.add({title: 'Only a page', show_title_and_feature_image: false});
      assert.equal(page.show_title_and_feature_image, false);
      assert.equal('email_segment' in page, false);
      await assert.rejects(herald.api.pages.read({id: post.id}), ghostError('NotFoundError'));
      await assert.rejects(herald.api.posts.read({id: page.id}), ghostError('NotFoundError'));
      await assert.rejects(herald.api.posts.read({slug: page.slug}), ghostError('NotFoundError'));
      await assert.rejects(herald.api.posts.edit({id: page.id, updated_at: page.updated_at, title: 'x'}), ghostError('NotFoundError'));
      await assert.rejects(herald.api.pages.delete({id: post.id}), ghostError('NotFoundError'));
      assert.equal((await herald.api.posts.browse({filter: `id:'${page.id}'`})).length, 0);

      const response = await raw('DELETE', `/pages/${page.id}/`);
      assert.equal(response.status, 204);
      assert.equal(response.text, '');
      assert.equal(await herald.api.posts.delete({id: post.id}), '');
      await assert.rejects(herald.api.posts.read({id: post.id}), ghostError('NotFoundError'));
      await assert.rejects(herald.api.pages.read({id: page.id}), ghostError('NotFoundError'));
      await assert.rejects(herald.api.posts.delete({id: post.id}), ghostError('NotFoundError'));
      const links = await herald.database.db.selectFrom('posts_authors').select('id').where('post_id', 'in', [post.id, page.id]).execute();
      assert.equal(links.length, 0);
    });

    test('single responses carry no meta; browse always does', async () => {
      const created = await raw('POST', '/posts/', {posts: [{title: 'Envelope'}]});
      assert.equal(created.status, 201);
      assert.deepEqual(Object.keys(created.body), ['posts']);
      const read = await raw('GET', `/posts/${created.body.posts[0].id}/`);
      assert.deepEqual(Object.keys(read.body), ['posts']);
      const list = await raw('GET', `/posts/?filter=id:'${created.body.posts[0].id}'`);
      assert.deepEqual(Object.keys(list.body), ['posts', 'meta']);
    });

    test('bad input is a 422 naming the property, and writes nothing', async () => {
      const table: Array<[string, Record<string, unknown>, string]> = [
        ['title missing', {status: 'draft'}, 'title'],
        ['title a number', {title: 5}, 'title'],
        ['title blank', {title: '   '}, 'title'],
        ['title too long', {title: 'x'.repeat(2001)}, 'title'],
        ['tags a string', {title: 't', tags: 'x'}, 'tags'],
        ['tags a number item', {title: 't', tags: [5]}, 'tags'],
        ['tags an empty object', {title: 't', tags: [{}]}, 'tags'],
        ['status a number', {title: 't', status: 7}, 'status'],
        ['status unknown', {title: 't', status: 'sent'}, 'status'],
        ['published_at garbage', {title: 't', published_at: 'garbage'}, 'published_at'],
        ['published_at a boolean', {title: 't', published_at: true}, 'published_at'],
        ['featured a string', {title: 't', featured: 'yes'}, 'featured'],
        ['visibility unknown', {title: 't', visibility: 'friends'}, 'visibility'],
        ['lexical not JSON', {title: 't', lexical: 'not json'}, 'lexical'],
        ['lexical an object', {title: 't', lexical: {root: {}}}, 'lexical'],
        ['slug a number', {title: 't', slug: 5}, 'slug'],
        ['custom_excerpt too long', {title: 't', custom_excerpt: 'x'.repeat(301)}, 'custom_excerpt'],
        ['meta_title a number', {title: 't', meta_title: 1}, 'meta_title'],
        ['authors not a list', {title: 't', authors: 'me'}, 'authors'],
        ['authors a string item', {title: 't', authors: ['me']}, 'authors'],
        ['unknown author with a new tag', {title: 't', tags: ['Never Created'], authors: [{email: 'nobody@example.com'}]}, 'authors'],
        ['published_at past year 9999', {title: 't', published_at: '+010000-01-01T00:00:00.000Z'}, 'published_at'],
        // PostgreSQL cannot store U+0000 in text: a 422, never an SQL error.
        ['NUL in title', {title: 'a\u0000b'}, 'title'],
        ['NUL in lexical text', {title: 't', lexical: JSON.stringify({root: {children: [{type: 'text', text: '\u0000'}]}})}, 'lexical'],
        ['NUL in a tag', {title: 't', tags: ['\u0000']}, 'tags'],
      ];
      const count = async () => (await herald.database.db.selectFrom('posts').select('id').execute()).length;
      const before = await count();
      for (const [name, body, property] of table) {
        await assert.rejects(herald.api.posts.add(body), (error: any) => {
          assert.equal(error.name, 'ValidationError', `${name}: ${error.name} ${error.message}`);
          assert.equal(error.property, property, name);
          return true;
        });
      }
      assert.equal(await count(), before);
      await assert.rejects(herald.api.tags.read({slug: 'never-created'}), ghostError('NotFoundError'));

      const post = await herald.api.posts.add({title: 'Target'});
      for (const [name, body, property] of table.filter(([, b]) => b.title === 't')) {
        await assert.rejects(herald.api.posts.edit({id: post.id, updated_at: post.updated_at, ...body, title: 'Target'}), (error: any) => {
          assert.equal(error.name, 'ValidationError', `edit ${name}: ${error.name} ${error.message}`);
          assert.equal(error.property, property, `edit ${name}`);
          return true;
        });
      }
      await assert.rejects(herald.api.posts.edit({id: post.id, updated_at: post.updated_at, title: null}), ghostError('ValidationError', 'title'));
      assert.equal((await herald.api.posts.read({id: post.id})).updated_at, post.updated_at);

      // Query options and body envelopes.
      assert.equal((await raw('POST', '/posts/?source=markdown', {posts: [{title: 'md'}]})).body.errors[0].property, 'source');
      assert.equal((await raw('POST', '/posts/?formats=pdf', {posts: [{title: 'pdf'}]})).status, 422);
      assert.equal((await raw('POST', '/posts/', {posts: []})).status, 422);
      assert.equal((await raw('POST', '/posts/', {title: 'no envelope'})).status, 422);
      assert.equal(await count(), before + 1);

      assert.equal((await raw('GET', "/posts/?filter=title:'a%00b'")).status, 400);
      // A NUL in the URL is refused before routing, on every resource alike.
      assert.equal((await raw('GET', '/posts/slug/a%00b/')).status, 400);
      assert.equal((await raw('PUT', '/posts/a%00b/', {posts: [{updated_at: post.updated_at}]})).status, 400);
      assert.equal((await raw('GET', '/posts/?page=99999999999999999999')).body.errors[0].property, 'page');
    });

    test('concurrent saves: same-title adds get distinct slugs; two edits from one copy give one 409', async () => {
      const adds = await Promise.all(Array.from({length: 5}, () => herald.api.posts.add({title: 'Race Day', tags: ['Race Tag']})));
      assert.equal(new Set(adds.map((p: any) => p.slug)).size, 5);
      assert.equal(new Set(adds.map((p: any) => p.tags[0].id)).size, 1, 'the tag made on the fly exists once');

      const post = adds[0];
      await sleep(5);
      const results = await Promise.allSettled([
        herald.api.posts.edit({id: post.id, updated_at: post.updated_at, title: 'Winner A'}),
        herald.api.posts.edit({id: post.id, updated_at: post.updated_at, title: 'Winner B'}),
      ]);
      const statuses = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as any).name)).sort();
      assert.deepEqual(statuses, ['UpdateCollisionError', 'ok']);
    });
  });
}
