/**
 * Site settings: a key/value table read by `/settings/` and `/site/`, edited by staff.
 *
 * An edit validates every entry before writing any, then writes only the rows whose value
 * actually changes, in one transaction, and reports which keys changed (the outbox fires
 * `site.changed` for an edit that changed something, through the `onChange` hook).
 */
import type {Transaction} from 'kysely';
import type {Database, Queryable} from '../db/database.ts';
import type {DB} from '../db/schema.ts';
import {HeraldError, validationError} from '../lib/errors.ts';

/** One setting as the Admin API shows it. Values are text as stored (or null). */
export interface SettingOutput {
  key: string;
  value: string | null;
}

/** Every setting, key → stored value. */
export type SettingsMap = Record<string, string | null>;

/**
 * What an edit did, computed inside its transaction: the whole map before and after, and the
 * keys whose value changed (empty for a save that changed nothing).
 */
export interface SettingsChange {
  before: SettingsMap;
  after: SettingsMap;
  changedKeys: string[];
}

/**
 * Called inside the edit's transaction, before commit, and only when some value changed.
 * If it throws, nothing is written.
 */
export type SettingsChangeHook = (trx: Transaction<DB>, change: SettingsChange) => Promise<void>;

/** Context for settings operations. */
export interface SettingsContext {
  readonly database: Database;
  readonly now: Date;
}

/** Reads every setting into a key → value map. */
export async function readSettings(q: Queryable): Promise<SettingsMap> {
  const rows = await q.selectFrom('settings').select(['key', 'value']).execute();
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}

/**
 * Every setting as `[{key, value}]`, ordered by key. Sorted here rather than in SQL because
 * PostgreSQL's locale collation and SQLite's byte order disagree on `_`.
 */
export async function browseSettings(q: Queryable): Promise<SettingOutput[]> {
  return settingsList(await readSettings(q));
}

/** A settings map as the API's `[{key, value}]` list, ordered by key. */
export function settingsList(map: SettingsMap): SettingOutput[] {
  return Object.keys(map)
    .sort()
    .map((key) => ({key, value: map[key] ?? null}));
}

/** How one key's value is checked and turned into its stored text. */
type Rule = (key: string, value: unknown) => string | null;

/** A string of at most `max` characters; null allowed when `nullable`; empty refused when `nonEmpty`. */
function text(max: number, options: {nullable?: boolean; nonEmpty?: boolean} = {}): Rule {
  return (key, value) => {
    if (value === null && options.nullable) return null;
    if (typeof value !== 'string') throw validationError(key, `${key} must be a string${options.nullable ? ' or null' : ''}.`);
    if (options.nonEmpty && value.trim() === '') throw validationError(key, `${key} cannot be empty.`);
    if (value.length > max) throw validationError(key, `${key} must be at most ${max} characters.`);
    return value;
  };
}

const accentColor: Rule = (key, value) => {
  if (typeof value !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(value)) throw validationError(key, `${key} must be a hex colour such as #FF1A75.`);
  return value;
};

const timezone: Rule = (key, value) => {
  if (typeof value !== 'string' || value.trim() === '') throw validationError(key, `${key} must be an IANA time zone such as Europe/London.`);
  try {
    // Intl knows the IANA database; an unknown zone throws a RangeError.
    new Intl.DateTimeFormat('en-US', {timeZone: value});
  } catch {
    throw validationError(key, `${value} is not a known time zone.`);
  }
  return value;
};

/** A navigation list: an array (or its JSON text) of `{label, url}` items, stored as JSON text. */
const navigation: Rule = (key, value) => {
  let list: unknown = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value);
    } catch {
      throw validationError(key, `${key} must be a JSON array of {label, url} items.`);
    }
  }
  if (!Array.isArray(list)) throw validationError(key, `${key} must be a JSON array of {label, url} items.`);
  for (const [index, item] of list.entries()) {
    const entry = item as Record<string, unknown> | null;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || typeof entry.label !== 'string' || typeof entry.url !== 'string') {
      throw validationError(key, `${key}[${index}] must be an object with a label and a url.`);
    }
  }
  return JSON.stringify(list);
};

/** The rule of each known key (Ghost's limits); keys without one take any text or null. */
const RULES: Readonly<Record<string, Rule>> = {
  title: text(150),
  description: text(200, {nullable: true}),
  logo: text(2000, {nullable: true}),
  icon: text(2000, {nullable: true}),
  cover_image: text(2000, {nullable: true}),
  accent_color: accentColor,
  locale: text(50, {nonEmpty: true}),
  timezone,
  facebook: text(2000, {nullable: true}),
  twitter: text(2000, {nullable: true}),
  meta_title: text(300, {nullable: true}),
  meta_description: text(500, {nullable: true}),
  navigation,
  secondary_navigation: navigation,
};

const anyText = text(65535, {nullable: true});

/** Checks the body shape `{settings: [{key, value}, …]}` and returns its entries. */
function readEntries(body: unknown): Array<{key: string; value: unknown}> {
  const list = (body as Record<string, unknown> | null | undefined)?.settings;
  const bad = (context: string) => new HeraldError('Validation', {message: 'Validation failed for settings.', context, property: 'settings'});
  if (!Array.isArray(list)) throw bad('The body must be {"settings": [ {"key": …, "value": …}, … ]}.');
  return list.map((item, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw bad(`settings[${index}] must be an object with a key and a value.`);
    const {key, value} = item as Record<string, unknown>;
    if (typeof key !== 'string' || key === '') throw bad(`settings[${index}] needs a key.`);
    return {key, value};
  });
}

/**
 * Edits settings from a request body `{settings: [{key, value}, …]}`. Every entry is checked
 * before anything is written: an unknown key is Ghost's 404, a bad value a 422 naming the key.
 * Only rows whose value changes are written (their updated_at bumped).
 */
export async function editSettings(ctx: SettingsContext, body: unknown, onChange?: SettingsChangeHook): Promise<SettingsChange> {
  const entries = readEntries(body);
  return ctx.database.db.transaction().execute(async (trx) => {
    const before = await readSettings(trx);
    // Validate everything first: a body mixing good and bad entries must change nothing.
    const wanted = new Map<string, string | null>();
    for (const {key, value} of entries) {
      if (!Object.hasOwn(before, key)) {
        throw new HeraldError('NotFound', {message: `Problem finding setting: ${key}`, context: `There is no setting called "${key}".`});
      }
      wanted.set(key, (RULES[key] ?? anyText)(key, value));
    }
    const changedKeys = [...wanted].filter(([key, value]) => before[key] !== value).map(([key]) => key).sort();
    const stamp = ctx.now.toISOString();
    for (const key of changedKeys) {
      await trx.updateTable('settings').set({value: wanted.get(key)!, updated_at: stamp}).where('key', '=', key).execute();
    }
    const after: SettingsMap = {...before};
    for (const key of changedKeys) after[key] = wanted.get(key)!;
    const change: SettingsChange = {before, after, changedKeys};
    if (onChange && changedKeys.length > 0) await onChange(trx, change);
    return change;
  });
}
