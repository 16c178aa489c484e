/**
 * `/webhooks/` routes: add, edit, delete as Ghost, plus Herald's browse and read. Integrations
 * see and change only their own webhooks; staff sessions see and change all of them.
 */
import type {FastifyInstance, FastifyRequest} from 'fastify';
import type {Deps} from '../app.ts';
import {addWebhook, browseWebhooks, deleteWebhook, editWebhook, readWebhook, type WebhookActor, type WebhookContext} from '../content/webhooks.ts';
import {pickFields} from '../content/browse.ts';
import {singleItem} from '../content/input.ts';
import {HeraldError} from '../lib/errors.ts';
import {browseEnvelope, noContent, singleEnvelope, type CommonQuery} from './respond.ts';

/** The content layer's view of the authenticated caller. */
function actorOf(request: FastifyRequest): WebhookActor {
  const principal = request.principal;
  // The auth hook guarantees a principal on every non-public route; this is a guard, not a path.
  if (!principal) throw new HeraldError('Internal', {context: 'webhook route reached without a principal'});
  return principal.kind === 'integration' ? {kind: 'integration', integrationId: principal.integrationId} : {kind: 'staff'};
}

/** Registers the webhook routes on the Admin API. */
export function registerWebhookRoutes(app: FastifyInstance, deps: Deps): void {
  const ctx = (): WebhookContext => ({
    database: deps.database,
    now: deps.clock.now(),
    random: deps.random,
    allowPrivateTargets: deps.config.allowPrivateTargets,
  });

  app.get<{Querystring: CommonQuery}>('/webhooks/', async (request) => {
    const {webhooks, pagination} = await browseWebhooks(ctx(), request.query, actorOf(request));
    return browseEnvelope('webhooks', webhooks.map((w) => pickFields(w as unknown as Record<string, unknown>, request.query.fields)), pagination);
  });

  app.get<{Params: {id: string}; Querystring: CommonQuery}>('/webhooks/:id/', async (request) => {
    const webhook = await readWebhook(ctx(), request.params.id, actorOf(request));
    return singleEnvelope('webhooks', pickFields(webhook as unknown as Record<string, unknown>, request.query.fields));
  });

  app.post('/webhooks/', async (request, reply) => {
    const webhook = await addWebhook(ctx(), singleItem(request.body, 'webhooks'), actorOf(request));
    return reply.status(201).send(singleEnvelope('webhooks', webhook));
  });

  app.put<{Params: {id: string}}>('/webhooks/:id/', async (request) => {
    const webhook = await editWebhook(ctx(), request.params.id, singleItem(request.body, 'webhooks'), actorOf(request));
    return singleEnvelope('webhooks', webhook);
  });

  app.delete<{Params: {id: string}}>('/webhooks/:id/', async (request, reply) => {
    await deleteWebhook(ctx(), request.params.id, actorOf(request));
    return noContent(reply);
  });
}
