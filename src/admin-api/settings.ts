/**
 * `/settings/` routes. NOT YET IMPLEMENTED: registers nothing (placeholder so the app composes).
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';

/** Registers the settings routes on the Admin API. */
export function registerSettingsRoutes(_app: FastifyInstance, _deps: Deps): void {}
