/**
 * The composition root: buildApp(deps) wires every route and service from explicit
 * dependencies and returns an un-listened Fastify app. No module keeps global state.
 */
import Fastify, {LogController, type FastifyBaseLogger, type FastifyInstance} from 'fastify';
import type {Logger} from 'pino';
import type {Config} from './config.ts';
import type {Database} from './db/database.ts';
import type {Clock} from './lib/clock.ts';
import type {Random} from './lib/ids.ts';
import {HeraldError, validationError} from './lib/errors.ts';
import {findNul} from './content/input.ts';
import {errorHandler, notFoundHandler} from './admin-api/error-handler.ts';
import {createTokenCache, missingCredentials, notImplementedForIntegrations, verifyAdminToken, verifySession, type Principal} from './admin-api/auth.ts';
import {registerAuthenticationRoutes} from './admin-api/authentication.ts';
import {registerIntegrationRoutes} from './admin-api/integrations.ts';
import {registerTagRoutes} from './admin-api/tags.ts';
import {registerPostRoutes} from './admin-api/posts.ts';
import {registerMemberRoutes} from './admin-api/members.ts';
import {registerSiteRoutes} from './admin-api/site.ts';
import {registerSettingsRoutes} from './admin-api/settings.ts';
import {registerWebhookRoutes} from './admin-api/webhooks.ts';
import {registerDeliveryRoutes} from './admin-api/deliveries.ts';
import {registerSourceRoutes} from './admin-api/sources.ts';
import {registerIngestRoutes} from './relay/ingest-route.ts';
import type {Wake} from './lib/wake.ts';
import type {EventFeed} from './listen/feed.ts';
import type {Handoff} from './delivery/handoff.ts';
import {registerListenRoutes} from './listen/stream.ts';
import {createMetrics, type Metrics} from './delivery/metrics.ts';
import {registerOperationsRoutes} from './ops/operations.ts';
import {registerAdminUi} from './ui/admin-ui.ts';

/** Everything the app needs from the outside world. */
export interface Deps {
  readonly config: Config;
  readonly database: Database;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  /** The public site URL without trailing slash (known only after listen when port is 0). */
  readonly siteUrl: () => string;
  /** Wakes this process's delivery worker after a commit that wrote deliveries. */
  readonly wake: Wake;
  /** Committed events, for `herald listen` streams. */
  readonly feed: EventFeed;
  /** Room at this process's delivery worker for fresh deliveries (none: they are all claimed). */
  readonly handoff?: Handoff;
  /** Prometheus metrics shared with the worker; a fresh set (own registry) when absent. */
  readonly metrics?: Metrics;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; null on public routes. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** No authentication needed (site, setup, sign-in). */
    public?: boolean;
    /** Staff sessions only: an integration key gets Ghost's 501. */
    staffOnly?: boolean;
  }
}

/** Base path of the Admin API. */
export const ADMIN_API = '/ghost/api/admin';

/** Builds the Herald HTTP app. Call `.listen()` on the result (the CLI does) or `.inject()` in tests. */
export function buildApp(deps: Deps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Fastify's two lines per request are replaced by one line in the onResponse hook below.
    logController: new LogController({disableRequestLogging: true}),
    bodyLimit: deps.config.maxBodyBytes,
    routerOptions: {ignoreTrailingSlash: true},
    // Never trust proxy headers by default; the request IP is the socket's.
    trustProxy: false,
  });

  // JSON bodies: an empty body is "no body" (clients send one on DELETE), malformed JSON is a 400.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', {parseAs: 'string'}, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return done(new HeraldError('BadRequest', {message: 'Malformed JSON in request body.', context: (error as Error).message, code: 'INVALID_JSON'}), undefined);
    }
    const nulAt = findNul(parsed);
    if (nulAt) return done(validationError(nulAt, `${nulAt} cannot contain NUL characters.`), undefined);
    done(null, parsed);
  });

  // A NUL in the path or query can never match anything, and PostgreSQL refuses to compare it.
  app.addHook('onRequest', async (request) => {
    if (/%00/i.test(request.url) || request.url.includes('\u0000')) {
      throw new HeraldError('BadRequest', {message: 'The request URL contains a NUL character.', code: 'INVALID_URL'});
    }
  });

  app.decorateRequest('principal', null);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  app.addHook('onResponse', (request, reply, done) => {
    request.log.info({method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime)}, 'request');
    done();
  });

  // GET /health and GET /metrics, outside the Admin API and its authentication.
  registerOperationsRoutes(app as unknown as FastifyInstance, {...deps, metrics: deps.metrics ?? createMetrics(deps.database)});
  // POST /ingest/ghost/:id/:event? for relayed Ghost sites: signed by the source, no Admin auth.
  registerIngestRoutes(app as unknown as FastifyInstance, deps);

  // Verified Admin API tokens and imported keys, for this app's requests.
  const tokens = createTokenCache();

  app.register(
    async (api) => {
      // Authentication for every Admin API route not marked public. The hook lives in this
      // plugin's scope, so it guards exactly the routes registered here, whatever the raw URL
      // looks like (a prefix test on request.url let `/ghost/api/%61dmin/…` skip it). Unknown
      // paths fall through to the root 404 handler without authentication, as in Ghost.
      api.addHook('preHandler', async (request) => {
        if (request.routeOptions.config.public) return;
        const now = deps.clock.now();
        const authorization = request.headers.authorization;
        let principal: Principal | null = null;
        if (authorization) {
          principal = await verifyAdminToken(authorization, deps.database, now, tokens);
        } else {
          principal = await verifySession(request, deps.database, new URL(deps.siteUrl()).origin, now);
        }
        if (!principal) throw missingCredentials();
        if (principal.kind === 'integration' && request.routeOptions.config.staffOnly) throw notImplementedForIntegrations();
        request.principal = principal;
      });

      registerAuthenticationRoutes(api, deps);
      registerIntegrationRoutes(api, deps);
      registerTagRoutes(api, deps);
      registerPostRoutes(api, deps);
      registerMemberRoutes(api, deps);
      registerSiteRoutes(api, deps);
      registerSettingsRoutes(api, deps);
      // Before the webhook routes: /webhooks/listen/ is a fixed path beside /webhooks/:id/.
      registerListenRoutes(api, deps);
      registerWebhookRoutes(api, deps);
      registerDeliveryRoutes(api, deps);
      registerSourceRoutes(api, deps);
    },
    {prefix: ADMIN_API},
  );

  // The admin UI at /ghost/ (never under /ghost/api/).
  registerAdminUi(app as unknown as FastifyInstance, deps);

  return app as unknown as FastifyInstance;
}
