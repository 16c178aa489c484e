/**
 * Events → webhook bodies: pure functions. A body is built once per event, stored in
 * events.payload and sent byte-identical on every attempt (SPEC §5):
 * `{"event": name, "<resource>": {"current": {…}, "previous": {…}}}`, `event` first;
 * `site.changed` is exactly `{"event":"site.changed"}`.
 */
import {serializePost, WEBHOOK_FORMATS, type PostSnapshot} from '../content/post-serializer.ts';
import {serializeTag} from '../content/tags.ts';
import type {DetectedEvent, ResourceState} from './detect.ts';
import {resourceOf} from './names.ts';

/** A serialised resource (a JSON object). */
type Json = Record<string, unknown>;

/**
 * Ghost's page `count` (its page payloads carry it on every event but `page.added`); the Admin
 * API serialiser leaves it out of pages, so webhook bodies add it with Ghost's neutral values.
 */
const PAGE_COUNT = Object.freeze({signups: 0, paid_conversions: 0, positive_feedback: 0, negative_feedback: 0});

/** A post or page as webhook bodies show it: the Admin API form with html and plaintext. */
export function webhookPost(snapshot: PostSnapshot, siteUrl: string): Json {
  const out: Json = serializePost(snapshot, siteUrl, {formats: WEBHOOK_FORMATS});
  if (snapshot.row.type === 'page' && !('count' in out)) out.count = {...PAGE_COUNT};
  return out;
}

/** Serialises a resource state the way the Admin API reads it (members already are). */
function serialize(state: ResourceState, siteUrl: string): Json {
  switch (state.kind) {
    case 'post':
      return webhookPost(state.snapshot, siteUrl);
    case 'tag':
      return serializeTag(state.row, siteUrl) as unknown as Json;
    case 'member':
      return state.member as unknown as Json;
  }
}

/** The keys of `full` named in `keys`, in `full`'s order (keys it does not have, such as lexical, drop out). */
function pick(full: Json, keys: readonly string[]): Json {
  const wanted = new Set(keys);
  const out: Json = {};
  for (const key of Object.keys(full)) if (wanted.has(key)) out[key] = full[key];
  return out;
}

/**
 * The JSON body of each event, in order. A snapshot shared by several events is serialised once.
 */
export function buildPayloads(events: readonly DetectedEvent[], siteUrl: string): string[] {
  // Keyed by the underlying snapshot/row, which detect shares between the events of a change.
  const cache = new Map<object, Json>();
  const serialized = (state: ResourceState): Json => {
    const key = state.kind === 'post' ? state.snapshot : state.kind === 'tag' ? state.row : state.member;
    let out = cache.get(key);
    if (!out) {
      out = serialize(state, siteUrl);
      cache.set(key, out);
    }
    return out;
  };
  return events.map((event) => {
    const resource = resourceOf(event.name);
    if (resource === null) return JSON.stringify({event: event.name});
    const current = event.current ? serialized(event.current) : {};
    let previous: Json = {};
    if (event.previous) {
      const full = serialized(event.previous);
      previous = event.previousKeys === 'all' ? full : pick(full, event.previousKeys);
    }
    // `event` first (Ghost 6), then the resource.
    return JSON.stringify({event: event.name, [resource]: {current, previous}});
  });
}

/** The JSON body of one event (see buildPayloads). */
export function buildPayload(event: DetectedEvent, siteUrl: string): string {
  return buildPayloads([event], siteUrl)[0]!;
}
