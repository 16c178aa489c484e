/**
 * `/tags/` routes: browse, read by id or slug, add, edit, delete.
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';
import {addTag, browseTags, deleteTag, editTag, readTag, type TagContext} from '../content/tags.ts';
import {pickFields} from '../content/browse.ts';
import {singleItem} from '../content/input.ts';
import {eventsFor} from '../events/outbox.ts';
import {browseEnvelope, noContent, singleEnvelope, type CommonQuery} from './respond.ts';

/** Registers the tag routes on the Admin API. */
export function registerTagRoutes(app: FastifyInstance, deps: Deps): void {
  const ctx = (): TagContext => ({database: deps.database, siteUrl: deps.siteUrl(), now: deps.clock.now(), random: deps.random});
  // Every write fires its events in its own transaction (the outbox), then wakes the worker.
  const withEvents = eventsFor(deps);

  app.get<{Querystring: CommonQuery}>('/tags/', async (request) => {
    const {tags, pagination} = await browseTags(ctx(), request.query);
    return browseEnvelope('tags', tags.map((t) => pickFields(t as unknown as Record<string, unknown>, request.query.fields)), pagination);
  });

  app.get<{Params: {id: string}; Querystring: CommonQuery}>('/tags/:id/', async (request) => {
    const tag = await readTag(ctx(), {id: request.params.id}, request.query.include);
    return singleEnvelope('tags', pickFields(tag as unknown as Record<string, unknown>, request.query.fields));
  });

  app.get<{Params: {slug: string}; Querystring: CommonQuery}>('/tags/slug/:slug/', async (request) => {
    const tag = await readTag(ctx(), {slug: request.params.slug}, request.query.include);
    return singleEnvelope('tags', pickFields(tag as unknown as Record<string, unknown>, request.query.fields));
  });

  app.post('/tags/', async (request, reply) => {
    const tag = await withEvents((on) => addTag(ctx(), singleItem(request.body, 'tags'), on.tag));
    return reply.status(201).send(singleEnvelope('tags', tag));
  });

  app.put<{Params: {id: string}}>('/tags/:id/', async (request) => {
    const tag = await withEvents((on) => editTag(ctx(), request.params.id, singleItem(request.body, 'tags'), on.tag));
    return singleEnvelope('tags', tag);
  });

  app.delete<{Params: {id: string}}>('/tags/:id/', async (request, reply) => {
    await withEvents((on) => deleteTag(ctx(), request.params.id, on.tag));
    return noContent(reply);
  });
}
