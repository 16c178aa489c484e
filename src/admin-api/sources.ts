/**
 * `/sources/` routes (SPEC §13): the upstream Ghost sites Herald relays. Staff sessions and
 * Admin API keys alike may add, list, read and delete them; each answers Ghost's envelopes
 * with `{"id","name","secret","ingest_path"}` items.
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';
import {singleItem} from '../content/input.ts';
import {createSource, deleteSource, listSources, readSource, serializeSource} from '../relay/sources.ts';
import {browseEnvelope, noContent, singleEnvelope} from './respond.ts';

/** Registers the source routes on the Admin API. */
export function registerSourceRoutes(app: FastifyInstance, deps: Deps): void {
  const db = () => deps.database.db;

  app.get('/sources/', async () => {
    const sources = (await listSources(db())).map(serializeSource);
    const total = sources.length;
    return browseEnvelope('sources', sources, {page: 1, limit: Math.max(total, 15), pages: 1, total, next: null, prev: null});
  });

  app.get<{Params: {id: string}}>('/sources/:id/', async (request) => singleEnvelope('sources', serializeSource(await readSource(db(), request.params.id))));

  app.post('/sources/', async (request, reply) => {
    const input = singleItem(request.body, 'sources');
    const row = await createSource(db(), {name: input.name}, deps.clock.now(), deps.random);
    return reply.status(201).send(singleEnvelope('sources', serializeSource(row)));
  });

  app.delete<{Params: {id: string}}>('/sources/:id/', async (request, reply) => {
    await db().transaction().execute((trx) => deleteSource(trx, request.params.id, deps.database.dialect));
    return noContent(reply);
  });
}
