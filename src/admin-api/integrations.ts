/**
 * `/integrations/` routes (staff only, as Ghost): browse, read, add, edit, delete with
 * `?include=api_keys,webhooks`, and API key refresh.
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';
import {
  browseIntegrations,
  createIntegration,
  deleteIntegration,
  editIntegration,
  readIntegration,
  readIntegrationInput,
  refreshApiKey,
} from '../content/integrations.ts';
import {singleItem} from '../content/input.ts';
import {MAX_LIMIT} from '../content/browse.ts';
import {browseEnvelope, noContent, singleEnvelope, type CommonQuery} from './respond.ts';

/** Registers the integration routes on the Admin API. */
export function registerIntegrationRoutes(app: FastifyInstance, deps: Deps): void {
  const staffOnly = {config: {staffOnly: true}};
  const db = () => deps.database.db;

  app.get<{Querystring: CommonQuery}>('/integrations/', staffOnly, async (request) => {
    const integrations = await browseIntegrations(db(), request.query.include);
    const total = integrations.length;
    return browseEnvelope('integrations', integrations, {page: 1, limit: Math.max(total, MAX_LIMIT), pages: 1, total, next: null, prev: null});
  });

  app.get<{Params: {id: string}; Querystring: CommonQuery}>('/integrations/:id/', staffOnly, async (request) => {
    return singleEnvelope('integrations', await readIntegration(db(), request.params.id, request.query.include));
  });

  app.post<{Querystring: CommonQuery}>('/integrations/', staffOnly, async (request, reply) => {
    const fields = readIntegrationInput(singleItem(request.body, 'integrations'), true);
    const now = deps.clock.now();
    const row = await db().transaction().execute((trx) => createIntegration(trx, {name: fields.name!, description: fields.description, icon_image: fields.icon_image}, now, deps.random));
    // Ghost answers an add with the keys included, so the admin can show them at once.
    const include = request.query.include ?? 'api_keys,webhooks';
    return reply.status(201).send(singleEnvelope('integrations', await readIntegration(db(), row.id, include)));
  });

  app.put<{Params: {id: string}; Querystring: CommonQuery}>('/integrations/:id/', staffOnly, async (request) => {
    const fields = readIntegrationInput(singleItem(request.body, 'integrations'), false);
    await db().transaction().execute((trx) => editIntegration(trx, request.params.id, fields, deps.clock.now()));
    return singleEnvelope('integrations', await readIntegration(db(), request.params.id, request.query.include ?? 'api_keys,webhooks'));
  });

  app.delete<{Params: {id: string}}>('/integrations/:id/', staffOnly, async (request, reply) => {
    await db().transaction().execute((trx) => deleteIntegration(trx, request.params.id));
    return noContent(reply);
  });

  app.post<{Params: {id: string; keyid: string}}>('/integrations/:id/api_key/:keyid/refresh/', staffOnly, async (request) => {
    await db().transaction().execute((trx) => refreshApiKey(trx, request.params.id, request.params.keyid, deps.clock.now(), deps.random));
    return singleEnvelope('integrations', await readIntegration(db(), request.params.id, 'api_keys,webhooks'));
  });
}
