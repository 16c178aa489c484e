/**
 * `/site/`: the public summary of the site (no authentication, as Ghost). The official client's
 * `api.site.read()` returns the inner `site` object.
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';
import {readSettings} from '../content/settings.ts';
import {GHOST_API_VERSION} from '../lib/version.ts';

/** Registers the site route on the Admin API. */
export function registerSiteRoutes(app: FastifyInstance, deps: Deps): void {
  app.get('/site/', {config: {public: true}}, async () => {
    const settings = await readSettings(deps.database.db);
    return {
      site: {
        title: settings.title ?? null,
        description: settings.description ?? null,
        logo: settings.logo ?? null,
        icon: settings.icon ?? null,
        accent_color: settings.accent_color ?? null,
        locale: settings.locale ?? null,
        url: `${deps.siteUrl()}/`,
        version: GHOST_API_VERSION,
      },
    };
  });
}
