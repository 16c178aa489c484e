/**
 * `POST /ingest/ghost/:id/:event?` (SPEC §13): where an upstream Ghost site sends its webhooks.
 * No Admin API authentication: the X-Ghost-Signature made with the source's secret is the
 * credential. The route lives in its own encapsulated plugin with its own body parser, because
 * the signature covers the exact bytes Ghost sent and onward deliveries carry them unchanged,
 * while the app's JSON parser keeps only the parsed value.
 *
 * Answers: 404 unknown source; 401 missing or wrong signature, or `t` outside 5 minutes; 400 a
 * body that is not UTF-8 JSON; 422 an unknown event; 413 a body over the limit; 200 an exact
 * repeat (nothing written); 202 once the event and its deliveries are committed.
 */
import type {FastifyInstance, FastifyReply, FastifyRequest} from 'fastify';
import type {Deps} from '../app.ts';
import {EVENT_NAMES} from '../events/names.ts';
import {announceCommitted} from '../events/outbox.ts';
import {HeraldError} from '../lib/errors.ts';
import {checkGhostSignature, eventOfBody, recordIngest} from './ingest.ts';
import {findSource} from './sources.ts';

/** `:id` is the source; `:event` (optional) names the event for bodies without an `event` key. */
interface IngestParams {
  id: string;
  event?: string;
}

const UTF8 = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true});

function unauthorized(context: string, code: string): HeraldError {
  return new HeraldError('Unauthorized', {message: 'The webhook signature could not be verified.', context, code});
}

/** Registers the ingest endpoint, outside the Admin API and its authentication. */
export function registerIngestRoutes(app: FastifyInstance, deps: Deps): void {
  app.register(async (scope) => {
    // Every body arrives as the raw bytes, whatever its Content-Type says.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', {parseAs: 'buffer', bodyLimit: deps.config.maxBodyBytes}, (_request, body, done) => done(null, body));

    const handler = async (request: FastifyRequest<{Params: IngestParams}>, reply: FastifyReply) => {
      const source = await findSource(deps.database.db, request.params.id);
      if (!source) throw new HeraldError('NotFound', {message: 'Resource not found error, cannot ingest webhook.', context: 'Source not found.', code: 'UNKNOWN_SOURCE'});

      const bytes = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      let body: string;
      try {
        body = UTF8.decode(bytes);
      } catch {
        throw new HeraldError('BadRequest', {message: 'Malformed JSON in request body.', context: 'The body is not UTF-8.', code: 'INVALID_JSON'});
      }

      const header = request.headers['x-ghost-signature'];
      const signature = Array.isArray(header) ? header[0] : header;
      const now = deps.clock.now();
      const check = checkGhostSignature(body, signature, source.secret, now.getTime());
      if (check.kind !== 'valid') {
        request.log.warn({source_id: source.id, reason: check.kind}, 'ingest refused: signature');
        if (check.kind === 'missing') throw unauthorized('The X-Ghost-Signature header is missing.', 'MISSING_SIGNATURE');
        if (check.kind === 'stale') throw unauthorized('The signature timestamp is more than 5 minutes from now.', 'STALE_SIGNATURE');
        throw unauthorized('The X-Ghost-Signature header does not match the body and the source secret.', 'INVALID_SIGNATURE');
      }

      const event = eventOfBody(body, request.params.event);
      if (event.kind === 'invalid-json') throw new HeraldError('BadRequest', {message: 'Malformed JSON in request body.', context: 'The body must be a JSON object.', code: 'INVALID_JSON'});
      if (event.kind === 'unknown-event') {
        throw new HeraldError('Validation', {
          message: 'Validation failed for event.',
          context: event.given === null ? `No event named in the body or the path. Valid events: ${EVENT_NAMES.join(', ')}.` : `'${event.given}' is not a webhook event. Valid events: ${EVENT_NAMES.join(', ')}.`,
          property: 'event',
          code: 'UNKNOWN_EVENT',
        });
      }

      const result = await recordIngest(deps.database, {sourceId: source.id, signature: signature!, body, event}, {now, random: deps.random, reserve: deps.handoff?.reserve});
      if (result.kind === 'repeat') {
        request.log.info({source_id: source.id, event: event.name}, 'ingest repeat dropped');
        return reply.status(200).send({accepted: false, repeat: true});
      }
      // Committed: only now may deliveries start, the worker be woken and the 2xx be sent.
      result.handedOff?.reservation.start(result.handedOff.deliveries);
      announceCommitted(deps, {events: [result.event], deliveries: result.deliveries - (result.handedOff?.deliveries.length ?? 0)});
      request.log.info({source_id: source.id, event: event.name, event_id: result.event.id, deliveries: result.deliveries}, 'ingest accepted');
      return reply.status(202).send({accepted: true, event_id: result.event.id, deliveries: result.deliveries});
    };

    scope.post<{Params: IngestParams}>('/ingest/ghost/:id/', handler);
    scope.post<{Params: IngestParams}>('/ingest/ghost/:id/:event/', handler);
  });
}
