/**
 * Change → events: pure functions from the change records the content layer computes inside
 * its transactions to the ordered list of webhook events Ghost would fire for that change
 * (SPEC §4, ghost-fixtures/events-by-action.md). No I/O, no clock: table-tested exhaustively.
 *
 * An event here is not yet a payload: it names the resource states (`current`, `previous`) and
 * which serialised keys of `previous` the body keeps; events/payload.ts turns that into JSON.
 */
import type {PostChange, PostSnapshot, PostType} from '../content/posts.ts';
import type {TagChange} from '../content/tags.ts';
import type {MemberChange, MemberOutput} from '../content/members.ts';
import type {SettingsChange} from '../content/settings.ts';
import type {TagsTable} from '../db/schema.ts';
import type {EventName} from './names.ts';

/** A resource as it was or is, in the form its serialiser takes. */
export type ResourceState =
  | {readonly kind: 'post'; readonly snapshot: PostSnapshot}
  | {readonly kind: 'tag'; readonly row: TagsTable}
  | {readonly kind: 'member'; readonly member: MemberOutput};

/** The payload's resource key (`post`, `page`, `tag`, `member`); null for site.changed. */
export type ResourceType = 'post' | 'page' | 'tag' | 'member';

/** One event to fire, in emission order. */
export interface DetectedEvent {
  readonly name: EventName;
  /** Stored in events.resource_type; null for site.changed. */
  readonly resourceType: ResourceType | null;
  readonly resourceId: string | null;
  /** The resource after the change; null gives `current: {}` (deletes, and what a delete fires). */
  readonly current: ResourceState | null;
  /** The resource before the change; null gives `previous: {}` (adds). */
  readonly previous: ResourceState | null;
  /** The serialised keys of `previous` the body keeps: a list, or 'all' (deletes). */
  readonly previousKeys: readonly string[] | 'all';
}

/** The one `site.changed` event of a transaction. */
export const SITE_CHANGED: DetectedEvent = Object.freeze({
  name: 'site.changed',
  resourceType: null,
  resourceId: null,
  current: null,
  previous: null,
  previousKeys: [],
});

const post = (snapshot: PostSnapshot): ResourceState => ({kind: 'post', snapshot});
const tag = (row: TagsTable): ResourceState => ({kind: 'tag', row});
const member = (value: MemberOutput): ResourceState => ({kind: 'member', member: value});

/** `post.published` / `page.published` …: pages fire the same events under their own prefix. */
function named(type: PostType, suffix: string): EventName {
  return `${type}.${suffix}` as EventName;
}

/** `tag.added` for a tag created on the fly or through the tags API. */
function tagAdded(row: TagsTable): DetectedEvent {
  return {name: 'tag.added', resourceType: 'tag', resourceId: row.id, current: tag(row), previous: null, previousKeys: []};
}

/**
 * Events of one post/page write. Order is Ghost's: tags created on the fly (`tag.added`), then
 * the relation events (`*.tag.detached`, `*.tag.attached`, one per tag), then the post's own
 * events, then `site.changed` when the public site changed (the post is or was published).
 * A save that changed nothing fires nothing.
 */
export function detectPostEvents(change: PostChange): DetectedEvent[] {
  const {type, before, after} = change;
  const events: DetectedEvent[] = change.createdTags.map(tagAdded);

  if (before === null && after !== null) {
    // Create. Nothing existed before, so `previous` is {} except the old (empty) tag list that
    // tag.attached always carries.
    const id = after.row.id;
    const noTags = post({...after, tags: []});
    for (const _ of change.attachedTags) {
      events.push({name: named(type, 'tag.attached'), resourceType: type, resourceId: id, current: post(after), previous: noTags, previousKeys: ['tags']});
    }
    events.push({name: named(type, 'added'), resourceType: type, resourceId: id, current: post(after), previous: null, previousKeys: []});
    const status = after.row.status;
    if (status === 'published' || status === 'scheduled') {
      events.push({name: named(type, status), resourceType: type, resourceId: id, current: post(after), previous: null, previousKeys: []});
    }
    return withSiteChanged(events, status === 'published');
  }

  if (before !== null && after === null) {
    // Delete: what a delete fires carries `current: {}` and the whole post as `previous`,
    // except the detach events, whose `previous` is the old tag list.
    const id = before.row.id;
    for (const _ of change.detachedTags) {
      events.push({name: named(type, 'tag.detached'), resourceType: type, resourceId: id, current: null, previous: post(before), previousKeys: ['tags']});
    }
    const wasPublished = before.row.status === 'published';
    if (wasPublished) {
      events.push({name: named(type, 'unpublished'), resourceType: type, resourceId: id, current: null, previous: post(before), previousKeys: 'all'});
    }
    events.push({name: named(type, 'deleted'), resourceType: type, resourceId: id, current: null, previous: post(before), previousKeys: 'all'});
    // ★ Deleting a draft or scheduled post changes nothing public: no site.changed.
    return withSiteChanged(events, wasPublished);
  }

  if (before === null || after === null || change.changedFields.length === 0) return [];

  // Edit.
  const id = after.row.id;
  const relation = (suffix: 'tag.detached' | 'tag.attached'): DetectedEvent => ({
    name: named(type, suffix),
    resourceType: type,
    resourceId: id,
    current: post(after),
    previous: post(before),
    previousKeys: ['tags'],
  });
  for (const _ of change.detachedTags) events.push(relation('tag.detached'));
  for (const _ of change.attachedTags) events.push(relation('tag.attached'));

  const own = (suffix: string): DetectedEvent => ({
    name: named(type, suffix),
    resourceType: type,
    resourceId: id,
    current: post(after),
    previous: post(before),
    previousKeys: change.changedFields,
  });
  const was = before.row.status;
  const is = after.row.status;
  if (was !== is) {
    // Ghost's onUpdated: the scheduler's scheduled → published fires `published`, not `unscheduled`.
    if (was === 'published') events.push(own('unpublished'));
    if (is === 'published') events.push(own('published'));
    if (is === 'scheduled') events.push(own('scheduled'));
    if (was === 'scheduled' && is === 'draft') events.push(own('unscheduled'));
  } else {
    if (is === 'published') events.push(own('published.edited'));
    if (is === 'scheduled' && before.row.published_at !== after.row.published_at) events.push(own('rescheduled'));
  }
  events.push(own('edited'));
  return withSiteChanged(events, was === 'published' || is === 'published');
}

/** Events of one tag write: `tag.added|edited|deleted`, each altering the public site. */
export function detectTagEvents(change: TagChange): DetectedEvent[] {
  const {before, after} = change;
  if (before === null && after !== null) return withSiteChanged([tagAdded(after)], true);
  if (before !== null && after === null) {
    return withSiteChanged([{name: 'tag.deleted', resourceType: 'tag', resourceId: before.id, current: null, previous: tag(before), previousKeys: 'all'}], true);
  }
  if (before === null || after === null || change.changedFields.length === 0) return [];
  return withSiteChanged(
    [{name: 'tag.edited', resourceType: 'tag', resourceId: after.id, current: tag(after), previous: tag(before), previousKeys: change.changedFields}],
    true,
  );
}

/** Events of one member write: `member.added|edited|deleted`. Members are not public: no site.changed. */
export function detectMemberEvents(change: MemberChange): DetectedEvent[] {
  const {before, after} = change;
  if (before === null && after !== null) {
    return [{name: 'member.added', resourceType: 'member', resourceId: after.id, current: member(after), previous: null, previousKeys: []}];
  }
  if (before !== null && after === null) {
    return [{name: 'member.deleted', resourceType: 'member', resourceId: before.id, current: null, previous: member(before), previousKeys: 'all'}];
  }
  if (before === null || after === null || change.changedFields.length === 0) return [];
  return [{name: 'member.edited', resourceType: 'member', resourceId: after.id, current: member(after), previous: member(before), previousKeys: change.changedFields}];
}

/** A settings edit that changed some value fires `site.changed`, and nothing else. */
export function detectSettingsEvents(change: SettingsChange): DetectedEvent[] {
  return change.changedKeys.length > 0 ? [SITE_CHANGED] : [];
}

/** Appends `site.changed` when `alters`. */
function withSiteChanged(events: DetectedEvent[], alters: boolean): DetectedEvent[] {
  if (alters) events.push(SITE_CHANGED);
  return events;
}

/**
 * The events of one transaction from the lists of its changes: every event in order, with
 * `site.changed` at most once and last (Ghost fires it once per response, not per model event).
 */
export function combineEvents(...lists: ReadonlyArray<readonly DetectedEvent[]>): DetectedEvent[] {
  const all = lists.flat();
  const rest = all.filter((event) => event.name !== 'site.changed');
  return rest.length === all.length ? rest : [...rest, SITE_CHANGED];
}
