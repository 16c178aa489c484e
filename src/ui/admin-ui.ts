/**
 * The admin UI at `/ghost/`: a small client-side app (plain ES modules, no build step) served
 * from `src/ui/public/`, talking to the Admin API with the staff session cookie. Deep links use
 * hash routes, so every other `GET /ghost/…` page path answers the same index.html. Nothing here
 * ever answers under `/ghost/api/`: those paths stay the Admin API's (and its 404s stay Ghost's).
 */
import fs from 'node:fs';
import path from 'node:path';
import {createHash} from 'node:crypto';
import type {FastifyInstance, FastifyReply, FastifyRequest} from 'fastify';
import type {Deps} from '../app.ts';
import {EVENT_NAMES} from '../events/names.ts';
import {isSetup} from '../content/users.ts';
// The one staff-session rule, shared with the Admin API rather than written twice.
import {verifySession} from '../admin-api/auth.ts';
import {PACKAGE_ROOT} from '../lib/package-root.ts';

/** Where the static files live. */
const PUBLIC_DIR = path.join(PACKAGE_ROOT, 'src/ui/public');

/** Content types of the files we serve; anything else is not served. */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** One file, read once at start. */
interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

function asset(body: Buffer | string, type: string): Asset {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return {body: bytes, type, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`};
}

/** Reads every servable file in public/ (flat folder), plus the generated event list. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of fs.readdirSync(PUBLIC_DIR)) {
    const type = TYPES[path.extname(name)];
    if (type) assets.set(name, asset(fs.readFileSync(path.join(PUBLIC_DIR, name)), type));
  }
  // The one list of event names, handed to the browser as a module (never a second copy).
  assets.set('events.js', asset(`export const EVENT_NAMES = ${JSON.stringify(EVENT_NAMES)};\n`, TYPES['.js']!));
  return assets;
}

/** The page may load its own files only; inline script and framing are refused. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

/**
 * Sends one asset. Files are not fingerprinted (there is no build step), so browsers must
 * revalidate each time (`no-cache`); the ETag makes that a cheap 304.
 */
function send(request: FastifyRequest, reply: FastifyReply, file: Asset): FastifyReply {
  reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache').header('etag', file.etag);
  if (request.headers['if-none-match'] === file.etag) return reply.status(304).send();
  return reply.type(file.type).send(file.body);
}

/** Registers the admin UI routes: `/ghost/`, `/ghost/assets/:file`, `/ghost/ui/session/` and the page catch-all. */
export function registerAdminUi(app: FastifyInstance, deps: Deps): void {
  const assets = loadAssets();
  const index = assets.get('index.html');
  if (!index) throw new Error(`admin UI: ${PUBLIC_DIR}/index.html is missing`);

  // The router ignores trailing slashes, so this is `/ghost` too.
  app.get('/ghost/', (request, reply) => send(request, reply, index));

  app.get<{Params: {file: string}}>('/ghost/assets/:file', (request, reply) => {
    const file = request.params.file === 'index.html' ? undefined : assets.get(request.params.file);
    if (!file) return reply.callNotFound();
    return send(request, reply, file);
  });

  // Tells the page which screen to open (setup, sign-in or the app) without a failing API
  // call: a 403 from the Admin API would put a red network line in the browser console.
  app.get('/ghost/ui/session/', async (request, reply) => {
    const db = deps.database.db;
    const setup = await isSetup(db);
    const principal = setup ? await verifySession(request, deps.database, new URL(deps.siteUrl()).origin, deps.clock.now()) : null;
    return reply.header('cache-control', 'no-store').send({setup, signed_in: principal?.kind === 'staff'});
  });

  // Any other page path loads the app. `/ghost/api/…` is never ours: an unknown API path
  // must still get the Admin API's 404 envelope, not an HTML page.
  app.get<{Params: {'*': string}}>('/ghost/*', (request, reply) => {
    const first = request.params['*'].split('/')[0];
    if (first === 'api' || first === 'assets' || first === 'ui') return reply.callNotFound();
    return send(request, reply, index);
  });
}
