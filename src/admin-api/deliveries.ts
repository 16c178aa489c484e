/**
 * Herald's delivery routes (SPEC §3.1): the delivery log of a webhook, one delivery with its
 * attempts, retry, recover, test send, secret rotation, and the fired events. Same auth and
 * envelopes as the rest of the Admin API; ownership rules live in content/deliveries.ts.
 */
import type {FastifyInstance, FastifyRequest} from 'fastify';
import type {Deps} from '../app.ts';
import {browseDeliveries, browseEvents, readDelivery, recoverDeliveries, retryDelivery, rotateSecret, testDelivery, type DeliveryContext} from '../content/deliveries.ts';
import type {WebhookActor} from '../content/webhooks.ts';
import {HeraldError} from '../lib/errors.ts';
import {browseEnvelope, singleEnvelope, type CommonQuery} from './respond.ts';

function actorOf(request: FastifyRequest): WebhookActor {
  const principal = request.principal;
  if (!principal) throw new HeraldError('Internal', {context: 'delivery route reached without a principal'});
  return principal.kind === 'integration' ? {kind: 'integration', integrationId: principal.integrationId} : {kind: 'staff'};
}

/** Registers the delivery log routes on the Admin API. */
export function registerDeliveryRoutes(app: FastifyInstance, deps: Deps): void {
  const ctx = (): DeliveryContext => ({database: deps.database, now: deps.clock.now(), random: deps.random, siteUrl: deps.siteUrl()});

  app.get<{Params: {id: string}; Querystring: CommonQuery}>('/webhooks/:id/deliveries/', async (request) => {
    const {deliveries, pagination} = await browseDeliveries(ctx(), request.params.id, request.query, actorOf(request));
    return browseEnvelope('deliveries', deliveries, pagination);
  });

  app.get<{Params: {id: string}}>('/deliveries/:id/', async (request) => {
    return singleEnvelope('deliveries', await readDelivery(ctx(), request.params.id, actorOf(request)));
  });

  app.post<{Params: {id: string}}>('/deliveries/:id/retry/', async (request) => {
    const delivery = await retryDelivery(ctx(), request.params.id, actorOf(request));
    deps.wake.notify();
    return singleEnvelope('deliveries', delivery);
  });

  app.post<{Params: {id: string}}>('/webhooks/:id/recover/', async (request) => {
    const recovered = await recoverDeliveries(ctx(), request.params.id, request.body, actorOf(request));
    if (recovered > 0) deps.wake.notify();
    return {recovered};
  });

  app.post<{Params: {id: string}}>('/webhooks/:id/test/', async (request, reply) => {
    const delivery = await testDelivery(ctx(), request.params.id, actorOf(request));
    deps.wake.notify();
    return reply.status(201).send(singleEnvelope('deliveries', delivery));
  });

  app.post<{Params: {id: string}}>('/webhooks/:id/secret/rotate/', async (request) => {
    return singleEnvelope('webhooks', await rotateSecret(ctx(), request.params.id, actorOf(request)));
  });

  app.get<{Querystring: CommonQuery}>('/events/', async (request) => {
    const {events, pagination} = await browseEvents(ctx(), request.query);
    return browseEnvelope('events', events, pagination);
  });
}
