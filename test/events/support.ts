/**
 * Builders of change records for the pure event tests: snapshots of posts, tags and members as
 * the content layer reports them, without a database.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type {PostsTable, TagsTable, UsersTable} from '../../src/db/schema.ts';
import type {PostChange, PostSnapshot, PostType} from '../../src/content/posts.ts';
import type {MemberOutput} from '../../src/content/members.ts';

export const SITE = 'https://site.example';
const T0 = '2026-11-28T08:00:00.000Z';
const T1 = '2026-11-28T08:05:00.000Z';

export const OWNER: UsersTable = {
  id: '1', name: 'Ada Owner', slug: 'ada', email: 'ada@example.com', password: null, status: 'active', role_id: 'r1',
  profile_image: null, cover_image: null, bio: null, website: null, location: null, facebook: null, twitter: null,
  meta_title: null, meta_description: null, last_seen: T0, created_at: T0, updated_at: T0,
};
const OWNER_ROLE = {id: 'r1', name: 'Owner', description: 'Blog Owner', created_at: T0, updated_at: T0};

let next = 0;
const hex = () => (++next).toString(16).padStart(24, '0');

/** A tags row. */
export function tagRow(name: string, overrides: Partial<TagsTable> = {}): TagsTable {
  return {
    id: hex(), name, slug: name.toLowerCase().replace(/\W+/g, '-'), description: null, feature_image: null, visibility: 'public',
    og_image: null, og_title: null, og_description: null, twitter_image: null, twitter_title: null, twitter_description: null,
    meta_title: null, meta_description: null, codeinjection_head: null, codeinjection_foot: null, canonical_url: null,
    accent_color: null, created_at: T0, updated_at: T0, ...overrides,
  };
}

/** A post or page snapshot. */
export function snapshot(type: PostType, status: PostsTable['status'], overrides: Partial<PostsTable> = {}, tags: TagsTable[] = []): PostSnapshot {
  const row: PostsTable = {
    id: hex(), uuid: '00000000-0000-4000-8000-000000000001', type, title: 'Anchor', slug: 'anchor', lexical: '{"root":{}}',
    html: '<p>Hello anchor world.</p>', plaintext: 'Hello anchor world.', feature_image: null, feature_image_alt: null,
    feature_image_caption: null, featured: 0, status, visibility: 'public', custom_excerpt: null, codeinjection_head: null,
    codeinjection_foot: null, custom_template: null, canonical_url: null, og_image: null, og_title: null, og_description: null,
    twitter_image: null, twitter_title: null, twitter_description: null, meta_title: null, meta_description: null,
    email_subject: null, frontmatter: null, show_title_and_feature_image: 1,
    published_at: status === 'draft' ? null : status === 'scheduled' ? '2026-11-29T08:00:00.000Z' : T0,
    created_at: T0, updated_at: T0, ...overrides,
  };
  return {row, tags, authors: [{user: OWNER, role: OWNER_ROLE}]};
}

/** `snapshot` after an edit: same id, the given column and tag changes, a new updated_at. */
export function edited(before: PostSnapshot, changes: Partial<PostsTable>, tags: TagsTable[] = [...before.tags]): PostSnapshot {
  return {...before, row: {...before.row, ...changes, updated_at: T1}, tags};
}

/** The change record of an add. */
export function created(after: PostSnapshot, createdTags: TagsTable[] = []): PostChange {
  return {type: after.row.type, before: null, after, changedFields: [], attachedTags: after.tags, detachedTags: [], createdTags};
}

/** The change record of an edit (changedFields computed as editPost does). */
export function changed(before: PostSnapshot, after: PostSnapshot, createdTags: TagsTable[] = []): PostChange {
  const columns = (Object.keys(after.row) as Array<keyof PostsTable>).filter((k) => k !== 'updated_at' && after.row[k] !== before.row[k]);
  const beforeIds = before.tags.map((t) => t.id);
  const afterIds = after.tags.map((t) => t.id);
  const tagsChanged = beforeIds.join() !== afterIds.join();
  const nothing = columns.length === 0 && !tagsChanged;
  return {
    type: after.row.type,
    before,
    after: nothing ? before : after,
    changedFields: nothing ? [] : [...columns, 'updated_at', ...(tagsChanged ? ['tags'] : [])],
    attachedTags: after.tags.filter((t) => !beforeIds.includes(t.id)),
    detachedTags: before.tags.filter((t) => !afterIds.includes(t.id)),
    createdTags,
  };
}

/** The change record of a delete. */
export function deleted(before: PostSnapshot): PostChange {
  return {type: before.row.type, before, after: null, changedFields: [], attachedTags: [], detachedTags: before.tags, createdTags: []};
}

/** A member as the members serialiser shows it. */
export function memberOutput(overrides: Partial<MemberOutput> = {}): MemberOutput {
  return {
    id: hex(), uuid: '00000000-0000-4000-8000-000000000002', email: 'm@example.com', name: 'Member', note: null, geolocation: null,
    subscribed: true, created_at: T0, updated_at: T0, labels: [], subscriptions: [], avatar_image: null, comped: false,
    email_count: 0, email_opened_count: 0, email_open_rate: null, status: 'free', last_seen_at: null, tiers: [],
    newsletters: [{id: 'n1', name: 'Site', description: null, status: 'active'}], ...overrides,
  };
}

/** Ghost's real deliveries, one per event. */
export const FIXTURES = path.resolve('..', 'shared', 'ghost-fixtures', 'payloads');

/** The body of Ghost's real delivery of `event`. */
export function fixture(event: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, `${event}.json`), 'utf8')).body;
}

/** The action (events-by-action.md) during which Ghost sent the fixture of `event`. */
export function fixtureAction(event: string): string {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, `${event}.json`), 'utf8')).action;
}

export const sorted = (o: object) => Object.keys(o).sort();

/**
 * Checks one Herald body against Ghost's: `event` first, the same resource key, every key of
 * Ghost's `current` but mobiledoc (extra keys are fine), and `previous` with exactly Ghost's keys
 * (a superset of them on deletes, where Herald sends the whole resource).
 */
export function assertLikeGhost(ours: Record<string, any>, event: string, resource: string): void {
  const ghost = fixture(event);
  assert.deepEqual(Object.keys(ours), ['event', resource], `${event}: body keys`);
  assert.equal(ours.event, event);
  assert.deepEqual(Object.keys(ours[resource]), ['current', 'previous']);
  const missing = Object.keys(ghost[resource].current).filter((k) => k !== 'mobiledoc' && !(k in ours[resource].current));
  assert.deepEqual(missing, [], `${event}: current lacks Ghost keys`);
  assert.ok(!('mobiledoc' in ours[resource].current) && !('lexical' in ours[resource].current), `${event}: no mobiledoc/lexical`);
  if (event.endsWith('.deleted')) {
    const lacking = Object.keys(ghost[resource].previous).filter((k) => k !== 'mobiledoc' && !(k in ours[resource].previous));
    assert.deepEqual(lacking, [], `${event}: previous lacks Ghost keys`);
  } else {
    assert.deepEqual(sorted(ours[resource].previous), sorted(ghost[resource].previous), `${event}: previous keys`);
  }
}

export {T0, T1};
