/**
 * Staff users: the owner made by first-run setup, sign-in sessions, and the user shape that
 * posts show as `authors` (never with the e-mail address).
 */
import {createHash, randomBytes} from 'node:crypto';
import type {Database, Queryable} from '../db/database.ts';
import type {RolesTable, UsersTable} from '../db/schema.ts';
import {HeraldError, validationError} from '../lib/errors.ts';
import {slugify} from '../lib/slug.ts';
import {hashPassword, verifyPassword} from './passwords.ts';
import {isValidEmail} from './email.ts';
import {optionalString, requiredString, type Input} from './input.ts';

/** A staff user as payloads and the Admin API show it (Ghost's keys; email only where asked). */
export interface UserOutput {
  id: string;
  name: string;
  slug: string;
  email?: string;
  profile_image: string | null;
  cover_image: string | null;
  bio: string | null;
  website: string | null;
  location: string | null;
  facebook: string | null;
  twitter: string | null;
  accessibility: string | null;
  status: string;
  meta_title: string | null;
  meta_description: string | null;
  tour: string | null;
  last_seen: string | null;
  comment_notifications: boolean;
  free_member_signup_notification: boolean;
  paid_subscription_started_notification: boolean;
  paid_subscription_canceled_notification: boolean;
  mention_notifications: boolean;
  recommendation_notifications: boolean;
  milestone_notifications: boolean;
  donation_notifications: boolean;
  created_at: string;
  updated_at: string;
  roles: Array<{id: string; name: string; description: string | null; created_at: string; updated_at: string}>;
  url: string;
}

/** Serialises a staff user; `withEmail` only for the user's own views (setup, session). */
export function serializeUser(row: UsersTable, role: RolesTable | undefined, siteUrl: string, withEmail = false): UserOutput {
  const out: UserOutput = {
    id: row.id,
    name: row.name,
    slug: row.slug,
    ...(withEmail ? {email: row.email} : {}),
    profile_image: row.profile_image,
    cover_image: row.cover_image,
    bio: row.bio,
    website: row.website,
    location: row.location,
    facebook: row.facebook,
    twitter: row.twitter,
    accessibility: null,
    status: row.status,
    meta_title: row.meta_title,
    meta_description: row.meta_description,
    tour: null,
    last_seen: row.last_seen,
    comment_notifications: true,
    free_member_signup_notification: true,
    paid_subscription_started_notification: true,
    paid_subscription_canceled_notification: false,
    mention_notifications: true,
    recommendation_notifications: true,
    milestone_notifications: true,
    donation_notifications: true,
    created_at: row.created_at,
    updated_at: row.updated_at,
    roles: role ? [{id: role.id, name: role.name, description: role.description, created_at: role.created_at, updated_at: role.updated_at}] : [],
    url: `${siteUrl}/author/${row.slug}/`,
  };
  return out;
}

/** The owner row (always present: migrations seed an inactive one that setup completes). */
export async function getOwner(q: Queryable): Promise<{user: UsersTable; role: RolesTable}> {
  const role = await q.selectFrom('roles').selectAll().where('name', '=', 'Owner').executeTakeFirstOrThrow();
  const user = await q.selectFrom('users').selectAll().where('role_id', '=', role.id).orderBy('created_at', 'asc').executeTakeFirstOrThrow();
  return {user, role};
}

/** True once first-run setup has made the owner active. */
export async function isSetup(q: Queryable): Promise<boolean> {
  return (await getOwner(q)).user.status === 'active';
}

/** Ghost's shortest accepted staff password. */
export const MIN_PASSWORD_LENGTH = 10;

/**
 * First-run setup: completes the owner account and sets the site title. Fails with 403 when
 * setup was already done.
 */
export async function setupOwner(database: Database, input: Input, siteUrl: string, now: Date): Promise<UserOutput> {
  const name = requiredString(input, 'name', 191).trim();
  const email = requiredString(input, 'email', 191).trim();
  if (!isValidEmail(email)) throw validationError('email', 'Please enter a valid email address.');
  const password = requiredString(input, 'password', 1000);
  if (password.length < MIN_PASSWORD_LENGTH) throw validationError('password', `Your password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  const blogTitle = optionalString(input, 'blogTitle', 150);
  const hash = await hashPassword(password);
  const stamp = now.toISOString();

  return database.db.transaction().execute(async (trx) => {
    const {user, role} = await getOwner(trx);
    if (user.status === 'active') throw new HeraldError('NoPermission', {message: 'Setup has already been completed.'});
    const update = {name, email: email.toLowerCase(), slug: slugify(name, 'owner'), password: hash, status: 'active', updated_at: stamp, last_seen: stamp};
    await trx.updateTable('users').set(update).where('id', '=', user.id).execute();
    if (blogTitle) await trx.updateTable('settings').set({value: blogTitle, updated_at: stamp}).where('key', '=', 'title').execute();
    return serializeUser({...user, ...update}, role, siteUrl, true);
  });
}

/** SHA-256 of a session token: what the sessions table stores (a leak cannot replay sessions). */
export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** How long a staff session lasts (Ghost: about six months). */
export const SESSION_TTL_MS = 184 * 24 * 3600 * 1000;

/**
 * Signs a staff user in with e-mail and password. Returns the new session token (for the
 * cookie); only its hash is stored.
 */
export async function createSession(database: Database, input: Input, origin: string, now: Date): Promise<{token: string; expires: Date}> {
  const username = requiredString(input, 'username', 191).trim().toLowerCase();
  const password = requiredString(input, 'password', 1000);
  const user = await database.db.selectFrom('users').selectAll().where('email', '=', username).executeTakeFirst();
  if (!user || user.status !== 'active') {
    throw new HeraldError('NotFound', {message: 'There is no user with that email address.', code: 'USER_NOT_FOUND'});
  }
  if (!(await verifyPassword(password, user.password))) {
    throw new HeraldError('Validation', {message: 'Your password is incorrect.', context: 'Your password is incorrect.', property: 'password', code: 'PASSWORD_INCORRECT'});
  }
  const token = randomBytes(32).toString('base64url');
  const expires = new Date(now.getTime() + SESSION_TTL_MS);
  await database.db.transaction().execute(async (trx) => {
    await trx.insertInto('sessions').values({id: hashSessionToken(token), user_id: user.id, origin, created_at: now.toISOString(), expires_at: expires.toISOString()}).execute();
    await trx.updateTable('users').set({last_seen: now.toISOString()}).where('id', '=', user.id).execute();
    // Expired sessions are swept on each sign-in so the table stays small.
    await trx.deleteFrom('sessions').where('expires_at', '<=', now.toISOString()).execute();
  });
  return {token, expires};
}

/** Ends a session (signing out); unknown tokens are ignored. */
export async function deleteSession(database: Database, token: string): Promise<void> {
  await database.db.deleteFrom('sessions').where('id', '=', hashSessionToken(token)).execute();
}
