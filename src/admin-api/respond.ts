/**
 * Ghost's response envelopes. Browse answers `{<res>: [...], meta: {pagination}}`; read, add
 * and edit answer `{<res>: [one]}` with no meta (the official client depends on that).
 */
import type {FastifyReply} from 'fastify';
import type {Pagination} from '../content/browse.ts';

/** Query parameters every browse/read route accepts. */
export interface CommonQuery {
  limit?: string;
  page?: string;
  order?: string;
  filter?: string;
  include?: string;
  fields?: string;
  formats?: string;
  source?: string;
}

/** The browse envelope. */
export function browseEnvelope<T>(resource: string, items: T[], pagination: Pagination): Record<string, unknown> {
  return {[resource]: items, meta: {pagination}};
}

/** The single-resource envelope (no meta). */
export function singleEnvelope<T>(resource: string, item: T): Record<string, unknown> {
  return {[resource]: [item]};
}

/** 204 with an empty body, as Ghost answers a delete. */
export function noContent(reply: FastifyReply): FastifyReply {
  return reply.status(204).send();
}
