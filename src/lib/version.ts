/**
 * Version strings Herald reports: its own package version (User-Agent) and the Ghost API
 * version it is compatible with (`/site/` `version`, `Content-Version`).
 */
import {PACKAGE_JSON} from './package-root.ts';

/** Herald's own version, from package.json. */
export const HERALD_VERSION: string = PACKAGE_JSON.version;

/** The Ghost Admin API version Herald speaks (`major.minor`). */
export const GHOST_API_VERSION = '6.0';
