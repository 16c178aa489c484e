// The one error mapping: anything thrown becomes a HeraldError with Ghost's type and status;
// client mistakes are 4xx, everything unknown is a 500; the envelope has Ghost's keys.
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {normaliseError, toGhostError} from '../../src/admin-api/error-handler.ts';
import {ERROR_KINDS, HeraldError, notFound, validationError} from '../../src/lib/errors.ts';

/** A stand-in for the errors Fastify raises (they carry `code` and `statusCode`). */
function fastifyError(code: string, statusCode: number, message = 'boom'): Error {
  return Object.assign(new Error(message), {code, statusCode});
}

describe('normaliseError', () => {
  test('a HeraldError passes through unchanged', () => {
    const error = new HeraldError('UpdateCollision', {code: 'X'});
    assert.equal(normaliseError(error), error);
  });

  const cases: ReadonlyArray<[string, unknown, number, string, string?]> = [
    ['body too large', fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413), 413, 'RequestEntityTooLargeError'],
    ['unsupported media type', fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415), 415, 'UnsupportedMediaTypeError'],
    ['invalid JSON body', fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400), 400, 'BadRequestError', 'INVALID_JSON'],
    ['empty JSON body', fastifyError('FST_ERR_CTP_EMPTY_JSON_BODY', 400), 400, 'BadRequestError', 'INVALID_JSON'],
    ['a parser\'s SyntaxError with status 400', Object.assign(new SyntaxError('Unexpected token } in JSON'), {statusCode: 400}), 400, 'BadRequestError', 'INVALID_JSON'],
    ['a bare SyntaxError (a server fault)', new SyntaxError('Unexpected token } in JSON'), 500, 'InternalServerError'],
    ['another 400', fastifyError('FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400), 400, 'BadRequestError'],
    ['a 401', fastifyError('X', 401), 401, 'UnauthorizedError'],
    ['a 403', fastifyError('X', 403), 403, 'NoPermissionError'],
    ['a 404', fastifyError('X', 404), 404, 'NotFoundError'],
    ['a 405', fastifyError('X', 405), 405, 'MethodNotAllowedError'],
    ['a 413 by status', fastifyError('X', 413), 413, 'RequestEntityTooLargeError'],
    ['a 429', fastifyError('X', 429), 429, 'TooManyRequestsError'],
    ['an unmapped 4xx', fastifyError('X', 418), 400, 'BadRequestError'],
    ['a plain Error', new Error('database exploded'), 500, 'InternalServerError'],
    ['a 5xx from a library', fastifyError('X', 503), 500, 'InternalServerError'],
    ['a thrown string', 'oops', 500, 'InternalServerError'],
    ['null', null, 500, 'InternalServerError'],
    ['undefined', undefined, 500, 'InternalServerError'],
    ['a TypeError', new TypeError('x is undefined'), 500, 'InternalServerError'],
  ];
  for (const [name, input, status, type, code] of cases) {
    test(`${name} → ${status} ${type}`, () => {
      const error = normaliseError(input);
      assert.ok(error instanceof HeraldError);
      assert.equal(error.status, status);
      assert.equal(error.type, type);
      if (code !== undefined) assert.equal(error.code, code);
    });
  }

  test('a 500 never repeats the internal message, and keeps the cause', () => {
    const cause = new Error('password authentication failed for user "herald"');
    const error = normaliseError(cause);
    assert.equal(error.status, 500);
    assert.ok(!error.message.includes('password'));
    assert.equal(error.context, null);
    assert.equal(error.cause, cause);
  });

  test('a schema validation failure is a 422 naming the property', () => {
    const error = normaliseError(
      Object.assign(new Error('body/tags/0/name must be string'), {
        code: 'FST_ERR_VALIDATION',
        statusCode: 400,
        validation: [{instancePath: '/tags/0/name', params: {}, message: 'must be string'}],
      }),
    );
    assert.equal(error.status, 422);
    assert.equal(error.type, 'ValidationError');
    assert.equal(error.property, 'name');
  });

  test('a missing required property is named too', () => {
    const error = normaliseError(
      Object.assign(new Error("body must have required property 'tags'"), {
        validation: [{instancePath: '', params: {missingProperty: 'tags'}, message: "must have required property 'tags'"}],
      }),
    );
    assert.equal(error.status, 422);
    assert.equal(error.property, 'tags');
  });
});

describe('error kinds and the envelope', () => {
  test('the kinds render with Ghost\'s types and statuses', () => {
    const expected: Record<string, [number, string]> = {
      Validation: [422, 'ValidationError'],
      NotFound: [404, 'NotFoundError'],
      Unauthorized: [401, 'UnauthorizedError'],
      NoPermission: [403, 'NoPermissionError'],
      UpdateCollision: [409, 'UpdateCollisionError'],
      BadRequest: [400, 'BadRequestError'],
      RequestEntityTooLarge: [413, 'RequestEntityTooLargeError'],
      Internal: [500, 'InternalServerError'],
      NotImplemented: [501, 'NotImplementedError'],
    };
    for (const [kind, [status, type]] of Object.entries(expected)) {
      const error = new HeraldError(kind as keyof typeof ERROR_KINDS);
      assert.equal(error.status, status, kind);
      assert.equal(error.type, type, kind);
      assert.equal(error.name, type, kind);
    }
  });

  test('toGhostError has exactly Ghost\'s keys', () => {
    const body = toGhostError(validationError('name', 'name is required.'));
    assert.deepEqual(Object.keys(body).sort(), ['code', 'context', 'details', 'ghostErrorCode', 'help', 'id', 'message', 'property', 'type']);
    assert.equal(body.type, 'ValidationError');
    assert.equal(body.property, 'name');
    assert.equal(body.context, 'name is required.');
    assert.equal(body.message, 'Validation failed for name.');
    assert.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(toGhostError(notFound('tag')).id, toGhostError(notFound('tag')).id);
  });

  test('notFound is phrased as Ghost does', () => {
    // Ghost's exact text is the contract here (clients show it).
    assert.equal(notFound('webhook', 'delete').message, 'Resource not found error, cannot delete webhook.');
  });
});
