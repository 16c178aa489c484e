/**
 * Members: validation rules, the repository and the Admin API serialiser. Also finds or creates
 * the labels a member body names (`labels: ["VIP", {slug: "beta"}]`).
 *
 * Every write runs in one transaction and returns a change record (before / after / which
 * serialised keys changed) computed inside it, so the outbox can turn it into
 * `member.added|edited|deleted` events in the same transaction through the `onChange` hook.
 */
import {sql, type Transaction} from 'kysely';
import {isUniqueViolation, type Database, type Queryable} from '../db/database.ts';
import type {DB, LabelsTable, MembersTable} from '../db/schema.ts';
import type {FilterSpec} from '../db/filter.ts';
import {HeraldError, notFound, validationError} from '../lib/errors.ts';
import {objectId, type Random} from '../lib/ids.ts';
import {slugify, uniqueSlug} from '../lib/slug.ts';
import {browsePage, type BrowseQuery, type BrowseSpec, type Pagination} from './browse.ts';
import {isValidEmail} from './email.ts';
import {optionalBoolean, optionalString, type Input} from './input.ts';

/** A label as a member shows it. */
export interface MemberLabelOutput {
  id: string;
  name: string;
  slug: string;
  created_at: string;
  updated_at: string;
}

/** A newsletter as a member shows it (the fields Herald has; Ghost shows more). */
export interface MemberNewsletterOutput {
  id: string;
  name: string;
  description: string | null;
  status: string;
}

/**
 * A member as the Admin API and webhook payloads show it, in Ghost's key order (the union of
 * the keys of Ghost's `member.added` and `member.edited` payloads). Paid features Herald does
 * not have keep Ghost's neutral values.
 */
export interface MemberOutput {
  id: string;
  uuid: string;
  email: string;
  name: string | null;
  note: string | null;
  geolocation: string | null;
  subscribed: boolean;
  created_at: string;
  updated_at: string;
  labels: MemberLabelOutput[];
  subscriptions: unknown[];
  avatar_image: string | null;
  comped: boolean;
  email_count: number;
  email_opened_count: number;
  email_open_rate: number | null;
  status: string;
  last_seen_at: string | null;
  tiers: unknown[];
  newsletters: MemberNewsletterOutput[];
}

/**
 * What one write did, computed inside its transaction. `before` is null for an add, `after` is
 * null for a delete. `changedFields` names the keys of MemberOutput whose serialised value
 * differs (`updated_at` among them when the row itself changed); for an add it is every key of
 * `after`, for a delete every key of `before`.
 */
export interface MemberChange {
  before: MemberOutput | null;
  after: MemberOutput | null;
  changedFields: string[];
}

/**
 * Called inside the write's transaction, before commit, and only when something changed.
 * Whatever it writes commits or rolls back with the member; if it throws, nothing is written.
 */
export type MemberChangeHook = (trx: Transaction<DB>, change: MemberChange) => Promise<void>;

/** Context shared by member operations. */
export interface MemberContext {
  readonly database: Database;
  readonly now: Date;
  readonly random: Random;
}

/** The EXISTS subquery parts tying a member to its labels (see db/filter.ts RelationField). */
const LABEL_RELATION = {
  from: sql`members_labels inner join labels on labels.id = members_labels.label_id`,
  link: sql`members_labels.member_id = members.id`,
};

/** Filterable and sortable member fields. */
export const MEMBER_BROWSE: BrowseSpec = {
  filter: {
    fields: {
      id: {column: 'members.id', kind: 'string'},
      uuid: {column: 'members.uuid', kind: 'string'},
      email: {column: 'members.email', kind: 'string'},
      name: {column: 'members.name', kind: 'string'},
      status: {column: 'members.status', kind: 'string'},
      subscribed: {column: 'members.subscribed', kind: 'flag'},
      created_at: {column: 'members.created_at', kind: 'date'},
      updated_at: {column: 'members.updated_at', kind: 'date'},
      last_seen_at: {column: 'members.last_seen_at', kind: 'date'},
      'labels.slug': {relation: LABEL_RELATION, column: 'labels.slug', kind: 'string'},
      'labels.name': {relation: LABEL_RELATION, column: 'labels.name', kind: 'string'},
      'labels.id': {relation: LABEL_RELATION, column: 'labels.id', kind: 'string'},
    },
    // Ghost's shorthands: `label:vip` and `labels:vip` match on the label slug.
    aliases: {label: 'labels.slug', labels: 'labels.slug'},
  } satisfies FilterSpec,
  orderable: {name: 'members.name', email: 'members.email', created_at: 'members.created_at', updated_at: 'members.updated_at', id: 'members.id'},
  defaultOrder: 'created_at desc',
  idColumn: 'members.id',
};

/** The message Ghost gives for a duplicate member e-mail. */
const DUPLICATE_EMAIL = 'Member already exists. Attempting to add member with existing email address';

function duplicateEmail(cause?: unknown): HeraldError {
  return new HeraldError('Validation', {message: DUPLICATE_EMAIL, property: 'email', cause});
}

// ---------------------------------------------------------------------------------------------
// Serialisation

/** The site's default newsletter (the first active one), or null when there is none. */
async function defaultNewsletter(q: Queryable): Promise<MemberNewsletterOutput | null> {
  const row = await q
    .selectFrom('newsletters')
    .select(['id', 'name', 'description', 'status'])
    .where('status', '=', 'active')
    .orderBy('sort_order', 'asc')
    .orderBy('id', 'asc')
    .executeTakeFirst();
  return row ?? null;
}

/** The labels of many members in one query, each list in its sort order. */
async function labelsByMember(q: Queryable, memberIds: readonly string[]): Promise<Map<string, MemberLabelOutput[]>> {
  const map = new Map<string, MemberLabelOutput[]>();
  if (memberIds.length === 0) return map;
  const rows = await q
    .selectFrom('members_labels')
    .innerJoin('labels', 'labels.id', 'members_labels.label_id')
    .select(['members_labels.member_id', 'labels.id', 'labels.name', 'labels.slug', 'labels.created_at', 'labels.updated_at'])
    .where('members_labels.member_id', 'in', [...memberIds])
    .orderBy('members_labels.sort_order', 'asc')
    .orderBy('members_labels.id', 'asc')
    .execute();
  for (const {member_id, ...label} of rows) {
    const list = map.get(member_id) ?? [];
    list.push(label);
    map.set(member_id, list);
  }
  return map;
}

function toOutput(row: MembersTable, labels: MemberLabelOutput[], newsletter: MemberNewsletterOutput | null): MemberOutput {
  const subscribed = row.subscribed === 1;
  return {
    id: row.id,
    uuid: row.uuid,
    email: row.email,
    name: row.name,
    note: row.note,
    geolocation: row.geolocation,
    subscribed,
    created_at: row.created_at,
    updated_at: row.updated_at,
    labels,
    subscriptions: [],
    avatar_image: null,
    comped: false,
    email_count: Number(row.email_count),
    email_opened_count: Number(row.email_opened_count),
    email_open_rate: row.email_open_rate === null ? null : Number(row.email_open_rate),
    status: row.status,
    last_seen_at: row.last_seen_at,
    tiers: [],
    // Herald has one newsletter; being subscribed means being subscribed to it.
    newsletters: subscribed && newsletter ? [{...newsletter}] : [],
  };
}

/** Serialises member rows with their labels and newsletters (two queries for any number of rows). */
export async function serializeMembers(q: Queryable, rows: readonly MembersTable[]): Promise<MemberOutput[]> {
  if (rows.length === 0) return [];
  const [labels, newsletter] = await Promise.all([labelsByMember(q, rows.map((r) => r.id)), defaultNewsletter(q)]);
  return rows.map((row) => toOutput(row, labels.get(row.id) ?? [], newsletter));
}

async function loadMember(q: Queryable, id: string): Promise<MemberOutput | null> {
  const row = await q.selectFrom('members').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? (await serializeMembers(q, [row]))[0]! : null;
}

/** Keys of `after` whose serialised value differs from `before`'s. */
function diffKeys(before: MemberOutput, after: MemberOutput): string[] {
  return (Object.keys(after) as Array<keyof MemberOutput>).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
}

// ---------------------------------------------------------------------------------------------
// Input

/** A label named by a member body, already checked for shape. */
type LabelRef = {id?: string; name?: string; slug?: string};

/** The fields a member body may set, checked for type and length (no database needed). */
interface MemberInput {
  email?: string;
  name?: string | null;
  note?: string | null;
  subscribed?: boolean;
  labels?: LabelRef[];
  /** Ids from `newsletters: [{id}]`; decides `subscribed` when present. */
  newsletterIds?: string[];
}

/**
 * Reads a member body. Unknown properties (comped, tiers, stripe_customer_id, …) are ignored,
 * as Ghost does, so clients can PUT back what they read.
 */
function readMemberInput(input: Input, requireEmail: boolean): MemberInput {
  const out: MemberInput = {};
  if (requireEmail || input.email !== undefined) {
    const email = input.email;
    if (email === undefined || email === null || email === '') throw validationError('email', 'email is required.', 'Validation error, cannot save member.');
    if (typeof email !== 'string') throw validationError('email', 'email must be a string.', 'Validation error, cannot save member.');
    if (!isValidEmail(email)) throw validationError('email', 'Invalid email.', 'Validation error, cannot save member.');
    out.email = email;
  }
  const name = optionalString(input, 'name', 191);
  if (name !== undefined) out.name = name;
  const note = optionalString(input, 'note', 2000);
  if (note !== undefined) out.note = note;
  const subscribed = optionalBoolean(input, 'subscribed');
  if (subscribed !== undefined) out.subscribed = subscribed;
  if (input.labels !== undefined) out.labels = readLabelRefs(input.labels);
  if (input.newsletters !== undefined) out.newsletterIds = readNewsletterIds(input.newsletters);
  return out;
}

/** Checks `labels`: a list of names or `{id|name|slug}` objects (null means "no labels"). */
function readLabelRefs(value: unknown): LabelRef[] {
  if (value === null) return [];
  if (!Array.isArray(value)) throw validationError('labels', 'labels must be a list of label names or {id, name, slug} objects.');
  return value.map((raw, index): LabelRef => {
    const bad = () => validationError('labels', `labels[${index}] must be a label name or an object with id, name or slug.`);
    if (typeof raw === 'string') {
      if (raw.trim() === '') throw bad();
      if (raw.trim().length > 191) throw validationError('labels', 'Label names must be at most 191 characters.');
      return {name: raw.trim()};
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad();
    const ref: LabelRef = {};
    for (const key of ['id', 'name', 'slug'] as const) {
      const field = (raw as Record<string, unknown>)[key];
      if (field === undefined || field === null) continue;
      if (typeof field !== 'string') throw bad();
      if (field.trim() !== '') ref[key] = field.trim();
    }
    if (ref.id === undefined && ref.name === undefined && ref.slug === undefined) throw bad();
    if ((ref.name?.length ?? 0) > 191 || (ref.slug?.length ?? 0) > 191) throw validationError('labels', 'Label names must be at most 191 characters.');
    return ref;
  });
}

/** Checks `newsletters`: a list of `{id}` objects (as read back from a member). */
function readNewsletterIds(value: unknown): string[] {
  if (!Array.isArray(value)) throw validationError('newsletters', 'newsletters must be a list of {id} objects.');
  return value.map((raw, index) => {
    const id = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>).id : undefined;
    if (typeof id !== 'string' || id === '') throw validationError('newsletters', `newsletters[${index}] must be an object with an id.`);
    return id;
  });
}

// ---------------------------------------------------------------------------------------------
// Labels

async function labelSlugTaken(q: Queryable, slug: string): Promise<boolean> {
  return (await q.selectFrom('labels').select('id').where('slug', '=', slug).executeTakeFirst()) !== undefined;
}

/**
 * Finds or creates each referenced label, in order, without duplicates: by id, then slug,
 * then name (case-insensitively); a label not found is created from its name (or slug).
 * An id alone that matches nothing is a 422. Returns the rows and which of them were created.
 */
export async function resolveLabelRefs(q: Queryable, refs: readonly LabelRef[], now: Date, random: Random): Promise<{labels: LabelsTable[]; created: LabelsTable[]}> {
  const labels: LabelsTable[] = [];
  const created: LabelsTable[] = [];
  const seen = new Set<string>();
  for (const {id, name, slug} of refs) {
    let row: LabelsTable | undefined;
    if (id) row = await q.selectFrom('labels').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row && slug) row = await q.selectFrom('labels').selectAll().where('slug', '=', slugify(slug)).executeTakeFirst();
    if (!row && name) row = await q.selectFrom('labels').selectAll().where(sql`lower(name)`, '=', name.toLowerCase()).executeTakeFirst();
    if (!row) {
      if (id && !name && !slug) throw validationError('labels', `Label with id ${id} does not exist.`);
      const labelName = name ?? slug!;
      const stamp = now.toISOString();
      row = {
        id: objectId(now, random),
        name: labelName,
        slug: await uniqueSlug(slug ? slugify(slug) : slugify(labelName, 'label'), (s) => labelSlugTaken(q, s)),
        created_at: stamp,
        updated_at: stamp,
      };
      await q.insertInto('labels').values(row).execute();
      created.push(row);
    }
    if (!seen.has(row.id)) {
      seen.add(row.id);
      labels.push(row);
    }
  }
  return {labels, created};
}

/** Replaces a member's label links with `labels`, in that order. */
async function setMemberLabels(q: Queryable, memberId: string, labels: readonly LabelsTable[], now: Date, random: Random): Promise<void> {
  await q.deleteFrom('members_labels').where('member_id', '=', memberId).execute();
  if (labels.length === 0) return;
  await q
    .insertInto('members_labels')
    .values(labels.map((label, index) => ({id: objectId(now, random), member_id: memberId, label_id: label.id, sort_order: index})))
    .execute();
}

// ---------------------------------------------------------------------------------------------
// Repository

/** True when another member (not `exceptId`) has `email`, compared case-insensitively. */
async function emailTaken(q: Queryable, email: string, exceptId?: string): Promise<boolean> {
  let query = q.selectFrom('members').select('id').where(sql`lower(email)`, '=', email.toLowerCase());
  if (exceptId) query = query.where('id', '!=', exceptId);
  return (await query.executeTakeFirst()) !== undefined;
}

/** Decides `subscribed` from `newsletters` (when given) or `subscribed`, else `fallback`. */
async function subscribedFlag(q: Queryable, fields: MemberInput, fallback: boolean): Promise<boolean> {
  if (fields.newsletterIds !== undefined) {
    const newsletter = await defaultNewsletter(q);
    return newsletter !== null && fields.newsletterIds.includes(newsletter.id);
  }
  return fields.subscribed ?? fallback;
}

/**
 * Runs a member write in one transaction. The unique indexes are the backstop for concurrent
 * requests: the e-mail one becomes Ghost's duplicate-member error; any other (a label another
 * request created between our lookup and our insert) runs the work once more, when the
 * lookup finds that label.
 */
async function inTransaction<T>(ctx: MemberContext, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.database.db.transaction().execute(work);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (isEmailViolation(error)) throw duplicateEmail(error);
      if (attempt >= 2) throw error;
    }
  }
}

/** SQLite says `UNIQUE constraint failed: members.email`; PostgreSQL names `members_email_key`. */
function isEmailViolation(error: unknown): boolean {
  const e = error as {message?: unknown; constraint?: unknown};
  return [e.message, e.constraint].some((s) => typeof s === 'string' && /members[._]email/.test(s));
}

/** Lists members with Ghost's browse options (labels loaded for the whole page in one query). */
export async function browseMembers(ctx: MemberContext, query: BrowseQuery): Promise<{members: MemberOutput[]; pagination: Pagination}> {
  const {rows, pagination} = await browsePage<MembersTable>(ctx.database.db.selectFrom('members').selectAll(), query, MEMBER_BROWSE, ctx.database.dialect, ctx.now);
  return {members: await serializeMembers(ctx.database.db, rows), pagination};
}

/** Reads one member by id, or throws a 404. */
export async function readMember(ctx: MemberContext, id: string): Promise<MemberOutput> {
  const member = await loadMember(ctx.database.db, id);
  if (!member) throw notFound('member');
  return member;
}

/** Creates a member from a request body item; returns the change (`before` is null). */
export async function addMember(ctx: MemberContext, input: Input, onChange?: MemberChangeHook): Promise<MemberChange> {
  const fields = readMemberInput(input, true);
  return inTransaction(ctx, async (trx) => {
    if (await emailTaken(trx, fields.email!)) throw duplicateEmail();
    const stamp = ctx.now.toISOString();
    const row: MembersTable = {
      id: objectId(ctx.now, ctx.random),
      uuid: ctx.random.uuid(),
      email: fields.email!,
      name: fields.name ?? null,
      note: fields.note ?? null,
      geolocation: null,
      status: 'free',
      subscribed: (await subscribedFlag(trx, fields, true)) ? 1 : 0,
      email_count: 0,
      email_opened_count: 0,
      email_open_rate: null,
      last_seen_at: null,
      created_at: stamp,
      updated_at: stamp,
    };
    await trx.insertInto('members').values(row).execute();
    if (fields.labels && fields.labels.length > 0) {
      const {labels} = await resolveLabelRefs(trx, fields.labels, ctx.now, ctx.random);
      await setMemberLabels(trx, row.id, labels, ctx.now, ctx.random);
    }
    const after = (await loadMember(trx, row.id))!;
    const change: MemberChange = {before: null, after, changedFields: Object.keys(after)};
    if (onChange) await onChange(trx, change);
    return change;
  });
}

/**
 * Edits a member. `labels`, when present, replaces the list. A save that changes nothing writes
 * nothing (updated_at stays) and returns `changedFields: []` with `before` equal to `after`.
 * A change of labels alone leaves the row, and so updated_at, untouched (as Ghost).
 */
export async function editMember(ctx: MemberContext, id: string, input: Input, onChange?: MemberChangeHook): Promise<MemberChange> {
  const fields = readMemberInput(input, false);
  return inTransaction(ctx, async (trx) => {
    const row = await trx.selectFrom('members').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('member', 'edit');
    const before = (await serializeMembers(trx, [row]))[0]!;

    const wanted: Partial<MembersTable> = {};
    if (fields.email !== undefined) wanted.email = fields.email;
    if (fields.name !== undefined) wanted.name = fields.name;
    if (fields.note !== undefined) wanted.note = fields.note;
    if (fields.subscribed !== undefined || fields.newsletterIds !== undefined) wanted.subscribed = (await subscribedFlag(trx, fields, row.subscribed === 1)) ? 1 : 0;
    const changed = Object.entries(wanted).filter(([key, value]) => row[key as keyof MembersTable] !== value);

    if (wanted.email !== undefined && wanted.email !== row.email && (await emailTaken(trx, wanted.email, id))) throw duplicateEmail();
    if (changed.length > 0) {
      await trx.updateTable('members').set({...Object.fromEntries(changed), updated_at: ctx.now.toISOString()}).where('id', '=', id).execute();
    }
    if (fields.labels !== undefined) {
      const {labels} = await resolveLabelRefs(trx, fields.labels, ctx.now, ctx.random);
      const same = labels.length === before.labels.length && labels.every((label, index) => label.id === before.labels[index]!.id);
      if (!same) await setMemberLabels(trx, id, labels, ctx.now, ctx.random);
    }

    const after = (await loadMember(trx, id))!;
    const change: MemberChange = {before, after, changedFields: diffKeys(before, after)};
    if (onChange && change.changedFields.length > 0) await onChange(trx, change);
    return change;
  });
}

/** Deletes a member (and its label links), or throws a 404; returns the change (`after` is null). */
export async function deleteMember(ctx: MemberContext, id: string, onChange?: MemberChangeHook): Promise<MemberChange> {
  return inTransaction(ctx, async (trx) => {
    const before = await loadMember(trx, id);
    if (!before) throw notFound('member', 'delete');
    // Explicit rather than relying on ON DELETE CASCADE, which SQLite honours only with the pragma on.
    await trx.deleteFrom('members_labels').where('member_id', '=', id).execute();
    await trx.deleteFrom('members').where('id', '=', id).execute();
    const change: MemberChange = {before, after: null, changedFields: Object.keys(before)};
    if (onChange) await onChange(trx, change);
    return change;
  });
}
