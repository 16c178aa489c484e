/**
 * `/members/` routes: browse, read, add, edit, delete. Integrations and staff may use all.
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';
import {addMember, browseMembers, deleteMember, editMember, readMember, type MemberContext} from '../content/members.ts';
import {pickFields} from '../content/browse.ts';
import {singleItem} from '../content/input.ts';
import {eventsFor} from '../events/outbox.ts';
import {browseEnvelope, noContent, singleEnvelope, type CommonQuery} from './respond.ts';

/** Registers the members routes on the Admin API. */
export function registerMemberRoutes(app: FastifyInstance, deps: Deps): void {
  const ctx = (): MemberContext => ({database: deps.database, now: deps.clock.now(), random: deps.random});
  // Every write fires its events in its own transaction (the outbox), then wakes the worker.
  const withEvents = eventsFor(deps);

  app.get<{Querystring: CommonQuery}>('/members/', async (request) => {
    const {members, pagination} = await browseMembers(ctx(), request.query);
    return browseEnvelope('members', members.map((m) => pickFields(m as unknown as Record<string, unknown>, request.query.fields)), pagination);
  });

  app.get<{Params: {id: string}; Querystring: CommonQuery}>('/members/:id/', async (request) => {
    const member = await readMember(ctx(), request.params.id);
    return singleEnvelope('members', pickFields(member as unknown as Record<string, unknown>, request.query.fields));
  });

  app.post('/members/', async (request, reply) => {
    const {after} = await withEvents((on) => addMember(ctx(), singleItem(request.body, 'members'), on.member));
    return reply.status(201).send(singleEnvelope('members', after));
  });

  app.put<{Params: {id: string}}>('/members/:id/', async (request) => {
    const {after} = await withEvents((on) => editMember(ctx(), request.params.id, singleItem(request.body, 'members'), on.member));
    return singleEnvelope('members', after);
  });

  app.delete<{Params: {id: string}}>('/members/:id/', async (request, reply) => {
    await withEvents((on) => deleteMember(ctx(), request.params.id, on.member));
    return noContent(reply);
  });
}
