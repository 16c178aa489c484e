/**
 * The browse contract shared by every list endpoint: limit (default 15, max 100), page,
 * order (`field asc|desc`, comma list, whitelisted), filter (NQL) and Ghost's pagination meta.
 */
import {sql, type RawBuilder, type SelectQueryBuilder} from 'kysely';
import {filterToSql, type FilterSpec} from '../db/filter.ts';
import {toCount, type Dialect} from '../db/database.ts';
import {HeraldError} from '../lib/errors.ts';

/** Browse options as they arrive from the query string (all optional strings). */
export interface BrowseQuery {
  readonly limit?: string | number;
  readonly page?: string | number;
  readonly order?: string;
  readonly filter?: string;
}

/** Ghost's `meta.pagination`. */
export interface Pagination {
  page: number;
  limit: number;
  pages: number;
  total: number;
  next: number | null;
  prev: number | null;
}

/** What a resource allows: its filter fields, its sortable columns, its default order. */
export interface BrowseSpec {
  readonly filter: FilterSpec;
  /** Sortable API field → column reference. */
  readonly orderable: Readonly<Record<string, string>>;
  /** Default order, e.g. `created_at desc`. */
  readonly defaultOrder: string;
  /** Final tie-breaker column, e.g. `posts.id`, so pages never overlap. */
  readonly idColumn: string;
}

/** Largest page size (Ghost 6 caps `limit` at 100). */
export const MAX_LIMIT = 100;
/** Page size when none is asked for. */
export const DEFAULT_LIMIT = 15;

/** Parses `limit`, rejecting junk with a 422 and capping at MAX_LIMIT. */
export function parseLimit(value: string | number | undefined): number {
  if (value === undefined || value === '') return DEFAULT_LIMIT;
  if (value === 'all') return MAX_LIMIT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new HeraldError('Validation', {message: 'Validation error, cannot list resource.', context: `limit must be a positive integer (got "${value}").`, property: 'limit'});
  }
  return Math.min(n, MAX_LIMIT);
}

/** Highest `page`: keeps the SQL offset a safe integer (a larger one overflowed into a 500). */
export const MAX_PAGE = Math.floor(Number.MAX_SAFE_INTEGER / MAX_LIMIT);

/** Parses `page` (1-based, at most MAX_PAGE). */
export function parsePage(value: string | number | undefined): number {
  if (value === undefined || value === '') return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) {
    throw new HeraldError('Validation', {message: 'Validation error, cannot list resource.', context: `page must be a positive integer (got "${value}").`, property: 'page'});
  }
  return n;
}

/** Parses `order` against the whitelist into SQL order terms. */
export function parseOrder(text: string, spec: BrowseSpec): RawBuilder<unknown>[] {
  const terms: RawBuilder<unknown>[] = [];
  for (const part of text.split(',')) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const [field, direction = 'asc', ...rest] = trimmed.split(/\s+/);
    const column = spec.orderable[field!];
    const dir = direction.toLowerCase();
    if (!column || rest.length > 0 || (dir !== 'asc' && dir !== 'desc')) {
      throw new HeraldError('BadRequest', {
        message: 'Invalid order',
        context: `"${trimmed}" is not a valid order. Use "<field> asc|desc" with one of: ${Object.keys(spec.orderable).join(', ')}.`,
        property: 'order',
        code: 'INVALID_ORDER',
      });
    }
    // The engines disagree on where NULLs sort; say it explicitly (SQLite's order: NULL is lowest).
    terms.push(sql`${sql.ref(column)} ${sql.raw(dir === 'asc' ? 'asc nulls first' : 'desc nulls last')}`);
  }
  return terms;
}

/**
 * Runs a paginated browse over `base` (a select of the resource's rows), returning the page's
 * rows and Ghost's pagination meta.
 */
export async function browsePage<Row>(
  base: SelectQueryBuilder<any, any, any>,
  query: BrowseQuery,
  spec: BrowseSpec,
  dialect: Dialect,
  now: Date,
  extraWhere?: RawBuilder<boolean>,
): Promise<{rows: Row[]; pagination: Pagination}> {
  const limit = parseLimit(query.limit);
  const page = parsePage(query.page);
  let filtered = base;
  if (extraWhere) filtered = filtered.where(extraWhere);
  if (query.filter && query.filter.trim() !== '') filtered = filtered.where(filterToSql(query.filter, spec.filter, dialect, now));

  const countRow = await filtered.clearSelect().select(sql<number>`count(*)`.as('count')).executeTakeFirst();
  const total = toCount((countRow as {count?: unknown} | undefined)?.count);

  const orderTerms = parseOrder(query.order && query.order.trim() !== '' ? query.order : spec.defaultOrder, spec);
  orderTerms.push(sql`${sql.ref(spec.idColumn)} desc`);
  let rowsQuery = filtered;
  for (const term of orderTerms) rowsQuery = rowsQuery.orderBy(term as any);
  const rows = (await rowsQuery.limit(limit).offset((page - 1) * limit).execute()) as Row[];

  const pages = Math.max(1, Math.ceil(total / limit));
  return {
    rows,
    pagination: {page, limit, pages, total, next: page < pages ? page + 1 : null, prev: page > 1 ? page - 1 : null},
  };
}

/** Applies Ghost's `fields` option: keeps only the named keys (and always `id`). */
export function pickFields<T extends Record<string, unknown>>(object: T, fields: string | undefined): Partial<T> {
  if (!fields || fields.trim() === '') return object;
  const wanted = new Set(fields.split(',').map((f) => f.trim()).filter(Boolean));
  wanted.add('id');
  const out: Partial<T> = {};
  for (const key of Object.keys(object)) if (wanted.has(key)) (out as Record<string, unknown>)[key] = object[key];
  return out;
}
