/**
 * The one post/page serialiser, shared by the Admin API and (later) webhook payloads. Key set
 * and key order are Ghost's (ghost-fixtures/payloads: post.published `current` for posts,
 * page.added `current` for pages) without `mobiledoc`; which content formats appear is the
 * caller's choice: the Admin API defaults to `lexical`, webhook payloads send `html` and
 * `plaintext`.
 */
import type {PostsTable, RolesTable, TagsTable, UsersTable} from '../db/schema.ts';
import {validationError} from '../lib/errors.ts';
import {serializeTag, type TagOutput} from './tags.ts';
import {serializeUser, type UserOutput} from './users.ts';
import {excerptOf, readingTime} from './lexical.ts';

/** An author of a post with the role shown under `roles`. */
export interface PostAuthor {
  readonly user: UsersTable;
  readonly role: RolesTable | undefined;
}

/** A post or page with its relations, as stored: what serialisers and change records use. */
export interface PostSnapshot {
  readonly row: PostsTable;
  /** In sort order; the first is the primary tag. */
  readonly tags: readonly TagsTable[];
  /** In sort order; the first is the primary author. */
  readonly authors: readonly PostAuthor[];
}

/** A content format a caller can ask for (`mobiledoc` is accepted by the API and never sent). */
export type PostFormat = 'html' | 'plaintext' | 'lexical';

/** What the Admin API sends when no `formats` is given. */
export const ADMIN_DEFAULT_FORMATS: readonly PostFormat[] = ['lexical'];

/** What webhook payloads carry (Ghost 6: html and plaintext, never lexical or mobiledoc). */
export const WEBHOOK_FORMATS: readonly PostFormat[] = ['html', 'plaintext'];

/** Options of serializePost. */
export interface SerializeOptions {
  /** Content formats to include; default ADMIN_DEFAULT_FORMATS. */
  readonly formats?: readonly PostFormat[];
}

/** Ghost's key order for a post (post.published `current`; `lexical` sits where mobiledoc did). */
export const POST_KEYS: readonly string[] = [
  'id', 'uuid', 'title', 'slug', 'lexical', 'html', 'comment_id', 'plaintext', 'feature_image', 'featured',
  'status', 'visibility', 'created_at', 'updated_at', 'published_at', 'custom_excerpt', 'codeinjection_head',
  'codeinjection_foot', 'custom_template', 'canonical_url', 'authors', 'tags', 'post_revisions', 'tiers',
  'count', 'primary_author', 'primary_tag', 'email_segment', 'url', 'excerpt', 'reading_time', 'og_image',
  'og_title', 'og_description', 'twitter_image', 'twitter_title', 'twitter_description', 'meta_title',
  'meta_description', 'email_subject', 'frontmatter', 'feature_image_alt', 'feature_image_caption', 'email_only',
];

/** Ghost's key order for a page (page.added `current`; pages have no e-mail fields and no count). */
export const PAGE_KEYS: readonly string[] = [
  'id', 'uuid', 'title', 'comment_id', 'featured', 'status', 'visibility', 'created_at', 'updated_at',
  'show_title_and_feature_image', 'html', 'plaintext', 'slug', 'lexical', 'feature_image', 'published_at',
  'custom_excerpt', 'codeinjection_head', 'codeinjection_foot', 'custom_template', 'canonical_url', 'tags',
  'authors', 'post_revisions', 'tiers', 'primary_author', 'primary_tag', 'url', 'excerpt', 'reading_time',
  'og_image', 'og_title', 'og_description', 'twitter_image', 'twitter_title', 'twitter_description',
  'meta_title', 'meta_description', 'frontmatter', 'feature_image_alt', 'feature_image_caption',
];

const FORMAT_KEYS: ReadonlySet<string> = new Set(['html', 'plaintext', 'lexical']);

/** A post or page as the Admin API shows it: Ghost's keys in Ghost's order. */
export type PostOutput = Record<string, unknown> & {id: string; slug: string; updated_at: string};

/** The public URL Ghost gives a post: its slug once published, else the preview link. */
export function postUrl(row: PostsTable, siteUrl: string): string {
  return row.status === 'published' ? `${siteUrl}/${row.slug}/` : `${siteUrl}/p/${row.uuid}/`;
}

/** Serialises a post or page (its `row.type` decides the key list) with the chosen formats. */
export function serializePost(snapshot: PostSnapshot, siteUrl: string, options: SerializeOptions = {}): PostOutput {
  const {row} = snapshot;
  const formats = new Set<string>(options.formats ?? ADMIN_DEFAULT_FORMATS);
  const authors: UserOutput[] = snapshot.authors.map((a) => serializeUser(a.user, a.role, siteUrl));
  const tags: TagOutput[] = snapshot.tags.map((t) => serializeTag(t, siteUrl));
  // Every value a post or page can show; the key list picks (and orders) the ones it has.
  const values: Record<string, unknown> = {
    id: row.id,
    uuid: row.uuid,
    title: row.title,
    slug: row.slug,
    lexical: row.lexical,
    html: row.html,
    comment_id: row.id,
    plaintext: row.plaintext,
    feature_image: row.feature_image,
    featured: row.featured === 1,
    status: row.status,
    visibility: row.visibility,
    created_at: row.created_at,
    updated_at: row.updated_at,
    published_at: row.published_at,
    custom_excerpt: row.custom_excerpt,
    codeinjection_head: row.codeinjection_head,
    codeinjection_foot: row.codeinjection_foot,
    custom_template: row.custom_template,
    canonical_url: row.canonical_url,
    show_title_and_feature_image: row.show_title_and_feature_image === 1,
    authors,
    tags,
    // Features Herald does not have, with Ghost's neutral values so receivers meet every key.
    post_revisions: [],
    tiers: [],
    count: {clicks: 0, positive_feedback: 0, negative_feedback: 0},
    primary_author: authors[0] ?? null,
    primary_tag: tags[0] ?? null,
    email_segment: 'all',
    url: postUrl(row, siteUrl),
    excerpt: excerptOf(row.custom_excerpt, row.plaintext),
    reading_time: readingTime(row.plaintext),
    og_image: row.og_image,
    og_title: row.og_title,
    og_description: row.og_description,
    twitter_image: row.twitter_image,
    twitter_title: row.twitter_title,
    twitter_description: row.twitter_description,
    meta_title: row.meta_title,
    meta_description: row.meta_description,
    email_subject: row.email_subject,
    frontmatter: row.frontmatter,
    feature_image_alt: row.feature_image_alt,
    feature_image_caption: row.feature_image_caption,
    email_only: false,
  };
  const out: Record<string, unknown> = {};
  for (const key of row.type === 'page' ? PAGE_KEYS : POST_KEYS) {
    if (FORMAT_KEYS.has(key) && !formats.has(key)) continue;
    out[key] = values[key];
  }
  return out as PostOutput;
}

/**
 * Parses the `formats` query option (comma list of html, plaintext, lexical, mobiledoc).
 * Absent means ADMIN_DEFAULT_FORMATS; `mobiledoc` is accepted and ignored (Herald has none).
 * Formats named in `fields` are added, so `fields=title,html` shows the html it asks for.
 */
export function parseFormats(formats: string | undefined, fields?: string): PostFormat[] {
  const result = new Set<PostFormat>();
  if (formats === undefined || formats.trim() === '') {
    for (const f of ADMIN_DEFAULT_FORMATS) result.add(f);
  } else {
    for (const part of formats.split(',')) {
      const name = part.trim();
      if (name === '' || name === 'mobiledoc') continue;
      if (name !== 'html' && name !== 'plaintext' && name !== 'lexical') {
        throw validationError('formats', `Unknown format "${name}". Formats: html, plaintext, lexical, mobiledoc.`);
      }
      result.add(name);
    }
  }
  for (const part of (fields ?? '').split(',')) {
    const name = part.trim();
    if (name === 'html' || name === 'plaintext' || name === 'lexical') result.add(name);
  }
  return [...result];
}
