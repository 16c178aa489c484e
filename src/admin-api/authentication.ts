/**
 * First-run setup (`/authentication/setup/`) and staff sign-in (`/session/`), as Ghost.
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';
import {HeraldError} from '../lib/errors.ts';
import {createSession, deleteSession, isSetup, setupOwner} from '../content/users.ts';
import {singleItem, type Input} from '../content/input.ts';
import {readCookie, requestOrigin, SESSION_COOKIE} from './auth.ts';

/** Registers setup and session routes (all public: they are how a user gets credentials). */
export function registerAuthenticationRoutes(app: FastifyInstance, deps: Deps): void {
  const siteOrigin = () => new URL(deps.siteUrl()).origin;
  const secure = () => deps.siteUrl().startsWith('https:');

  app.get('/authentication/setup/', {config: {public: true}}, async () => {
    return {setup: [{status: await isSetup(deps.database.db)}]};
  });

  app.post('/authentication/setup/', {config: {public: true}}, async (request, reply) => {
    const user = await setupOwner(deps.database, singleItem(request.body, 'setup'), deps.siteUrl(), deps.clock.now());
    return reply.status(201).send({users: [user]});
  });

  app.post('/session/', {config: {public: true}}, async (request, reply) => {
    const origin = requestOrigin(request);
    if (!origin) {
      throw new HeraldError('BadRequest', {message: 'Could not determine origin of request. Please ensure an Origin or Referrer header is present.', code: 'INVALID_ORIGIN'});
    }
    if (origin !== siteOrigin()) {
      throw new HeraldError('BadRequest', {message: `Request made from incorrect origin. Expected '${siteOrigin()}' received '${origin}'.`, code: 'INVALID_ORIGIN'});
    }
    const body = (request.body ?? {}) as Input;
    if (typeof body !== 'object' || Array.isArray(body)) throw new HeraldError('BadRequest', {message: 'Send {"username": "…", "password": "…"}.'});
    const {token, expires} = await createSession(deps.database, body, origin, deps.clock.now());
    const attributes = [`${SESSION_COOKIE}=${encodeURIComponent(token)}`, 'Path=/ghost', 'HttpOnly', 'SameSite=Lax', `Expires=${expires.toUTCString()}`];
    if (secure()) attributes.push('Secure');
    return reply.status(201).header('set-cookie', attributes.join('; ')).send();
  });

  // Signing out is state-changing, so it goes through the normal session check (incl. Origin).
  app.delete('/session/', async (request, reply) => {
    const token = readCookie(request, SESSION_COOKIE);
    if (token) await deleteSession(deps.database, token);
    return reply.status(204).header('set-cookie', `${SESSION_COOKIE}=; Path=/ghost; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT`).send();
  });
}
