/**
 * `/posts/` routes. NOT YET IMPLEMENTED: registers nothing (placeholder so the app composes).
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';

/** Registers the posts routes on the Admin API. */
export function registerPostRoutes(_app: FastifyInstance, _deps: Deps): void {}
