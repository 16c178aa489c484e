// When last_triggered_* is written: at most once a second per webhook under load, at once when
// the outcome changes or for a webhook not written yet, and everything at rest.
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {triggeredToWrite, type Triggered, type Written} from '../../src/delivery/triggered-policy.ts';

const entry = (webhookId: string, status: string | null = '200', error: string | null = null): Triggered => ({webhookId, at: '2026-12-07T00:00:00.000Z', status, error});
const pending = (...entries: Triggered[]) => new Map(entries.map((e) => [e.webhookId, e]));
const written = (items: Record<string, Partial<Written> & {atMs: number}>) =>
  new Map(Object.entries(items).map(([id, w]) => [id, {status: '200', error: null, ...w}]));
const ids = (list: Triggered[]) => list.map((t) => t.webhookId);

describe('triggeredToWrite', () => {
  test('a webhook never written goes at once; one written under a second ago waits; one a second old goes', () => {
    const due = triggeredToWrite(pending(entry('c'), entry('b'), entry('a')), written({b: {atMs: 9_500}, a: {atMs: 9_000}}), {nowMs: 10_000, idle: false, everyMs: 1000});
    assert.deepEqual(ids(due), ['a', 'c'], 'in id order: a (1 s old), c (never); not b (0.5 s)');
  });

  test('a changed outcome goes at once, however recent the last write', () => {
    const last = written({a: {atMs: 9_900}, b: {atMs: 9_900}, c: {atMs: 9_900}});
    const due = triggeredToWrite(pending(entry('a', '500'), entry('b', null, 'TIMEOUT'), entry('c')), last, {nowMs: 10_000, idle: false, everyMs: 1000});
    assert.deepEqual(ids(due), ['a', 'b']);
  });

  test('at rest every pending entry goes', () => {
    const due = triggeredToWrite(pending(entry('b'), entry('a')), written({a: {atMs: 9_999}, b: {atMs: 9_999}}), {nowMs: 10_000, idle: true, everyMs: 1000});
    assert.deepEqual(ids(due), ['a', 'b']);
  });

  test('nothing pending, nothing to write', () => {
    assert.deepEqual(triggeredToWrite(new Map(), new Map(), {nowMs: 0, idle: true, everyMs: 1000}), []);
  });
});
