// Outcome classification and the strings stored for it.
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {attemptError, classify, lastTriggeredError, lastTriggeredStatus, type HttpResult, type Outcome} from '../../src/delivery/outcome.ts';

const response = (status: number, headers: Record<string, string> = {}): HttpResult => ({kind: 'response', status, headers, body: '', durationMs: 5});
const failure = (code: string, message = ''): HttpResult => ({kind: 'error', code, message, durationMs: 5});
const NOW = Date.parse('2026-11-28T08:00:00.000Z');

describe('classify', () => {
  const table: [string, HttpResult, Outcome][] = [
    ['200', response(200), {kind: 'success', status: 200}],
    ['201', response(201), {kind: 'success', status: 201}],
    ['204', response(204), {kind: 'success', status: 204}],
    ['299', response(299), {kind: 'success', status: 299}],
    ['100-range is a failure', response(101), {kind: 'failure', status: 101, error: 'HTTP 101'}],
    ['301 is a failure (redirects are not followed)', response(301, {location: '/x'}), {kind: 'failure', status: 301, error: 'HTTP 301'}],
    ['302 is a failure', response(302), {kind: 'failure', status: 302, error: 'HTTP 302'}],
    ['304 is a failure', response(304), {kind: 'failure', status: 304, error: 'HTTP 304'}],
    ['400', response(400), {kind: 'failure', status: 400, error: 'HTTP 400'}],
    ['404', response(404), {kind: 'failure', status: 404, error: 'HTTP 404'}],
    ['410 is gone', response(410), {kind: 'gone', status: 410}],
    ['429 without Retry-After', response(429), {kind: 'failure', status: 429, error: 'HTTP 429'}],
    ['429 with Retry-After seconds', response(429, {'retry-after': '30'}), {kind: 'failure', status: 429, error: 'HTTP 429', retryAfterMs: 30_000}],
    [
      '503 with Retry-After date',
      response(503, {'retry-after': 'Sat, 28 Nov 2026 08:00:10 GMT'}),
      {kind: 'failure', status: 503, error: 'HTTP 503', retryAfterMs: 10_000},
    ],
    ['503 with a bad Retry-After', response(503, {'retry-after': 'later'}), {kind: 'failure', status: 503, error: 'HTTP 503'}],
    ['500 ignores Retry-After', response(500, {'retry-after': '30'}), {kind: 'failure', status: 500, error: 'HTTP 500'}],
    ['502', response(502), {kind: 'failure', status: 502, error: 'HTTP 502'}],
    ['timeout', failure('TIMEOUT'), {kind: 'failure', status: null, error: 'timeout after 10000 ms'}],
    ['connection refused', failure('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), {kind: 'failure', status: null, error: 'ECONNREFUSED'}],
    ['DNS failure', failure('ENOTFOUND'), {kind: 'failure', status: null, error: 'ENOTFOUND'}],
    ['socket closed', failure('SOCKET_CLOSED'), {kind: 'failure', status: null, error: 'SOCKET_CLOSED'}],
    ['blocked by the SSRF guard', failure('BLOCKED', '169.254.169.254'), {kind: 'failure', status: null, error: 'blocked: 169.254.169.254'}],
    ['invalid URL', failure('INVALID_URL', 'not a URL'), {kind: 'failure', status: null, error: 'invalid URL: not a URL'}],
    ['unknown error without code', failure('', 'boom'), {kind: 'failure', status: null, error: 'boom'}],
  ];
  for (const [name, result, expected] of table) {
    test(name, () => assert.deepEqual(classify(result, 10_000, NOW), expected));
  }
});

describe('stored strings', () => {
  const table: [string, Outcome, string | null, string | null, string | null][] = [
    // name, outcome, attempt error, last_triggered_status, last_triggered_error
    ['success', {kind: 'success', status: 200}, null, '200', null],
    ['gone', {kind: 'gone', status: 410}, 'HTTP 410', '410', 'HTTP 410'],
    ['HTTP failure', {kind: 'failure', status: 500, error: 'HTTP 500'}, 'HTTP 500', '500', 'HTTP 500'],
    ['redirect', {kind: 'failure', status: 302, error: 'HTTP 302'}, 'HTTP 302', '302', 'HTTP 302'],
    ['connection refused', {kind: 'failure', status: null, error: 'ECONNREFUSED'}, 'ECONNREFUSED', null, 'Request failed: ECONNREFUSED'],
    [
      'timeout',
      {kind: 'failure', status: null, error: 'timeout after 10000 ms'},
      'timeout after 10000 ms',
      null,
      'Request failed: timeout after 10000 ms',
    ],
  ];
  for (const [name, outcome, error, status, lastError] of table) {
    test(name, () => {
      assert.equal(attemptError(outcome), error);
      assert.equal(lastTriggeredStatus(outcome), status);
      assert.equal(lastTriggeredError(outcome), lastError);
    });
  }

  test('a very long error is clipped', () => {
    const outcome = classify(failure('', 'x'.repeat(5000)), 1000, NOW);
    assert.ok(outcome.kind === 'failure' && outcome.error.length <= 500);
  });
});
