/**
 * The 29 Ghost webhook events: the one list every other module reads.
 */

/** Every event name, in Ghost's documented order. */
export const EVENT_NAMES = [
  'site.changed',
  'post.added',
  'post.deleted',
  'post.edited',
  'post.published',
  'post.published.edited',
  'post.unpublished',
  'post.scheduled',
  'post.unscheduled',
  'post.rescheduled',
  'page.added',
  'page.deleted',
  'page.edited',
  'page.published',
  'page.published.edited',
  'page.unpublished',
  'page.scheduled',
  'page.unscheduled',
  'page.rescheduled',
  'tag.added',
  'tag.edited',
  'tag.deleted',
  'post.tag.attached',
  'post.tag.detached',
  'page.tag.attached',
  'page.tag.detached',
  'member.added',
  'member.edited',
  'member.deleted',
] as const;

/** One of the 29 event names. */
export type EventName = (typeof EVENT_NAMES)[number];

const NAMES = new Set<string>(EVENT_NAMES);

/** True when `name` is one of the 29 events. */
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && NAMES.has(name);
}

/** The payload's resource key for an event (`post.tag.attached` → `post`), or null for site.changed. */
export function resourceOf(name: EventName): 'post' | 'page' | 'tag' | 'member' | null {
  const head = name.split('.')[0];
  return head === 'site' ? null : (head as 'post' | 'page' | 'tag' | 'member');
}
