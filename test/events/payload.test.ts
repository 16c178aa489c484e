import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {detectMemberEvents, detectPostEvents, detectSettingsEvents, detectTagEvents, type DetectedEvent} from '../../src/events/detect.ts';
import {buildPayload, buildPayloads} from '../../src/events/payload.ts';
import type {PostType} from '../../src/content/posts.ts';
import {assertLikeGhost, changed, created, deleted, edited, fixture, memberOutput, SITE, snapshot, sorted, T1, tagRow} from './support.ts';

/** The body Herald builds for the event called `name` among `events`. */
function body(events: DetectedEvent[], name: string): Record<string, any> {
  const index = events.findIndex((e) => e.name === name);
  assert.ok(index >= 0, `${name} not among ${events.map((e) => e.name).join(', ')}`);
  return JSON.parse(buildPayloads(events, SITE)[index]!);
}


for (const type of ['post', 'page'] as const satisfies readonly PostType[]) {
  describe(`${type} payloads against Ghost's real deliveries`, () => {
    const attachTag = tagRow('attach tag');

    test(`${type}.added (create draft)`, () => {
      const ours = body(detectPostEvents(created(snapshot(type, 'draft'))), `${type}.added`);
      assertLikeGhost(ours, `${type}.added`, type);
      assert.deepEqual(ours[type].previous, {});
      assert.equal(ours[type].current.html, '<p>Hello anchor world.</p>');
      assert.equal(ours[type].current.plaintext, 'Hello anchor world.');
    });

    test(`${type}.edited (draft title)`, () => {
      const before = snapshot(type, 'draft');
      const ours = body(detectPostEvents(changed(before, edited(before, {title: 'Anchor (edited)'}))), `${type}.edited`);
      assertLikeGhost(ours, `${type}.edited`, type);
      assert.deepEqual(ours[type].previous, {title: 'Anchor', updated_at: before.row.updated_at});
      assert.equal(ours[type].current.title, 'Anchor (edited)');
    });

    test(`${type}.published (publish a draft)`, () => {
      const before = snapshot(type, 'draft');
      const ours = body(detectPostEvents(changed(before, edited(before, {status: 'published', published_at: T1}))), `${type}.published`);
      assertLikeGhost(ours, `${type}.published`, type);
      assert.deepEqual(ours[type].previous, {status: 'draft', published_at: null, updated_at: before.row.updated_at});
    });

    test(`${type}.published.edited (published title)`, () => {
      const before = snapshot(type, 'published');
      assertLikeGhost(body(detectPostEvents(changed(before, edited(before, {title: 'x'}))), `${type}.published.edited`), `${type}.published.edited`, type);
    });

    test(`${type}.tag.attached: previous is exactly the old tag list`, () => {
      const before = snapshot(type, 'published');
      const ours = body(detectPostEvents(changed(before, edited(before, {}, [attachTag]))), `${type}.tag.attached`);
      assertLikeGhost(ours, `${type}.tag.attached`, type);
      assert.deepEqual(ours[type].previous, {tags: []});
      assert.deepEqual(ours[type].current.tags.map((t: any) => t.id), [attachTag.id]);
      assert.equal(ours[type].current.primary_tag.id, attachTag.id);
    });

    test(`${type}.tag.detached: previous.tags holds the removed tag`, () => {
      const before = snapshot(type, 'published', {}, [attachTag]);
      const ours = body(detectPostEvents(changed(before, edited(before, {}, []))), `${type}.tag.detached`);
      assertLikeGhost(ours, `${type}.tag.detached`, type);
      const ghostTag = fixture(`${type}.tag.detached`)[type].previous.tags[0];
      assert.deepEqual(sorted(ours[type].previous.tags[0]), sorted(ghostTag));
      assert.deepEqual(ours[type].current.tags, []);
    });

    test(`${type}.unpublished (published → draft)`, () => {
      const before = snapshot(type, 'published');
      assertLikeGhost(body(detectPostEvents(changed(before, edited(before, {status: 'draft'}))), `${type}.unpublished`), `${type}.unpublished`, type);
    });

    test(`${type}.scheduled, rescheduled, unscheduled`, () => {
      const draft = snapshot(type, 'draft', {published_at: '2026-11-28T07:00:00.000Z'});
      assertLikeGhost(body(detectPostEvents(changed(draft, edited(draft, {status: 'scheduled', published_at: '2026-11-29T08:00:00.000Z'}))), `${type}.scheduled`), `${type}.scheduled`, type);
      const scheduled = snapshot(type, 'scheduled');
      assertLikeGhost(body(detectPostEvents(changed(scheduled, edited(scheduled, {published_at: '2026-11-30T08:00:00.000Z'}))), `${type}.rescheduled`), `${type}.rescheduled`, type);
      assertLikeGhost(body(detectPostEvents(changed(scheduled, edited(scheduled, {status: 'draft'}))), `${type}.unscheduled`), `${type}.unscheduled`, type);
    });

    test(`${type}.deleted: current {} and the whole old ${type} as previous`, () => {
      const before = snapshot(type, 'draft');
      const ours = body(detectPostEvents(deleted(before)), `${type}.deleted`);
      assertLikeGhost(ours, `${type}.deleted`, type);
      assert.deepEqual(ours[type].current, {});
      assert.equal(ours[type].previous.id, before.row.id);
      assert.equal(ours[type].previous.title, 'Anchor');
    });

    test(`events a delete fires carry current {}: ${type}.unpublished and ${type}.tag.detached`, () => {
      const events = detectPostEvents(deleted(snapshot(type, 'published', {}, [attachTag])));
      const detached = body(events, `${type}.tag.detached`);
      assert.deepEqual(detached[type].current, {});
      assert.deepEqual(detached[type].previous.tags.map((t: any) => t.id), [attachTag.id]);
      const unpublished = body(events, `${type}.unpublished`);
      assert.deepEqual(unpublished[type].current, {});
      assert.equal(unpublished[type].previous.status, 'published');
    });

    test('created with a tag: tag.attached carries previous {tags: []}, added and published carry {}', () => {
      const events = detectPostEvents(created(snapshot(type, 'published', {}, [attachTag]), [attachTag]));
      assert.deepEqual(body(events, `${type}.tag.attached`)[type].previous, {tags: []});
      assert.deepEqual(body(events, `${type}.added`)[type].previous, {});
      assert.deepEqual(body(events, `${type}.published`)[type].previous, {});
      assertLikeGhost(body(events, 'tag.added'), 'tag.added', 'tag');
    });

    test('authors never carry the staff e-mail address', () => {
      const payloads = buildPayloads(detectPostEvents(created(snapshot(type, 'published'))), SITE);
      for (const payload of payloads) assert.ok(!payload.includes('ada@example.com'), payload.slice(0, 200));
      const ours = JSON.parse(payloads[0]!);
      assert.equal(ours[type].current.authors[0].id, '1');
      assert.ok(!('email' in ours[type].current.authors[0]));
      assert.ok(!('email' in ours[type].current.primary_author));
    });
  });
}

describe('tag payloads', () => {
  test('tag.added, tag.edited, tag.deleted like Ghost', () => {
    const row = tagRow('Anchor Tag', {description: 'first'});
    assertLikeGhost(body(detectTagEvents({before: null, after: row, changedFields: []}), 'tag.added'), 'tag.added', 'tag');
    const after = {...row, name: 'Anchor Tag Edited', description: 'second', updated_at: T1};
    const editedBody = body(detectTagEvents({before: row, after, changedFields: ['name', 'description', 'updated_at']}), 'tag.edited');
    assertLikeGhost(editedBody, 'tag.edited', 'tag');
    assert.deepEqual(editedBody.tag.previous, {name: 'Anchor Tag', description: 'first', updated_at: row.updated_at});
    assert.equal(editedBody.tag.current.url, `${SITE}/tag/anchor-tag/`);
    const deletedBody = body(detectTagEvents({before: after, after: null, changedFields: []}), 'tag.deleted');
    assertLikeGhost(deletedBody, 'tag.deleted', 'tag');
    assert.deepEqual(deletedBody.tag.current, {});
    assert.equal(deletedBody.tag.previous.name, 'Anchor Tag Edited');
  });
});

describe('member payloads', () => {
  test('member.added, member.edited, member.deleted like Ghost', () => {
    const before = memberOutput({name: 'Anchor Member'});
    assertLikeGhost(body(detectMemberEvents({before: null, after: before, changedFields: []}), 'member.added'), 'member.added', 'member');
    const after = {...before, name: 'Anchor Member Edited', note: 'edited', updated_at: T1};
    const editedBody = body(detectMemberEvents({before, after, changedFields: ['name', 'note', 'updated_at']}), 'member.edited');
    assertLikeGhost(editedBody, 'member.edited', 'member');
    assert.deepEqual(editedBody.member.previous, {name: 'Anchor Member', note: null, updated_at: before.updated_at});
    assertLikeGhost(body(detectMemberEvents({before: after, after: null, changedFields: []}), 'member.deleted'), 'member.deleted', 'member');
  });
});

describe('site.changed payload', () => {
  test('is exactly {"event":"site.changed"}', () => {
    const [event] = detectSettingsEvents({before: {}, after: {}, changedKeys: ['title']});
    assert.equal(buildPayload(event!, SITE), '{"event":"site.changed"}');
  });
});

describe('payload form', () => {
  test('every body starts with the event key and is plain JSON.stringify output', () => {
    const before = snapshot('post', 'published', {}, [tagRow('x')]);
    const events = [
      ...detectPostEvents(changed(before, edited(before, {title: 'y'}, []))),
      ...detectPostEvents(deleted(before)),
    ];
    for (const payload of buildPayloads(events, SITE)) {
      assert.ok(payload.startsWith('{"event":"'), payload.slice(0, 40));
      assert.equal(JSON.stringify(JSON.parse(payload)), payload);
    }
  });
});
