/**
 * `/settings/` routes: browse (staff and integrations) and edit (staff only: like Ghost, an
 * integration key gets a 501 NotImplementedError from the auth hook).
 */
import type {FastifyInstance} from 'fastify';
import type {Deps} from '../app.ts';
import {browseSettings, editSettings, settingsList, type SettingOutput} from '../content/settings.ts';
import {eventsFor} from '../events/outbox.ts';

/** Ghost's settings envelope: every setting, with an empty `meta.filters`. */
function settingsEnvelope(settings: SettingOutput[]): Record<string, unknown> {
  return {settings, meta: {filters: {}}};
}

/** Registers the settings routes on the Admin API. */
export function registerSettingsRoutes(app: FastifyInstance, deps: Deps): void {
  // An edit that changes something fires site.changed in its own transaction (the outbox).
  const withEvents = eventsFor(deps);
  app.get('/settings/', async () => settingsEnvelope(await browseSettings(deps.database.db)));

  app.put('/settings/', {config: {staffOnly: true}}, async (request) => {
    const {after} = await withEvents((on) => editSettings({database: deps.database, now: deps.clock.now()}, request.body, on.settings));
    // Answer with every setting, as a browse does, so clients see the whole new state.
    return settingsEnvelope(settingsList(after));
  });
}
