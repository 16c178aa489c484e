/**
 * Translates Ghost's NQL filters into SQL for either engine. @tryghost/nql parses the text
 * into Mongo-style JSON; this module walks that JSON against a whitelist of fields, so an
 * unknown field or operator is a clear 400, never an SQL error.
 */
import nql from '@tryghost/nql';
import {sql, type RawBuilder} from 'kysely';
import {HeraldError} from '../lib/errors.ts';
import type {Dialect} from './database.ts';

/** How a field's values are compared and stored. */
export type FieldKind = 'string' | 'date' | 'flag' | 'number';

/** A field that is a column of the browsed table (or a fixed expression over it). */
export interface ColumnField {
  readonly column: string;
  readonly kind: FieldKind;
}

/**
 * A field that lives on a related table, matched with EXISTS: `from` is the FROM/JOIN clause
 * of the subquery, `link` ties it to the outer row, `column` is the compared column.
 */
export interface RelationField {
  readonly relation: {readonly from: RawBuilder<unknown>; readonly link: RawBuilder<unknown>};
  readonly column: string;
  readonly kind: FieldKind;
}

/** The fields one resource can be filtered on, plus aliases (`tag` → `tags.slug`). */
export interface FilterSpec {
  readonly fields: Readonly<Record<string, ColumnField | RelationField>>;
  readonly aliases?: Readonly<Record<string, string>>;
}

type Node = Record<string, unknown>;

/** Parses NQL text, throwing a 400 BadRequestError that quotes the parser's complaint. */
export function parseNql(text: string): Node {
  try {
    return nql(text).parse() as Node;
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new HeraldError('BadRequest', {
      message: 'Error parsing filter',
      context: detail,
      help: 'Filters look like status:published+tag:news (see Ghost\'s NQL syntax).',
      code: 'INVALID_FILTER',
      cause: error,
    });
  }
}

/** Builds the SQL condition for an NQL filter text against `spec`. */
export function filterToSql(text: string, spec: FilterSpec, dialect: Dialect, now: Date = new Date()): RawBuilder<boolean> {
  return compile(parseNql(text), spec, dialect, now);
}

function compile(node: Node, spec: FilterSpec, dialect: Dialect, now: Date): RawBuilder<boolean> {
  const parts: RawBuilder<boolean>[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === '$and' || key === '$or') {
      const children = (value as Node[]).map((child) => compile(child, spec, dialect, now));
      if (children.length === 0) continue;
      parts.push(sql<boolean>`(${sql.join(children, key === '$and' ? sql` and ` : sql` or `)})`);
    } else {
      parts.push(compileField(key, value, spec, dialect, now));
    }
  }
  if (parts.length === 0) return sql<boolean>`1 = 1`;
  return parts.length === 1 ? parts[0]! : sql<boolean>`(${sql.join(parts, sql` and `)})`;
}

function compileField(name: string, condition: unknown, spec: FilterSpec, dialect: Dialect, now: Date): RawBuilder<boolean> {
  const resolved = spec.aliases?.[name] ?? name;
  const field = spec.fields[resolved];
  if (!field) {
    throw new HeraldError('BadRequest', {
      message: 'Error parsing filter',
      context: `Unknown filter field "${name}". Fields: ${Object.keys(spec.fields).concat(Object.keys(spec.aliases ?? {})).sort().join(', ')}.`,
      code: 'INVALID_FILTER',
    });
  }

  const ops = isOperatorObject(condition) ? (condition as Node) : {$eq: condition};
  const conditions: RawBuilder<boolean>[] = [];
  for (const [op, raw] of Object.entries(ops)) {
    conditions.push(compileOp(name, field, op, raw, dialect, now));
  }
  return conditions.length === 1 ? conditions[0]! : sql<boolean>`(${sql.join(conditions, sql` and `)})`;
}

function isOperatorObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !(value instanceof RegExp) && !Array.isArray(value) &&
    Object.keys(value).every((k) => k.startsWith('$'));
}

function compileOp(name: string, field: ColumnField | RelationField, op: string, raw: unknown, dialect: Dialect, now: Date): RawBuilder<boolean> {
  const col = sql.ref(field.column);
  // Negations over a relation mean "no related row matches", not "some related row differs".
  const negated = op === '$ne' || op === '$nin';
  const positiveOp = op === '$ne' ? '$eq' : op === '$nin' ? '$in' : op;

  let condition: RawBuilder<boolean>;
  // True when the positive condition itself selects null values (`x:null`, `x:[a,null]`).
  let matchesNull = false;
  switch (positiveOp) {
    case '$eq': {
      const value = coerce(name, field.kind, raw, now);
      matchesNull = value === null;
      condition = value === null ? sql<boolean>`${col} is null` : sql<boolean>`${col} = ${value}`;
      break;
    }
    case '$in': {
      if (!Array.isArray(raw)) throw badFilter(`"${name}" expects a list`);
      const coerced = raw.map((v) => coerce(name, field.kind, v, now));
      const values = coerced.filter((v) => v !== null);
      matchesNull = values.length !== coerced.length;
      const inList = values.length === 0 ? sql<boolean>`1 = 0` : sql<boolean>`${col} in (${sql.join(values)})`;
      condition = matchesNull ? sql<boolean>`(${inList} or ${col} is null)` : inList;
      break;
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte': {
      const value = coerce(name, field.kind, raw, now);
      if (value === null) throw badFilter(`"${name}" cannot be compared with null`);
      const symbol = {$gt: '>', $gte: '>=', $lt: '<', $lte: '<='}[positiveOp];
      condition = sql<boolean>`${col} ${sql.raw(symbol)} ${value}`;
      break;
    }
    case '$regex': {
      if (!(raw instanceof RegExp)) throw badFilter(`"${name}" has an invalid pattern`);
      const pattern = regexToLike(raw);
      condition = dialect === 'postgres'
        ? sql<boolean>`${col} ilike ${pattern} escape '\\'`
        : sql<boolean>`${col} like ${pattern} escape '\\'`;
      break;
    }
    case '$not': {
      if (!(raw instanceof RegExp)) throw badFilter(`"${name}" has an invalid pattern`);
      const pattern = regexToLike(raw);
      const like = dialect === 'postgres' ? sql`ilike` : sql`like`;
      condition = sql<boolean>`not (${col} ${like} ${pattern} escape '\\')`;
      break;
    }
    default:
      throw badFilter(`operator ${op} is not supported on "${name}"`);
  }

  if ('relation' in field) {
    const exists = sql<boolean>`exists (select 1 from ${field.relation.from} where ${field.relation.link} and ${condition})`;
    return negated ? sql<boolean>`not ${exists}` : exists;
  }
  if (!negated) return condition;
  // A plain column: "not equal" keeps rows whose value is null (a missing value differs),
  // unless null is one of the excluded values (`x:-null`, `x:-[a,null]`).
  if (matchesNull) return sql<boolean>`not (${condition})`;
  return sql<boolean>`(not (${condition}) or ${col} is null)`;
}

function coerce(name: string, kind: FieldKind, raw: unknown, now: Date): string | number | null {
  if (raw === null) return null;
  switch (kind) {
    case 'flag':
      if (raw === true || raw === 'true' || raw === 1) return 1;
      if (raw === false || raw === 'false' || raw === 0) return 0;
      throw badFilter(`"${name}" expects true or false`);
    case 'number': {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw badFilter(`"${name}" expects a number`);
      return n;
    }
    case 'date': {
      if (raw === 'now') return now.toISOString();
      // Stored times are UTC, and so are zone-less values (NQL's own `now-1d` resolves to
      // `YYYY-MM-DD HH:mm:ss` in UTC); JavaScript would read those in the server's local zone.
      const text = String(raw).trim();
      const zoneless = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text);
      const date = new Date(zoneless ? `${text.replace(' ', 'T')}Z` : text);
      if (Number.isNaN(date.getTime())) throw badFilter(`"${name}" expects a date such as '2026-01-31'`);
      return date.toISOString();
    }
    default:
      return String(raw);
  }
}

/** Turns NQL's contains / starts-with / ends-with RegExp back into a LIKE pattern. */
function regexToLike(re: RegExp): string {
  let source = re.source;
  const starts = source.startsWith('^');
  const ends = source.endsWith('$') && !source.endsWith('\\$');
  if (starts) source = source.slice(1);
  if (ends) source = source.slice(0, -1);
  const literal = source.replace(/\\(.)/g, '$1');
  const escaped = literal.replace(/[\\%_]/g, (c) => `\\${c}`);
  return `${starts ? '' : '%'}${escaped}${ends ? '' : '%'}`;
}

function badFilter(context: string): HeraldError {
  return new HeraldError('BadRequest', {message: 'Error parsing filter', context, code: 'INVALID_FILTER'});
}
