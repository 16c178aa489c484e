import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {DIALECTS, startHerald, type TestHerald} from '../support/herald.ts';

for (const dialect of DIALECTS) {
  describe(`tags through @tryghost/admin-api (${dialect})`, () => {
    let herald: TestHerald;
    before(async () => {
      herald = await startHerald(dialect);
    });
    after(async () => herald?.close());

    test('add, read by id and slug, browse, edit, delete', async () => {
      const tag = await herald.api.tags.add({name: 'Breaking News', description: 'Hot'});
      assert.match(tag.id, /^[0-9a-f]{24}$/);
      assert.equal(tag.slug, 'breaking-news');
      assert.equal(tag.url, `${herald.url}/tag/breaking-news/`);
      assert.match(tag.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      assert.equal((await herald.api.tags.read({id: tag.id})).name, 'Breaking News');
      assert.equal((await herald.api.tags.read({slug: 'breaking-news'})).id, tag.id);

      const list = await herald.api.tags.browse({limit: 10, filter: "slug:breaking-news"});
      assert.equal(list.length, 1);
      assert.deepEqual(list.meta.pagination, {page: 1, limit: 10, pages: 1, total: 1, next: null, prev: null});

      const edited = await herald.api.tags.edit({id: tag.id, name: 'Old News'});
      assert.equal(edited.name, 'Old News');
      assert.equal(edited.slug, 'breaking-news');

      assert.equal(await herald.api.tags.delete({id: tag.id}), '');
      await assert.rejects(herald.api.tags.read({id: tag.id}), (error: any) => error.name === 'NotFoundError');
    });

    test('a second tag with the same name gets a suffixed slug; missing name is a 422', async () => {
      const a = await herald.api.tags.add({name: 'Dup'});
      const b = await herald.api.tags.add({name: 'Dup', slug: 'dup'});
      assert.equal(a.slug, 'dup');
      assert.equal(b.slug, 'dup-2');
      await assert.rejects(herald.api.tags.add({description: 'no name'}), (error: any) => error.name === 'ValidationError' && error.property === 'name');
    });

    test('a save that changes nothing keeps updated_at', async () => {
      const tag = await herald.api.tags.add({name: 'Stable'});
      await new Promise((r) => setTimeout(r, 5));
      const same = await herald.api.tags.edit({id: tag.id, name: 'Stable'});
      assert.equal(same.updated_at, tag.updated_at);
    });

    test('browse paginates and orders', async () => {
      for (const name of ['p-a', 'p-b', 'p-c']) await herald.api.tags.add({name});
      const page1 = await herald.api.tags.browse({limit: 2, page: 1, order: 'slug asc', filter: 'slug:~^\'p-\''});
      const page2 = await herald.api.tags.browse({limit: 2, page: 2, order: 'slug asc', filter: 'slug:~^\'p-\''});
      assert.deepEqual(page1.map((t: any) => t.slug), ['p-a', 'p-b']);
      assert.deepEqual(page2.map((t: any) => t.slug), ['p-c']);
      assert.equal(page1.meta.pagination.next, 2);
      assert.equal(page2.meta.pagination.prev, 1);
      assert.equal(page2.meta.pagination.total, 3);
    });
  });
}
