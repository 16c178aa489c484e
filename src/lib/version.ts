/**
 * Version strings Herald reports: its own package version (User-Agent) and the Ghost API
 * version it is compatible with (`/site/` `version`, `Content-Version`).
 */
import {createRequire} from 'node:module';

const pkg = createRequire(import.meta.url)('../../package.json') as {version: string};

/** Herald's own version, from package.json. */
export const HERALD_VERSION: string = pkg.version;

/** The Ghost Admin API version Herald speaks (`major.minor`). */
export const GHOST_API_VERSION = '6.0';
