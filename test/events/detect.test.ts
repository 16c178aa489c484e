import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {combineEvents, detectMemberEvents, detectPostEvents, detectSettingsEvents, detectTagEvents, SITE_CHANGED, type DetectedEvent} from '../../src/events/detect.ts';
import {resolvePublishing, type PostType} from '../../src/content/posts.ts';
import {HeraldError} from '../../src/lib/errors.ts';
import {changed, created, deleted, edited, memberOutput, snapshot, T1, tagRow} from './support.ts';

const names = (events: DetectedEvent[]) => events.map((e) => e.name);
const LATER = '2026-12-01T08:00:00.000Z';

for (const type of ['post', 'page'] as const satisfies readonly PostType[]) {
  // The SPEC §4 table, row by row, with `post.` read as `${type}.`.
  const p = (...suffixes: string[]) => suffixes.map((s) => (s === 'site.changed' ? s : `${type}.${s}`));

  describe(`${type} events (SPEC §4)`, () => {
    test('create draft → added', () => {
      assert.deepEqual(names(detectPostEvents(created(snapshot(type, 'draft')))), p('added'));
    });

    test('create published → added, published, site.changed', () => {
      assert.deepEqual(names(detectPostEvents(created(snapshot(type, 'published')))), p('added', 'published', 'site.changed'));
    });

    test('create scheduled → added, scheduled (no site.changed)', () => {
      assert.deepEqual(names(detectPostEvents(created(snapshot(type, 'scheduled')))), p('added', 'scheduled'));
    });

    test('draft → published → published, edited, site.changed', () => {
      const before = snapshot(type, 'draft');
      const events = detectPostEvents(changed(before, edited(before, {status: 'published', published_at: T1})));
      assert.deepEqual(names(events), p('published', 'edited', 'site.changed'));
      assert.deepEqual(events[0]!.previousKeys, ['status', 'published_at', 'updated_at']);
    });

    test('draft → scheduled → scheduled, edited', () => {
      const before = snapshot(type, 'draft');
      assert.deepEqual(names(detectPostEvents(changed(before, edited(before, {status: 'scheduled', published_at: LATER})))), p('scheduled', 'edited'));
    });

    test('scheduled → published (the scheduler) → published, edited, site.changed; never unscheduled', () => {
      const before = snapshot(type, 'scheduled');
      const events = detectPostEvents(changed(before, edited(before, {status: 'published'})));
      assert.deepEqual(names(events), p('published', 'edited', 'site.changed'));
      assert.deepEqual(events[0]!.previousKeys, ['status', 'updated_at']);
    });

    test('scheduled → draft → unscheduled, edited', () => {
      const before = snapshot(type, 'scheduled');
      assert.deepEqual(names(detectPostEvents(changed(before, edited(before, {status: 'draft'})))), p('unscheduled', 'edited'));
    });

    test('scheduled, published_at changed → rescheduled, edited', () => {
      const before = snapshot(type, 'scheduled');
      const events = detectPostEvents(changed(before, edited(before, {published_at: LATER})));
      assert.deepEqual(names(events), p('rescheduled', 'edited'));
      assert.deepEqual(events[0]!.previousKeys, ['published_at', 'updated_at']);
    });

    test('scheduled, other change → edited', () => {
      const before = snapshot(type, 'scheduled');
      assert.deepEqual(names(detectPostEvents(changed(before, edited(before, {title: 'New'})))), p('edited'));
    });

    test('scheduled, tags change → tag events and edited, no site.changed', () => {
      const before = snapshot(type, 'scheduled');
      const news = tagRow('News');
      assert.deepEqual(names(detectPostEvents(changed(before, edited(before, {}, [news])))), p('tag.attached', 'edited'));
    });

    test('published → draft → unpublished, edited, site.changed', () => {
      const before = snapshot(type, 'published');
      const events = detectPostEvents(changed(before, edited(before, {status: 'draft'})));
      assert.deepEqual(names(events), p('unpublished', 'edited', 'site.changed'));
      assert.deepEqual(events[0]!.previousKeys, ['status', 'updated_at']);
    });

    test('published → scheduled is rejected (422) before anything is written', () => {
      assert.throws(
        () => resolvePublishing({status: 'published', published_at: T1}, {status: 'scheduled', publishedAt: LATER}, new Date(T1)),
        (error: unknown) => error instanceof HeraldError && error.kind === 'Validation',
      );
    });

    test('published, any change → published.edited, edited, site.changed', () => {
      const before = snapshot(type, 'published');
      const events = detectPostEvents(changed(before, edited(before, {title: 'Edited'})));
      assert.deepEqual(names(events), p('published.edited', 'edited', 'site.changed'));
      assert.deepEqual(events.map((e) => e.previousKeys), [['title', 'updated_at'], ['title', 'updated_at'], []]);
    });

    test('published, only published_at changed → published.edited, edited, site.changed (not rescheduled)', () => {
      const before = snapshot(type, 'published');
      assert.deepEqual(names(detectPostEvents(changed(before, edited(before, {published_at: LATER})))), p('published.edited', 'edited', 'site.changed'));
    });

    test('published, tag attached → tag.attached, published.edited, edited, site.changed', () => {
      const before = snapshot(type, 'published');
      const events = detectPostEvents(changed(before, edited(before, {}, [tagRow('News')])));
      assert.deepEqual(names(events), p('tag.attached', 'published.edited', 'edited', 'site.changed'));
      assert.deepEqual(events[0]!.previousKeys, ['tags']);
      assert.equal(events[0]!.previous?.kind === 'post' && events[0]!.previous.snapshot.tags.length, 0);
      assert.deepEqual(events[1]!.previousKeys, ['updated_at', 'tags']);
    });

    test('published, tag detached → tag.detached, published.edited, edited, site.changed', () => {
      const news = tagRow('News');
      const before = snapshot(type, 'published', {}, [news]);
      const events = detectPostEvents(changed(before, edited(before, {}, [])));
      assert.deepEqual(names(events), p('tag.detached', 'published.edited', 'edited', 'site.changed'));
      assert.equal(events[0]!.previous?.kind === 'post' && events[0]!.previous.snapshot.tags[0], news);
    });

    test('tags replaced: one detached per old tag, then one attached per new tag', () => {
      const [a, b, c, d] = ['A', 'B', 'C', 'D'].map((n) => tagRow(n));
      const before = snapshot(type, 'draft', {}, [a!, b!]);
      const events = detectPostEvents(changed(before, edited(before, {}, [b!, c!, d!])));
      assert.deepEqual(names(events), p('tag.detached', 'tag.attached', 'tag.attached', 'edited'));
    });

    test('draft, any change → edited', () => {
      const before = snapshot(type, 'draft');
      const events = detectPostEvents(changed(before, edited(before, {title: 'x', custom_excerpt: 'y'})));
      assert.deepEqual(names(events), p('edited'));
      assert.deepEqual(events[0]!.previousKeys, ['title', 'custom_excerpt', 'updated_at']);
    });

    test('a save that changes nothing → nothing at all', () => {
      for (const status of ['draft', 'published', 'scheduled'] as const) {
        const before = snapshot(type, status);
        assert.deepEqual(detectPostEvents(changed(before, edited(before, {}))), []);
      }
    });

    test('delete draft → deleted (★ no site.changed)', () => {
      const events = detectPostEvents(deleted(snapshot(type, 'draft')));
      assert.deepEqual(names(events), p('deleted'));
      assert.equal(events[0]!.current, null);
      assert.equal(events[0]!.previousKeys, 'all');
    });

    test('delete scheduled → deleted (★ no site.changed)', () => {
      assert.deepEqual(names(detectPostEvents(deleted(snapshot(type, 'scheduled')))), p('deleted'));
    });

    test('delete published with a tag → tag.detached, unpublished, deleted, site.changed; all with current {}', () => {
      const events = detectPostEvents(deleted(snapshot(type, 'published', {}, [tagRow('News')])));
      assert.deepEqual(names(events), p('tag.detached', 'unpublished', 'deleted', 'site.changed'));
      assert.ok(events.every((e) => e.current === null));
      assert.deepEqual(events.map((e) => e.previousKeys), [['tags'], 'all', 'all', []]);
    });

    test('delete draft with two tags → two tag.detached, deleted', () => {
      assert.deepEqual(names(detectPostEvents(deleted(snapshot(type, 'draft', {}, [tagRow('A'), tagRow('B')])))), p('tag.detached', 'tag.detached', 'deleted'));
    });

    test('create published with a new tag → tag.added, tag.attached, added, published, site.changed', () => {
      const news = tagRow('News');
      const events = detectPostEvents(created(snapshot(type, 'published', {}, [news]), [news]));
      assert.deepEqual(names(events), ['tag.added', `${type}.tag.attached`, `${type}.added`, `${type}.published`, 'site.changed']);
      assert.equal(events[0]!.resourceType, 'tag');
      assert.equal(events[0]!.resourceId, news.id);
      assert.equal(events[1]!.resourceType, type);
      assert.deepEqual(events[1]!.previousKeys, ['tags']);
      assert.deepEqual(events.slice(2, 4).map((e) => e.previous), [null, null]);
    });

    test('create with two existing tags and one new → tag.added once, tag.attached three times', () => {
      const [a, b, fresh] = ['A', 'B', 'Fresh'].map((n) => tagRow(n));
      const events = detectPostEvents(created(snapshot(type, 'draft', {}, [a!, b!, fresh!]), [fresh!]));
      assert.deepEqual(names(events), ['tag.added', `${type}.tag.attached`, `${type}.tag.attached`, `${type}.tag.attached`, `${type}.added`]);
    });

    test('a draft save creating a tag → tag.added, tag.attached, edited; no site.changed (as Ghost: drafts are not public)', () => {
      const before = snapshot(type, 'draft');
      const fresh = tagRow('Fresh');
      assert.deepEqual(names(detectPostEvents(changed(before, edited(before, {}, [fresh]), [fresh]))), ['tag.added', `${type}.tag.attached`, `${type}.edited`]);
    });

    test('publish with a new tag: tag events first, one site.changed last', () => {
      const before = snapshot(type, 'draft');
      const fresh = tagRow('Fresh');
      const events = detectPostEvents(changed(before, edited(before, {status: 'published', published_at: T1}, [fresh]), [fresh]));
      assert.deepEqual(names(events), ['tag.added', `${type}.tag.attached`, `${type}.published`, `${type}.edited`, 'site.changed']);
    });

    test('every post event names the post as its resource', () => {
      const before = snapshot(type, 'published', {}, [tagRow('A')]);
      for (const event of detectPostEvents(deleted(before)).filter((e) => e.name !== 'site.changed')) {
        assert.equal(event.resourceType, type);
        assert.equal(event.resourceId, before.row.id);
      }
    });
  });
}

describe('tag events', () => {
  test('add → tag.added, site.changed', () => {
    const row = tagRow('News');
    const events = detectTagEvents({before: null, after: row, changedFields: []});
    assert.deepEqual(names(events), ['tag.added', 'site.changed']);
    assert.equal(events[0]!.previous, null);
  });

  test('edit → tag.edited, site.changed, previous keys = changed columns', () => {
    const before = tagRow('News');
    const after = {...before, name: 'Old news', updated_at: T1};
    const events = detectTagEvents({before, after, changedFields: ['name', 'updated_at']});
    assert.deepEqual(names(events), ['tag.edited', 'site.changed']);
    assert.deepEqual(events[0]!.previousKeys, ['name', 'updated_at']);
  });

  test('a no-op edit → nothing', () => {
    const row = tagRow('News');
    assert.deepEqual(detectTagEvents({before: row, after: row, changedFields: []}), []);
  });

  test('delete → tag.deleted (current {}, previous whole), site.changed', () => {
    const events = detectTagEvents({before: tagRow('News'), after: null, changedFields: []});
    assert.deepEqual(names(events), ['tag.deleted', 'site.changed']);
    assert.equal(events[0]!.current, null);
    assert.equal(events[0]!.previousKeys, 'all');
  });
});

describe('member events (never site.changed)', () => {
  test('add → member.added', () => {
    const after = memberOutput();
    assert.deepEqual(names(detectMemberEvents({before: null, after, changedFields: Object.keys(after)})), ['member.added']);
  });

  test('edit → member.edited with the changed keys', () => {
    const before = memberOutput();
    const after = {...before, name: 'New', updated_at: T1};
    const events = detectMemberEvents({before, after, changedFields: ['name', 'updated_at']});
    assert.deepEqual(names(events), ['member.edited']);
    assert.deepEqual(events[0]!.previousKeys, ['name', 'updated_at']);
  });

  test('a no-op edit → nothing', () => {
    const row = memberOutput();
    assert.deepEqual(detectMemberEvents({before: row, after: row, changedFields: []}), []);
  });

  test('delete → member.deleted', () => {
    const before = memberOutput();
    const events = detectMemberEvents({before, after: null, changedFields: Object.keys(before)});
    assert.deepEqual(names(events), ['member.deleted']);
    assert.equal(events[0]!.current, null);
  });
});

describe('settings events', () => {
  test('a change → site.changed only; no change → nothing', () => {
    assert.deepEqual(names(detectSettingsEvents({before: {title: 'a'}, after: {title: 'b'}, changedKeys: ['title']})), ['site.changed']);
    assert.deepEqual(detectSettingsEvents({before: {title: 'a'}, after: {title: 'a'}, changedKeys: []}), []);
  });
});

describe('site.changed once per transaction', () => {
  test('combineEvents keeps every other event in order and one site.changed, last', () => {
    const post = snapshot('post', 'published');
    const a = detectPostEvents(changed(post, edited(post, {title: 'x'})));
    const b = detectTagEvents({before: null, after: tagRow('T'), changedFields: []});
    const c = detectSettingsEvents({before: {}, after: {}, changedKeys: ['title']});
    assert.deepEqual(names(combineEvents(a, b, c)), ['post.published.edited', 'post.edited', 'tag.added', 'site.changed']);
    assert.deepEqual(names(combineEvents(detectMemberEvents({before: null, after: memberOutput(), changedFields: []}))), ['member.added']);
    assert.deepEqual(combineEvents([SITE_CHANGED, SITE_CHANGED]), [SITE_CHANGED]);
    assert.deepEqual(combineEvents(), []);
  });
});
