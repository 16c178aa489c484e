// Shared helpers of the relay tests: the real Ghost deliveries of ghost-fixtures (re-signed for
// a source with a fresh timestamp), and a local stand-in for Ghost's webhook Admin API.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type {AddressInfo} from 'node:net';
import {randomBytes} from 'node:crypto';
import {jwtVerify, decodeProtectedHeader} from 'jose';
import {ROOT} from '../support/process.ts';
import {ghostSignature} from '../../src/delivery/signing.ts';

/** The fixtures folder (beside the repository, in ../shared). */
export const PAYLOADS = path.resolve(ROOT, '../shared/ghost-fixtures/payloads');
/** The secret the fixtures' X-Ghost-Signature headers were made with. */
export const FIXTURE_SECRET = 'anchor-webhook-secret';

/** One real Ghost delivery: its event, the exact raw body and the headers Ghost sent. */
export interface Fixture {
  readonly event: string;
  readonly raw: string;
  readonly headers: Record<string, string>;
}

/** Every fixture, by event name (the raw body is JSON.stringify of the stored body, as Ghost sent it). */
export function loadFixtures(): Fixture[] {
  return fs
    .readdirSync(PAYLOADS)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const stored = JSON.parse(fs.readFileSync(path.join(PAYLOADS, file), 'utf8')) as {headers: [string, string][]; body: unknown};
      return {event: file.replace(/\.json$/, ''), raw: JSON.stringify(stored.body), headers: Object.fromEntries(stored.headers)};
    });
}

/** An X-Ghost-Signature for `raw` with `secret`, at `tMs` (default now), exactly as Ghost makes it. */
export function sign(raw: string, secret: string, tMs = Date.now()): string {
  return ghostSignature(raw, secret, tMs);
}

/** A webhook as the stand-in stores it. */
export interface StandInWebhook {
  id: string;
  event: string;
  target_url: string;
  secret: string | null;
  name: string | null;
  integration_id: string;
}

/** A local server speaking the two calls of Ghost's webhook Admin API that connect uses. */
export interface GhostStandIn {
  readonly url: string;
  /** The key the stand-in accepts (`id:secret`). */
  readonly adminKey: string;
  /** Webhooks that exist "in Ghost" now, by id. */
  readonly webhooks: Map<string, StandInWebhook>;
  /** Every request: method, path and answer status. */
  readonly log: Array<{method: string; path: string; status: number}>;
  /** Makes every add answer this (status, body) instead, while set. */
  refuseAdds: {status: number; body: unknown} | null;
  close(): Promise<void>;
}

const hex = (n: number) => randomBytes(n).toString('hex');

function ghostError(type: string, message: string, context: string | null) {
  return {errors: [{message, context, type, details: null, property: null, help: null, code: null, id: 'b1c6a9e0-0000-4000-8000-000000000000', ghostErrorCode: null}]};
}

/**
 * Starts the stand-in. Like Ghost it checks `Authorization: Ghost <jwt>` (HS256 with the
 * hex-decoded secret, kid = key id, aud /admin/, at most 5 minutes old; 401 otherwise), answers
 * add with 201 `{webhooks:[…]}`, a duplicate (event, target_url) with Ghost's 422, delete with
 * 204 or 404, and has no GET.
 */
export async function startGhostStandIn(): Promise<GhostStandIn> {
  const keyId = hex(12);
  const keySecret = hex(32);
  const integrationId = hex(12);
  const webhooks = new Map<string, StandInWebhook>();
  const log: GhostStandIn['log'] = [];
  const state = {refuseAdds: null as GhostStandIn['refuseAdds']};

  const authorised = async (header: string | undefined): Promise<boolean> => {
    const match = /^Ghost (.+)$/i.exec(header ?? '');
    if (!match) return false;
    try {
      if (decodeProtectedHeader(match[1]!).kid !== keyId) return false;
      await jwtVerify(match[1]!, Buffer.from(keySecret, 'hex'), {algorithms: ['HS256'], audience: '/admin/', maxTokenAge: '5m'});
      return true;
    } catch {
      return false;
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const answer = (status: number, body?: unknown) => {
        log.push({method: req.method ?? '', path: req.url ?? '', status});
        res.writeHead(status, body === undefined ? {} : {'content-type': 'application/json; charset=utf-8'}).end(body === undefined ? undefined : JSON.stringify(body));
      };
      const pathname = (req.url ?? '').split('?')[0]!;
      if (!pathname.startsWith('/ghost/api/admin/webhooks/')) return answer(404, ghostError('NotFoundError', 'Resource not found', null));
      if (!(await authorised(req.headers.authorization))) {
        return answer(401, ghostError('UnauthorizedError', 'Invalid token: invalid signature', null));
      }
      if (req.method === 'POST' && pathname === '/ghost/api/admin/webhooks/') {
        if (state.refuseAdds) return answer(state.refuseAdds.status, state.refuseAdds.body);
        const item = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as {webhooks: Array<Partial<StandInWebhook>>}).webhooks[0]!;
        const duplicate = [...webhooks.values()].some((w) => w.event.toLowerCase() === item.event!.toLowerCase() && w.target_url.toLowerCase() === item.target_url!.toLowerCase());
        if (duplicate) return answer(422, ghostError('ValidationError', 'Validation error, cannot save webhook.', 'Target URL has already been used for this event.'));
        const webhook: StandInWebhook = {id: hex(12), event: item.event!, target_url: item.target_url!, secret: item.secret ?? null, name: item.name ?? null, integration_id: integrationId};
        webhooks.set(webhook.id, webhook);
        const now = new Date().toISOString();
        return answer(201, {webhooks: [{...webhook, api_version: 'v5', last_triggered_at: null, last_triggered_status: null, last_triggered_error: null, created_at: now, updated_at: now}]});
      }
      const del = /^\/ghost\/api\/admin\/webhooks\/([^/]+)\/$/.exec(pathname);
      if (req.method === 'DELETE' && del) {
        if (!webhooks.delete(del[1]!)) return answer(404, ghostError('NotFoundError', 'Resource not found error, cannot delete webhook.', 'Resource could not be found.'));
        return answer(204);
      }
      return answer(404, ghostError('NotFoundError', 'Resource not found', null));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    adminKey: `${keyId}:${keySecret}`,
    webhooks,
    log,
    get refuseAdds() {
      return state.refuseAdds;
    },
    set refuseAdds(value) {
      state.refuseAdds = value;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
