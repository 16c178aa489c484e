/**
 * Posts and pages (one table, `type` = post | page): validation rules, publishing rules, the
 * repository, and the change record each write returns. Every write runs in one transaction
 * and reports exactly what it changed, so the outbox (events) can be written in that same
 * transaction through the `onChange` hook.
 */
import {sql, type Transaction} from 'kysely';
import {isUniqueViolation, type Database, type Queryable} from '../db/database.ts';
import type {DB, PostsTable, RolesTable, TagsTable, UsersTable} from '../db/schema.ts';
import type {FilterSpec, RelationField} from '../db/filter.ts';
import {parseDate} from '../lib/clock.ts';
import {HeraldError, notFound, validationError} from '../lib/errors.ts';
import {objectId, type Random} from '../lib/ids.ts';
import {slugify, uniqueSlug} from '../lib/slug.ts';
import {browsePage, type BrowseQuery, type BrowseSpec, type Pagination} from './browse.ts';
import {optionalBoolean, optionalEnum, optionalString, requiredString, type Input} from './input.ts';
import {htmlToLexical, htmlToPlaintext, parseLexical, renderLexical} from './lexical.ts';
import type {PostAuthor, PostSnapshot} from './post-serializer.ts';
import {resolveTagRefs} from './tags.ts';
import {getOwner} from './users.ts';

export type {PostAuthor, PostSnapshot} from './post-serializer.ts';

/** Which kind of row a route works on; a page id is not found on /posts/ and vice versa. */
export type PostType = 'post' | 'page';

/** A post's publishing state. */
export type PostStatus = PostsTable['status'];

/** Context shared by post operations. */
export interface PostContext {
  readonly database: Database;
  readonly now: Date;
  readonly random: Random;
}

/**
 * What one write changed, computed inside its transaction.
 * - add: `before` null, `after` the new post, `attachedTags` all its tags.
 * - edit: both set; a save that changed nothing has `changedFields` empty and `before === after`.
 * - delete: `after` null, `detachedTags` all the tags it had.
 */
export interface PostChange {
  readonly type: PostType;
  readonly before: PostSnapshot | null;
  readonly after: PostSnapshot | null;
  /**
   * Edits only (empty for add and delete): the API keys whose value changed — posts columns
   * (`updated_at` included whenever anything changed), plus `tags` / `authors` when that list
   * (members or order) changed.
   */
  readonly changedFields: readonly string[];
  /** Tags on the post after the write that were not on it before. */
  readonly attachedTags: readonly TagsTable[];
  /** Tags on the post before the write that are not on it after. */
  readonly detachedTags: readonly TagsTable[];
  /** Tags this write created on the fly (a subset of attachedTags). */
  readonly createdTags: readonly TagsTable[];
}

/** Called inside the write's transaction, before commit, for every write that changed something. */
export type OnPostChange = (trx: Transaction<DB>, change: PostChange) => Promise<void>;

/** Options of the write functions. */
export interface WriteOptions {
  /** `html` takes content from the body's `html` (Ghost's `?source=html`); default: from `lexical`. */
  readonly source?: string;
  /** Hook for the outbox; a throw rolls the whole write back. Default: none. */
  readonly onChange?: OnPostChange;
}

/** Editable text columns with Ghost's maximum lengths (its validations, not just column sizes). */
const TEXT_FIELDS: ReadonlyArray<readonly [keyof PostsTable, number]> = [
  ['feature_image', 2000],
  ['feature_image_alt', 191],
  ['feature_image_caption', 65535],
  ['custom_excerpt', 300],
  ['codeinjection_head', 65535],
  ['codeinjection_foot', 65535],
  ['custom_template', 100],
  ['canonical_url', 2000],
  ['og_image', 2000],
  ['og_title', 300],
  ['og_description', 500],
  ['twitter_image', 2000],
  ['twitter_title', 300],
  ['twitter_description', 500],
  ['meta_title', 300],
  ['meta_description', 500],
  ['email_subject', 300],
  ['frontmatter', 65535],
];

/** Columns an edit compares to decide whether anything changed (never id, uuid, type or stamps). */
const COMPARED_COLUMNS: ReadonlyArray<keyof PostsTable> = [
  'title', 'slug', 'lexical', 'html', 'plaintext', 'status', 'published_at', 'featured', 'visibility',
  'show_title_and_feature_image', ...TEXT_FIELDS.map(([key]) => key),
];

/**
 * Columns whose change alone never causes an update collision (Ghost's bookshelf-collision
 * ignores them: they are derived from other fields).
 */
const COLLISION_EXEMPT: ReadonlySet<string> = new Set(['html', 'plaintext']);

const STATUSES: readonly PostStatus[] = ['draft', 'published', 'scheduled'];
const VISIBILITIES = ['public', 'members', 'paid', 'tiers'] as const;

// Relation fields for filters: EXISTS over the link table, tied to the outer `posts` row.
const TAGS_RELATION = {from: sql`posts_tags join tags on tags.id = posts_tags.tag_id`, link: sql`posts_tags.post_id = posts.id`};
const AUTHORS_RELATION = {from: sql`posts_authors join users on users.id = posts_authors.author_id`, link: sql`posts_authors.post_id = posts.id`};
// The primary tag/author is the one with the lowest sort order.
const PRIMARY_TAG_RELATION = {
  from: TAGS_RELATION.from,
  link: sql`posts_tags.post_id = posts.id and posts_tags.sort_order = (select min(pt.sort_order) from posts_tags pt where pt.post_id = posts.id)`,
};
const PRIMARY_AUTHOR_RELATION = {
  from: AUTHORS_RELATION.from,
  link: sql`posts_authors.post_id = posts.id and posts_authors.sort_order = (select min(pa.sort_order) from posts_authors pa where pa.post_id = posts.id)`,
};

function relation(rel: RelationField['relation'], column: string): RelationField {
  return {relation: rel, column, kind: 'string'};
}

/** Filterable and sortable post fields (the same for pages). */
export const POST_BROWSE: BrowseSpec = {
  filter: {
    fields: {
      id: {column: 'posts.id', kind: 'string'},
      uuid: {column: 'posts.uuid', kind: 'string'},
      title: {column: 'posts.title', kind: 'string'},
      slug: {column: 'posts.slug', kind: 'string'},
      status: {column: 'posts.status', kind: 'string'},
      visibility: {column: 'posts.visibility', kind: 'string'},
      featured: {column: 'posts.featured', kind: 'flag'},
      published_at: {column: 'posts.published_at', kind: 'date'},
      created_at: {column: 'posts.created_at', kind: 'date'},
      updated_at: {column: 'posts.updated_at', kind: 'date'},
      custom_excerpt: {column: 'posts.custom_excerpt', kind: 'string'},
      feature_image: {column: 'posts.feature_image', kind: 'string'},
      'tags.id': relation(TAGS_RELATION, 'tags.id'),
      'tags.slug': relation(TAGS_RELATION, 'tags.slug'),
      'tags.name': relation(TAGS_RELATION, 'tags.name'),
      'authors.id': relation(AUTHORS_RELATION, 'users.id'),
      'authors.slug': relation(AUTHORS_RELATION, 'users.slug'),
      'primary_tag.slug': relation(PRIMARY_TAG_RELATION, 'tags.slug'),
      'primary_author.slug': relation(PRIMARY_AUTHOR_RELATION, 'users.slug'),
    },
    aliases: {
      tag: 'tags.slug',
      tags: 'tags.slug',
      author: 'authors.slug',
      authors: 'authors.slug',
      primary_tag: 'primary_tag.slug',
      primary_author: 'primary_author.slug',
    },
  } satisfies FilterSpec,
  orderable: {
    title: 'posts.title',
    slug: 'posts.slug',
    status: 'posts.status',
    published_at: 'posts.published_at',
    created_at: 'posts.created_at',
    updated_at: 'posts.updated_at',
    featured: 'posts.featured',
    id: 'posts.id',
  },
  defaultOrder: 'published_at desc',
  idColumn: 'posts.id',
};

// ---------------------------------------------------------------------------------------------
// Input

/** A post body, validated and normalised; relations still unresolved (they need the database). */
interface PostInput {
  readonly fields: Partial<PostsTable>;
  readonly title?: string;
  readonly slug?: string;
  readonly status?: PostStatus;
  /** undefined: not given; null: cleared. */
  readonly publishedAt?: string | null;
  readonly tagRefs?: readonly unknown[];
  readonly authorRefs?: readonly unknown[];
  /** Edit only: the client's idea of the stored updated_at (ISO). */
  readonly updatedAt?: string;
}

/**
 * Reads a post body. Unknown and read-only properties (url, uuid, excerpt, primary_tag, count,
 * mobiledoc, …) are ignored, since clients PUT back whole GET responses; wrong types are 422s.
 */
function readPostInput(input: Input, mode: 'add' | 'edit', source: string | undefined, type: PostType): PostInput {
  if (source !== undefined && source !== '' && source !== 'html') {
    throw validationError('source', 'source must be "html" when given.');
  }
  const fields: Partial<PostsTable> = {};

  let title: string | undefined;
  if (mode === 'add' || input.title !== undefined) {
    title = requiredString(input, 'title', 2000).trim();
    fields.title = title;
  }
  const slugText = optionalString(input, 'slug', 191);
  // An empty slug means "not given": add derives one from the title, edit keeps the current one.
  const slug = slugText ? slugify(slugText) : undefined;

  const status = optionalEnum(input, 'status', STATUSES);
  const visibility = optionalEnum(input, 'visibility', VISIBILITIES);
  if (visibility) fields.visibility = visibility;
  const featured = optionalBoolean(input, 'featured');
  if (featured !== undefined) fields.featured = featured ? 1 : 0;
  const showTitle = optionalBoolean(input, 'show_title_and_feature_image');
  if (showTitle !== undefined) fields.show_title_and_feature_image = showTitle ? 1 : 0;
  for (const [key, max] of TEXT_FIELDS) {
    const value = optionalString(input, key, max);
    if (value !== undefined) (fields as Record<string, unknown>)[key] = value;
  }

  const publishedAt = readDate(input, 'published_at');
  Object.assign(fields, readContent(input, source === 'html'));

  const tagRefs = readList(input, 'tags');
  const authorRefs = readList(input, 'authors');
  if (authorRefs !== undefined && authorRefs.length === 0) throw validationError('authors', 'At least one author is required.');


  let updatedAt: string | undefined;
  if (mode === 'edit') {
    if (input.updated_at === undefined || input.updated_at === null) {
      throw new HeraldError('Validation', {message: `Validation error, cannot edit ${type}.`, context: 'updated_at is required when editing (it detects concurrent edits).', property: 'updated_at'});
    }
    updatedAt = readDate(input, 'updated_at') ?? undefined;
  }
  return {fields, title, slug, status, publishedAt, tagRefs, authorRefs, updatedAt};
}

/**
 * A date property: undefined when absent, null when null, else the stored ISO form. Invalid
 * dates are a 422, and so are years outside 0000-9999: their ISO form (`+010000-…`) would not
 * sort as text among the others, and the scheduler compares published_at as text.
 */
function readDate(input: Input, key: string): string | null | undefined {
  const value = input[key];
  if (value === undefined || value === null) return value;
  const parsed = typeof value === 'string' ? parseDate(value) : null;
  if (parsed === null || !/^\d{4}-/.test(parsed)) throw validationError(key, `${key} must be a date such as 2026-11-28T08:00:00.000Z.`);
  return parsed;
}


function readList(input: Input, key: string): unknown[] | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw validationError(key, `${key} must be a list.`);
  return value;
}

/**
 * The content columns a body sets: with `?source=html` from `html`, else from `lexical`.
 * `html` without source=html is ignored (as Ghost does: it is generated); mobiledoc always is.
 */
function readContent(input: Input, fromHtml: boolean): Partial<PostsTable> {
  if (fromHtml && input.html !== undefined) {
    const html = input.html;
    if (html === null) return {lexical: null, html: null, plaintext: null};
    if (typeof html !== 'string') throw validationError('html', 'html must be a string.');
    return contentFromHtml(html, htmlToLexical(html), 'html');
  }
  if (input.lexical !== undefined) {
    const lexical = input.lexical;
    if (lexical === null) return {lexical: null, html: null, plaintext: null};
    if (typeof lexical !== 'string') throw validationError('lexical', 'lexical must be a JSON string.');
    return contentFromHtml(renderLexical(parseLexical(lexical)), lexical, 'lexical');
  }
  return {};
}

function contentFromHtml(html: string, lexical: string, property: 'html' | 'lexical'): Partial<PostsTable> {
  // Bodies with NUL are refused at the HTTP edge, but one may hide inside the lexical JSON
  // string as an escape and only appear once rendered.
  if (html.includes('\u0000')) throw validationError(property, `${property} cannot contain NUL characters.`);
  // Empty content is stored as null so `excerpt` is null and the row looks like Ghost's.
  const plaintext = htmlToPlaintext(html);
  return {lexical, html: html === '' ? null : html, plaintext: plaintext === '' ? null : plaintext};
}

// ---------------------------------------------------------------------------------------------
// Publishing rules

/** Applies the status rules and returns the final status and published_at. Pure. */
export function resolvePublishing(
  before: {status: PostStatus; published_at: string | null} | null,
  requested: {status?: PostStatus; publishedAt?: string | null},
  now: Date,
): {status: PostStatus; published_at: string | null} {
  const status = requested.status ?? before?.status ?? 'draft';
  let publishedAt = requested.publishedAt !== undefined ? requested.publishedAt : (before?.published_at ?? null);
  if (before?.status === 'published' && status === 'scheduled') {
    throw validationError('status', 'A published post cannot be scheduled; unpublish it first.');
  }
  // Publishing without a date means "now"; a published post keeps its date when unpublished.
  if (status === 'published' && publishedAt === null) publishedAt = now.toISOString();
  // The future-date rule applies when a post becomes scheduled or its date moves, so a scheduled
  // post the scheduler has not reached yet can still be edited.
  const scheduling = status === 'scheduled' && (before === null || before.status !== 'scheduled' || publishedAt !== before.published_at);
  if (scheduling && (publishedAt === null || Date.parse(publishedAt) <= now.getTime())) {
    throw validationError('published_at', 'Scheduling needs a published_at in the future.');
  }
  return {status, published_at: publishedAt};
}

// ---------------------------------------------------------------------------------------------
// Repository

async function slugTaken(q: Queryable, slug: string, exceptId?: string): Promise<boolean> {
  let query = q.selectFrom('posts').select('id').where('slug', '=', slug);
  if (exceptId) query = query.where('id', '!=', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

/**
 * Loads tags and authors for a page of rows with a constant number of queries (three, however
 * many rows), keeping the rows' order.
 */
export async function loadSnapshots(q: Queryable, rows: readonly PostsTable[]): Promise<PostSnapshot[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const tagLinks = await q
    .selectFrom('posts_tags')
    .innerJoin('tags', 'tags.id', 'posts_tags.tag_id')
    .selectAll('tags')
    .select('posts_tags.post_id as link_post_id')
    .where('posts_tags.post_id', 'in', ids)
    .orderBy('posts_tags.sort_order', 'asc')
    .orderBy('posts_tags.id', 'asc')
    .execute();
  const authorLinks = await q
    .selectFrom('posts_authors')
    .innerJoin('users', 'users.id', 'posts_authors.author_id')
    .selectAll('users')
    .select('posts_authors.post_id as link_post_id')
    .where('posts_authors.post_id', 'in', ids)
    .orderBy('posts_authors.sort_order', 'asc')
    .orderBy('posts_authors.id', 'asc')
    .execute();
  const roleIds = [...new Set(authorLinks.map((a) => a.role_id))];
  const roles = roleIds.length === 0 ? [] : await q.selectFrom('roles').selectAll().where('id', 'in', roleIds).execute();
  const roleById = new Map(roles.map((r) => [r.id, r]));

  const tagsByPost = new Map<string, TagsTable[]>();
  for (const {link_post_id, ...tag} of tagLinks) push(tagsByPost, link_post_id, tag);
  const authorsByPost = new Map<string, PostAuthor[]>();
  for (const {link_post_id, ...user} of authorLinks) push(authorsByPost, link_post_id, toAuthor(user, roleById.get(user.role_id)));
  return rows.map((row) => ({row, tags: tagsByPost.get(row.id) ?? [], authors: authorsByPost.get(row.id) ?? []}));
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Snapshots never carry the password hash: they travel into change records and payloads. */
function toAuthor(user: UsersTable, role: RolesTable | undefined): PostAuthor {
  return {user: {...user, password: null}, role};
}

/** Finds each referenced author (`{id}`, `{slug}` or `{email}`), in order, without duplicates. */
async function resolveAuthors(q: Queryable, refs: readonly unknown[]): Promise<PostAuthor[]> {
  const authors: PostAuthor[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of refs.entries()) {
    const ref = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
    let user: UsersTable | undefined;
    if (typeof ref.id === 'string' && ref.id) user = await q.selectFrom('users').selectAll().where('id', '=', ref.id).executeTakeFirst();
    else if (typeof ref.slug === 'string' && ref.slug) user = await q.selectFrom('users').selectAll().where('slug', '=', ref.slug).executeTakeFirst();
    else if (typeof ref.email === 'string' && ref.email) user = await q.selectFrom('users').selectAll().where('email', '=', ref.email.trim().toLowerCase()).executeTakeFirst();
    else throw validationError('authors', `authors[${index}] must be an object with id, slug or email.`);
    if (!user) throw validationError('authors', `authors[${index}] does not exist.`);
    if (seen.has(user.id)) continue;
    seen.add(user.id);
    const role = await q.selectFrom('roles').selectAll().where('id', '=', user.role_id).executeTakeFirst();
    authors.push(toAuthor(user, role));
  }
  return authors;
}

async function replaceTags(trx: Transaction<DB>, postId: string, tags: readonly TagsTable[], now: Date, random: Random): Promise<void> {
  await trx.deleteFrom('posts_tags').where('post_id', '=', postId).execute();
  if (tags.length === 0) return;
  await trx
    .insertInto('posts_tags')
    .values(tags.map((tag, i) => ({id: objectId(now, random), post_id: postId, tag_id: tag.id, sort_order: i})))
    .execute();
}

async function replaceAuthors(trx: Transaction<DB>, postId: string, authors: readonly PostAuthor[], now: Date, random: Random): Promise<void> {
  await trx.deleteFrom('posts_authors').where('post_id', '=', postId).execute();
  if (authors.length === 0) return;
  await trx
    .insertInto('posts_authors')
    .values(authors.map((a, i) => ({id: objectId(now, random), post_id: postId, author_id: a.user.id, sort_order: i})))
    .execute();
}

function sameIds(a: ReadonlyArray<{id: string}>, b: ReadonlyArray<{id: string}>): boolean {
  return a.length === b.length && a.every((x, i) => x.id === b[i]!.id);
}

/**
 * Attempts of a write that lost a unique-slug race before giving up with a 422. Every round one
 * of the racers commits, so this many requests for one slug at the same moment all succeed.
 */
const SLUG_RACE_ATTEMPTS = 10;

/**
 * Runs `work` in one transaction. When a unique index catches a race (two requests taking the
 * same post or tag slug at once) the whole write rolled back, so it is simply run again: the
 * next attempt sees the other's slug and picks a free one. After SLUG_RACE_ATTEMPTS, a 422.
 */
async function inTransaction<T>(database: Database, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await database.db.transaction().execute(work);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (attempt >= SLUG_RACE_ATTEMPTS) throw validationError('slug', 'This slug was taken by a concurrent save; try again.');
    }
  }
}

/**
 * Reads the row an edit or delete works on. On PostgreSQL the row is locked (FOR UPDATE) so
 * concurrent edits of one post queue up: each sees the other's updated_at, which keeps the
 * collision check and the change record true. SQLite runs one write transaction at a time.
 */
async function lockPost(trx: Transaction<DB>, dialect: Database['dialect'], type: PostType, id: string): Promise<PostsTable | undefined> {
  const query = trx.selectFrom('posts').selectAll().where('id', '=', id).where('type', '=', type);
  return dialect === 'postgres' ? query.forUpdate().executeTakeFirst() : query.executeTakeFirst();
}

/** Lists posts or pages with Ghost's browse options; relations loaded for the page at once. */
export async function browsePosts(ctx: PostContext, type: PostType, query: BrowseQuery): Promise<{posts: PostSnapshot[]; pagination: Pagination}> {
  const base = ctx.database.db.selectFrom('posts').selectAll('posts');
  const {rows, pagination} = await browsePage<PostsTable>(base, query, POST_BROWSE, ctx.database.dialect, ctx.now, sql<boolean>`${sql.ref('posts.type')} = ${type}`);
  return {posts: await loadSnapshots(ctx.database.db, rows), pagination};
}

/** Reads one post or page by id or slug, or throws a 404. */
export async function readPost(ctx: PostContext, type: PostType, by: {id?: string; slug?: string}): Promise<PostSnapshot> {
  let query = ctx.database.db.selectFrom('posts').selectAll().where('type', '=', type);
  query = by.id !== undefined ? query.where('id', '=', by.id) : query.where('slug', '=', by.slug ?? '');
  const row = await query.executeTakeFirst();
  if (!row) throw notFound(type);
  return (await loadSnapshots(ctx.database.db, [row]))[0]!;
}

/** Creates a post or page from a request body item; returns its change record (`after` is the post). */
export async function addPost(ctx: PostContext, type: PostType, input: Input, options: WriteOptions = {}): Promise<PostChange> {
  const parsed = readPostInput(input, 'add', options.source, type);
  const publishing = resolvePublishing(null, parsed, ctx.now);
  const stamp = ctx.now.toISOString();
  return inTransaction(ctx.database, async (trx) => {
    const title = parsed.title!;
    const slug = await uniqueSlug(parsed.slug ?? slugify(title), (s) => slugTaken(trx, s));
    const {tags, created} = await resolveTagRefs(trx, parsed.tagRefs ?? [], ctx.now, ctx.random);
    const authors = parsed.authorRefs ? await resolveAuthors(trx, parsed.authorRefs) : [await ownerAuthor(trx)];
    const row: PostsTable = {
      ...emptyPost(),
      ...parsed.fields,
      id: objectId(ctx.now, ctx.random),
      uuid: ctx.random.uuid(),
      type,
      title,
      slug,
      status: publishing.status,
      published_at: publishing.published_at,
      created_at: stamp,
      updated_at: stamp,
    };
    await trx.insertInto('posts').values(row).execute();
    await replaceTags(trx, row.id, tags, ctx.now, ctx.random);
    await replaceAuthors(trx, row.id, authors, ctx.now, ctx.random);
    const change: PostChange = {type, before: null, after: {row, tags, authors}, changedFields: [], attachedTags: tags, detachedTags: [], createdTags: created};
    await options.onChange?.(trx, change);
    return change;
  });
}

async function ownerAuthor(q: Queryable): Promise<PostAuthor> {
  const {user, role} = await getOwner(q);
  return toAuthor(user, role);
}

/** The column values of a new post before the body's fields are applied. */
export function emptyPost(): Omit<PostsTable, 'id' | 'uuid' | 'type' | 'title' | 'slug' | 'status' | 'published_at' | 'created_at' | 'updated_at'> {
  return {
    lexical: null,
    html: null,
    plaintext: null,
    feature_image: null,
    feature_image_alt: null,
    feature_image_caption: null,
    featured: 0,
    visibility: 'public',
    custom_excerpt: null,
    codeinjection_head: null,
    codeinjection_foot: null,
    custom_template: null,
    canonical_url: null,
    og_image: null,
    og_title: null,
    og_description: null,
    twitter_image: null,
    twitter_title: null,
    twitter_description: null,
    meta_title: null,
    meta_description: null,
    email_subject: null,
    frontmatter: null,
    show_title_and_feature_image: 1,
  };
}

/** Ghost's answer to a stale `updated_at` with a real change. */
export function updateCollision(): HeraldError {
  return new HeraldError('UpdateCollision', {
    message: 'Saving failed! Someone else is editing this post.',
    context: 'The post was changed after your copy was loaded (updated_at differs); reload it and save again.',
    code: 'UPDATE_COLLISION',
  });
}

/**
 * Edits a post or page. `updated_at` is required; a stale one with a real change is a 409
 * (a stale one with no change is accepted). A save that changes nothing writes nothing and keeps
 * updated_at. `tags`/`authors`, when given, replace the lists.
 */
export async function editPost(ctx: PostContext, type: PostType, id: string, input: Input, options: WriteOptions = {}): Promise<PostChange> {
  const parsed = readPostInput(input, 'edit', options.source, type);
  return inTransaction(ctx.database, async (trx) => {
    const row = await lockPost(trx, ctx.database.dialect, type, id);
    if (!row) throw notFound(type, 'edit');
    const before = (await loadSnapshots(trx, [row]))[0]!;

    const next: PostsTable = {...row, ...parsed.fields, ...resolvePublishing(row, parsed, ctx.now)};
    if (parsed.slug !== undefined && parsed.slug !== row.slug) {
      next.slug = await uniqueSlug(parsed.slug, (s) => slugTaken(trx, s, id));
    }
    const changedColumns = COMPARED_COLUMNS.filter((key) => next[key] !== row[key]);

    let tags = before.tags;
    let createdTags: TagsTable[] = [];
    if (parsed.tagRefs !== undefined) {
      const resolved = await resolveTagRefs(trx, parsed.tagRefs, ctx.now, ctx.random);
      tags = resolved.tags;
      createdTags = resolved.created;
    }
    const authors = parsed.authorRefs !== undefined ? await resolveAuthors(trx, parsed.authorRefs) : before.authors;
    const tagsChanged = !sameIds(tags, before.tags);
    const authorsChanged = !sameIds(authors.map((a) => a.user), before.authors.map((a) => a.user));

    // Collision (Ghost's bookshelf-collision): only a real change of the post's own fields with a
    // stale updated_at is refused; relations and derived html/plaintext do not count. Compared
    // as instants, since clients may send the same time with another precision or offset.
    const collides = changedColumns.some((key) => !COLLISION_EXEMPT.has(key)) && Date.parse(parsed.updatedAt!) !== Date.parse(row.updated_at);
    if (collides) throw updateCollision();

    if (changedColumns.length === 0 && !tagsChanged && !authorsChanged) {
      // Nothing to write (any tag resolveTagRefs looked up already existed, or it would differ).
      return {type, before, after: before, changedFields: [], attachedTags: [], detachedTags: [], createdTags: []};
    }

    next.updated_at = ctx.now.toISOString();
    const update: Partial<PostsTable> = {updated_at: next.updated_at};
    for (const key of changedColumns) (update as Record<string, unknown>)[key] = next[key];
    await trx.updateTable('posts').set(update).where('id', '=', id).execute();
    if (tagsChanged) await replaceTags(trx, id, tags, ctx.now, ctx.random);
    if (authorsChanged) await replaceAuthors(trx, id, authors, ctx.now, ctx.random);

    const beforeIds = new Set(before.tags.map((t) => t.id));
    const afterIds = new Set(tags.map((t) => t.id));
    const change: PostChange = {
      type,
      before,
      after: {row: next, tags, authors},
      changedFields: [...changedColumns, 'updated_at', ...(tagsChanged ? ['tags'] : []), ...(authorsChanged ? ['authors'] : [])],
      attachedTags: tags.filter((t) => !beforeIds.has(t.id)),
      detachedTags: before.tags.filter((t) => !afterIds.has(t.id)),
      createdTags,
    };
    await options.onChange?.(trx, change);
    return change;
  });
}

/** Deletes a post or page (its tag and author links go with it), or throws a 404. */
export async function deletePost(ctx: PostContext, type: PostType, id: string, options: Pick<WriteOptions, 'onChange'> = {}): Promise<PostChange> {
  return inTransaction(ctx.database, async (trx) => {
    const row = await lockPost(trx, ctx.database.dialect, type, id);
    if (!row) throw notFound(type, 'delete');
    const before = (await loadSnapshots(trx, [row]))[0]!;
    // The foreign keys cascade too; deleting the links first does not depend on SQLite's pragma.
    await trx.deleteFrom('posts_tags').where('post_id', '=', id).execute();
    await trx.deleteFrom('posts_authors').where('post_id', '=', id).execute();
    await trx.deleteFrom('posts').where('id', '=', id).execute();
    const change: PostChange = {type, before, after: null, changedFields: [], attachedTags: [], detachedTags: before.tags, createdTags: []};
    await options.onChange?.(trx, change);
    return change;
  });
}

/**
 * Publishes one scheduled post or page whose `published_at` has come (the scheduler's job),
 * keeping its `published_at`. Returns the change record, or null when the row is not (or no
 * longer) a due scheduled post — another process published it, a user changed it, or on
 * PostgreSQL another transaction holds it right now (it is still due and is tried again later).
 *
 * Exactly once across processes: the row is claimed inside the transaction with a re-check of
 * `status = 'scheduled'`. PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED. SQLite: an UPDATE … WHERE
 * status = 'scheduled' taken first (it also takes the single write lock, so no deferred read has
 * to be upgraded later); its changed-row count decides.
 */
export async function publishScheduledPost(ctx: PostContext, id: string, onChange?: OnPostChange): Promise<PostChange | null> {
  const stamp = ctx.now.toISOString();
  return ctx.database.db.transaction().execute(async (trx) => {
    let row: PostsTable | undefined;
    if (ctx.database.dialect === 'postgres') {
      row = await trx
        .selectFrom('posts')
        .selectAll()
        .where('id', '=', id)
        .where('status', '=', 'scheduled')
        .where('published_at', '<=', stamp)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!row) return null;
    } else {
      // The claim flips only `status`, so the row read back still carries the old updated_at.
      const claimed = await trx
        .updateTable('posts')
        .set({status: 'published'})
        .where('id', '=', id)
        .where('status', '=', 'scheduled')
        .where('published_at', '<=', stamp)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 0) return null;
      row = {...(await trx.selectFrom('posts').selectAll().where('id', '=', id).executeTakeFirstOrThrow()), status: 'scheduled'};
    }
    const before = (await loadSnapshots(trx, [row]))[0]!;
    const next: PostsTable = {...row, status: 'published', updated_at: stamp};
    await trx.updateTable('posts').set({status: 'published', updated_at: stamp}).where('id', '=', id).execute();
    const change: PostChange = {
      type: row.type,
      before,
      after: {row: next, tags: before.tags, authors: before.authors},
      changedFields: ['status', 'updated_at'],
      attachedTags: [],
      detachedTags: [],
      createdTags: [],
    };
    await onChange?.(trx, change);
    return change;
  });
}
