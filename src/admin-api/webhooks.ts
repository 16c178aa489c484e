/**
 * `/webhooks/` routes. NOT YET IMPLEMENTED: registers nothing (placeholder so the app composes).
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';

/** Registers the webhook routes on the Admin API. */
export function registerWebhookRoutes(_app: FastifyInstance, _deps: Deps): void {}
