/**
 * Tags: validation rules, the repository and the Admin API serialiser. Also finds or creates
 * tags named by posts (`tags: ["News", {slug:"x"}]`).
 *
 * Every write runs in one transaction and reports what it changed (a TagChange) to an optional
 * `onChange` hook inside that transaction, so the outbox can write `tag.*` events atomically.
 */
import {sql, type Transaction} from 'kysely';
import type {Database, Queryable} from '../db/database.ts';
import type {DB, TagsTable} from '../db/schema.ts';
import type {FilterSpec} from '../db/filter.ts';
import {HeraldError, notFound, validationError} from '../lib/errors.ts';
import {objectId, type Random} from '../lib/ids.ts';
import {slugify, uniqueSlug} from '../lib/slug.ts';
import {browsePage, type BrowseQuery, type BrowseSpec, type Pagination} from './browse.ts';
import {optionalEnum, optionalString, requiredString, type Input} from './input.ts';

/** A tag as the Admin API and webhook payloads show it (Ghost's key order). */
export interface TagOutput {
  id: string;
  name: string;
  visibility: string;
  created_at: string;
  updated_at: string;
  slug: string;
  description: string | null;
  feature_image: string | null;
  og_image: string | null;
  og_title: string | null;
  og_description: string | null;
  twitter_image: string | null;
  twitter_title: string | null;
  twitter_description: string | null;
  meta_title: string | null;
  meta_description: string | null;
  codeinjection_head: string | null;
  codeinjection_foot: string | null;
  canonical_url: string | null;
  accent_color: string | null;
  url: string;
  count?: {posts: number};
}

/** Turns a tags row into its API shape. */
export function serializeTag(row: TagsTable, siteUrl: string): TagOutput {
  return {
    id: row.id,
    name: row.name,
    visibility: row.visibility,
    created_at: row.created_at,
    updated_at: row.updated_at,
    slug: row.slug,
    description: row.description,
    feature_image: row.feature_image,
    og_image: row.og_image,
    og_title: row.og_title,
    og_description: row.og_description,
    twitter_image: row.twitter_image,
    twitter_title: row.twitter_title,
    twitter_description: row.twitter_description,
    meta_title: row.meta_title,
    meta_description: row.meta_description,
    codeinjection_head: row.codeinjection_head,
    codeinjection_foot: row.codeinjection_foot,
    canonical_url: row.canonical_url,
    accent_color: row.accent_color,
    url: `${siteUrl}/tag/${row.slug}/`,
  };
}

/** Editable tag columns with their maximum lengths (Ghost's schema). */
const TEXT_FIELDS: ReadonlyArray<readonly [keyof TagsTable, number]> = [
  ['description', 500],
  ['feature_image', 2000],
  ['og_image', 2000],
  ['og_title', 300],
  ['og_description', 500],
  ['twitter_image', 2000],
  ['twitter_title', 300],
  ['twitter_description', 500],
  ['meta_title', 300],
  ['meta_description', 500],
  ['codeinjection_head', 65535],
  ['codeinjection_foot', 65535],
  ['canonical_url', 2000],
  ['accent_color', 50],
];

/** Filterable and sortable tag fields. */
export const TAG_BROWSE: BrowseSpec = {
  filter: {
    fields: {
      id: {column: 'tags.id', kind: 'string'},
      name: {column: 'tags.name', kind: 'string'},
      slug: {column: 'tags.slug', kind: 'string'},
      visibility: {column: 'tags.visibility', kind: 'string'},
      description: {column: 'tags.description', kind: 'string'},
      created_at: {column: 'tags.created_at', kind: 'date'},
      updated_at: {column: 'tags.updated_at', kind: 'date'},
    },
  } satisfies FilterSpec,
  orderable: {name: 'tags.name', slug: 'tags.slug', created_at: 'tags.created_at', updated_at: 'tags.updated_at', id: 'tags.id'},
  defaultOrder: 'name asc',
  idColumn: 'tags.id',
};

/** Reads the fields a tag body may set; `name` is required when `requireName`. */
function readTagInput(input: Input, requireName: boolean): Partial<TagsTable> {
  const out: Partial<TagsTable> = {};
  if (requireName || input.name !== undefined) {
    const name = requireName ? requiredString(input, 'name', 191) : optionalString(input, 'name', 191, false)!;
    if (name.trim() === '') throw validationError('name', 'name cannot be empty.');
    if (name.startsWith(',')) throw validationError('name', 'Tag names cannot start with commas.');
    out.name = name.trim();
  }
  const slug = optionalString(input, 'slug', 191);
  if (slug) out.slug = slugify(slug);
  const visibility = optionalEnum(input, 'visibility', ['public', 'internal'] as const);
  if (visibility) out.visibility = visibility;
  for (const [key, max] of TEXT_FIELDS) {
    const value = optionalString(input, key, max);
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

async function slugTaken(q: Queryable, slug: string, exceptId?: string): Promise<boolean> {
  let query = q.selectFrom('tags').select('id').where('slug', '=', slug);
  if (exceptId) query = query.where('id', '!=', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

/** Inserts a tag row (slug made unique) and returns it. */
export async function insertTag(q: Queryable, fields: Partial<TagsTable> & {name: string}, now: Date, random: Random): Promise<TagsTable> {
  const stamp = now.toISOString();
  const slug = await uniqueSlug(fields.slug ?? slugify(fields.name, 'tag'), (s) => slugTaken(q, s));
  const row: TagsTable = {
    id: objectId(now, random),
    slug,
    description: null,
    feature_image: null,
    visibility: fields.name.startsWith('#') ? 'internal' : 'public',
    og_image: null,
    og_title: null,
    og_description: null,
    twitter_image: null,
    twitter_title: null,
    twitter_description: null,
    meta_title: null,
    meta_description: null,
    codeinjection_head: null,
    codeinjection_foot: null,
    canonical_url: null,
    accent_color: null,
    ...fields,
    // The computed slug wins over the requested one (it may have a suffix).
    created_at: stamp,
    updated_at: stamp,
  };
  row.slug = slug;
  row.name = fields.name;
  await q.insertInto('tags').values(row).execute();
  return row;
}

/** A reference to a tag inside a post body: a name string or `{id|name|slug}`. */
export type TagRef = string | {id?: unknown; name?: unknown; slug?: unknown};

/**
 * Finds or creates each referenced tag, in order, without duplicates. Returns the rows and
 * which of them were created (so the caller can fire `tag.added` for those).
 */
export async function resolveTagRefs(q: Queryable, refs: readonly unknown[], now: Date, random: Random): Promise<{tags: TagsTable[]; created: TagsTable[]}> {
  const tags: TagsTable[] = [];
  const created: TagsTable[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of refs.entries()) {
    const ref: Record<string, unknown> = typeof raw === 'string' ? {name: raw} : raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
    const {id, name, slug} = ref;
    if (id === undefined && name === undefined && slug === undefined) {
      throw validationError('tags', `tags[${index}] must be a tag name or an object with id, name or slug.`);
    }
    let row: TagsTable | undefined;
    if (typeof id === 'string' && id) row = await q.selectFrom('tags').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row && typeof slug === 'string' && slug) row = await q.selectFrom('tags').selectAll().where('slug', '=', slugify(slug)).executeTakeFirst();
    if (!row && typeof name === 'string' && name.trim()) {
      row = await q.selectFrom('tags').selectAll().where(sql`lower(name)`, '=', name.trim().toLowerCase()).executeTakeFirst();
    }
    if (!row) {
      if (typeof id === 'string' && id && name === undefined && slug === undefined) {
        throw validationError('tags', `Tag with id ${id} does not exist.`);
      }
      const tagName = typeof name === 'string' && name.trim() ? name.trim() : typeof slug === 'string' ? slug : '';
      if (!tagName) throw validationError('tags', `tags[${index}] needs a name.`);
      if (tagName.length > 191) throw validationError('tags', 'Tag names must be at most 191 characters.');
      row = await insertTag(q, {name: tagName, ...(typeof slug === 'string' && slug ? {slug: slugify(slug)} : {})}, now, random);
      created.push(row);
    }
    if (!seen.has(row.id)) {
      seen.add(row.id);
      tags.push(row);
    }
  }
  return {tags, created};
}

/** Context shared by tag operations. */
export interface TagContext {
  readonly database: Database;
  readonly siteUrl: string;
  readonly now: Date;
  readonly random: Random;
}

async function postCounts(q: Queryable, ids: string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await q
    .selectFrom('posts_tags')
    .select(['tag_id', sql<number>`count(*)`.as('n')])
    .where('tag_id', 'in', ids)
    .groupBy('tag_id')
    .execute();
  return new Map(rows.map((r) => [r.tag_id, Number(r.n)]));
}

function wantsPostCount(include: string | undefined): boolean {
  return (include ?? '').split(',').map((s) => s.trim()).includes('count.posts');
}

/** Lists tags with Ghost's browse options (`include=count.posts` adds post counts). */
export async function browseTags(ctx: TagContext, query: BrowseQuery & {include?: string}): Promise<{tags: TagOutput[]; pagination: Pagination}> {
  const {rows, pagination} = await browsePage<TagsTable>(ctx.database.db.selectFrom('tags').selectAll(), query, TAG_BROWSE, ctx.database.dialect, ctx.now);
  const tags = rows.map((row) => serializeTag(row, ctx.siteUrl));
  if (wantsPostCount(query.include)) {
    const counts = await postCounts(ctx.database.db, rows.map((r) => r.id));
    for (const tag of tags) tag.count = {posts: counts.get(tag.id) ?? 0};
  }
  return {tags, pagination};
}

/** Reads one tag by id or slug, or throws a 404. */
export async function readTag(ctx: TagContext, by: {id?: string; slug?: string}, include?: string): Promise<TagOutput> {
  let query = ctx.database.db.selectFrom('tags').selectAll();
  query = by.id !== undefined ? query.where('id', '=', by.id) : query.where('slug', '=', by.slug ?? '');
  const row = await query.executeTakeFirst();
  if (!row) throw notFound('tag');
  const tag = serializeTag(row, ctx.siteUrl);
  if (wantsPostCount(include)) tag.count = {posts: (await postCounts(ctx.database.db, [row.id])).get(row.id) ?? 0};
  return tag;
}

/**
 * What one tag write did, computed inside its transaction.
 * - add: `before` null, `after` the new row.
 * - edit: both set; `changedFields` names the columns whose value changed, plus `updated_at`
 *   (empty, with `before === after`, for a save that changed nothing).
 * - delete: `after` null, `before` the row as it was.
 */
export interface TagChange {
  readonly before: TagsTable | null;
  readonly after: TagsTable | null;
  readonly changedFields: readonly string[];
}

/**
 * Called inside the write's transaction, before commit, and only when something changed.
 * Whatever it writes commits or rolls back with the tag; if it throws, nothing is written.
 */
export type OnTagChange = (trx: Transaction<DB>, change: TagChange) => Promise<void>;

/** Reads the row an edit or delete works on; locked on PostgreSQL so concurrent writes queue up. */
async function lockTag(trx: Transaction<DB>, dialect: Database['dialect'], id: string): Promise<TagsTable | undefined> {
  const query = trx.selectFrom('tags').selectAll().where('id', '=', id);
  return dialect === 'postgres' ? query.forUpdate().executeTakeFirst() : query.executeTakeFirst();
}

/** Creates a tag from a request body item. */
export async function addTag(ctx: TagContext, input: Input, onChange?: OnTagChange): Promise<TagOutput> {
  const fields = readTagInput(input, true) as Partial<TagsTable> & {name: string};
  const row = await ctx.database.db.transaction().execute(async (trx) => {
    const inserted = await insertTag(trx, fields, ctx.now, ctx.random);
    if (onChange) await onChange(trx, {before: null, after: inserted, changedFields: []});
    return inserted;
  });
  return serializeTag(row, ctx.siteUrl);
}

/** Edits a tag; a save that changes nothing leaves the row (and updated_at) untouched. */
export async function editTag(ctx: TagContext, id: string, input: Input, onChange?: OnTagChange): Promise<TagOutput> {
  const fields = readTagInput(input, false);
  const row = await ctx.database.db.transaction().execute(async (trx) => {
    const before = await lockTag(trx, ctx.database.dialect, id);
    if (!before) throw notFound('tag', 'edit');
    if (fields.slug !== undefined && fields.slug !== before.slug) {
      fields.slug = await uniqueSlug(fields.slug, (s) => slugTaken(trx, s, id));
    }
    const changed = Object.entries(fields).filter(([key, value]) => before[key as keyof TagsTable] !== value);
    if (changed.length === 0) return before;
    const update = {...Object.fromEntries(changed), updated_at: ctx.now.toISOString()};
    await trx.updateTable('tags').set(update).where('id', '=', id).execute();
    const after = {...before, ...update} as TagsTable;
    if (onChange) await onChange(trx, {before, after, changedFields: [...changed.map(([key]) => key), 'updated_at']});
    return after;
  });
  return serializeTag(row, ctx.siteUrl);
}

/** Deletes a tag (detaching it from every post), or throws a 404. */
export async function deleteTag(ctx: TagContext, id: string, onChange?: OnTagChange): Promise<void> {
  await ctx.database.db.transaction().execute(async (trx) => {
    const before = await lockTag(trx, ctx.database.dialect, id);
    if (!before) throw notFound('tag', 'delete');
    // The links go first: that does not depend on SQLite's foreign_keys pragma.
    await trx.deleteFrom('posts_tags').where('tag_id', '=', id).execute();
    await trx.deleteFrom('tags').where('id', '=', id).execute();
    if (onChange) await onChange(trx, {before, after: null, changedFields: []});
  });
}

/** Thrown for a duplicate slug race that the unique index caught. */
export function duplicateSlug(): HeraldError {
  return validationError('slug', 'A tag with this slug already exists.');
}
