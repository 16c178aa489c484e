/**
 * The actions of ghost-fixtures/events-by-action.md, replayed through the official client, each
 * with the events Herald must fire for it (SPEC §4; ★ deletes of drafts/scheduled fire no
 * site.changed). Shared by the outbox test (events table) and the end-to-end receiver test.
 */
const HTML = '<p>Hello anchor world.</p>';
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

/** Checks one action: runs it and compares the events it fired with `expected`. */
export type ExpectEvents = (action: string, run: () => Promise<unknown>, expected: string[]) => Promise<void>;

/** Replays every post (or page) action in order against `client` (an @tryghost/admin-api instance). */
export async function replayGhostActions(client: any, type: 'post' | 'page', expectEvents: ExpectEvents): Promise<void> {
  const api = type === 'post' ? client.posts : client.pages;
  let tag: any;
  let current: any;
  const edit = (fields: Record<string, unknown>) => async () => {
    current = await api.edit({id: current.id, updated_at: current.updated_at, ...fields});
  };
  const remove = () => api.delete({id: current.id});
  const p = (...suffixes: string[]) => suffixes.map((s) => (s === 'site.changed' || s === 'tag.added' ? s : `${type}.${s}`));

  await expectEvents(`${type}.tag_fixture_create`, async () => (tag = await client.tags.add({name: `${type} attach tag`})), ['tag.added', 'site.changed']);
  await expectEvents(`${type}.create_draft`, async () => (current = await api.add({title: `Anchor ${type}`, html: HTML}, {source: 'html'})), p('added'));
  await expectEvents(`${type}.edit_draft_title`, edit({title: `Anchor ${type} (edited draft)`}), p('edited'));
  await expectEvents(`${type}.edit_draft_noop`, edit({title: `Anchor ${type} (edited draft)`}), []);
  await expectEvents(`${type}.publish`, edit({status: 'published'}), p('published', 'edited', 'site.changed'));
  await expectEvents(`${type}.edit_published_title`, edit({title: `Anchor ${type} (edited published)`}), p('published.edited', 'edited', 'site.changed'));
  await expectEvents(`${type}.edit_published_noop`, edit({title: `Anchor ${type} (edited published)`}), []);
  await expectEvents(`${type}.add_tag`, edit({tags: [{id: tag.id}]}), p('tag.attached', 'published.edited', 'edited', 'site.changed'));
  await expectEvents(`${type}.remove_tag`, edit({tags: []}), p('tag.detached', 'published.edited', 'edited', 'site.changed'));
  await expectEvents(`${type}.unpublish`, edit({status: 'draft'}), p('unpublished', 'edited', 'site.changed'));
  await expectEvents(`${type}.schedule`, edit({status: 'scheduled', published_at: inDays(1)}), p('scheduled', 'edited'));
  await expectEvents(`${type}.reschedule`, edit({published_at: inDays(2)}), p('rescheduled', 'edited'));
  await expectEvents(`${type}.scheduled_other_change`, edit({title: 'Still scheduled'}), p('edited'));
  await expectEvents(`${type}.unschedule`, edit({status: 'draft'}), p('unscheduled', 'edited'));
  await expectEvents(`${type}.delete_draft`, remove, p('deleted'));
  await expectEvents(
    `${type}.create_published_with_new_tag`,
    async () => (current = await api.add({title: `Fresh ${type}`, html: HTML, status: 'published', tags: [{name: `fresh ${type} tag`}]}, {source: 'html'})),
    p('tag.added', 'tag.attached', 'added', 'published', 'site.changed'),
  );
  await expectEvents(`${type}.delete_published`, remove, p('tag.detached', 'unpublished', 'deleted', 'site.changed'));
  await expectEvents(`${type}.create_scheduled`, async () => (current = await api.add({title: 'Later', status: 'scheduled', published_at: inDays(1)})), p('added', 'scheduled'));
  await expectEvents(`${type}.delete_scheduled`, remove, p('deleted'));
}
