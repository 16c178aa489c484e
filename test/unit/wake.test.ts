import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createWake} from '../../src/lib/wake.ts';

test('notify wakes every current waiter at once, not after their timeouts', async () => {
  const wake = createWake();
  const started = Date.now();
  const both = Promise.all([wake.wait(5_000), wake.wait(5_000)]);
  wake.notify();
  await both;
  assert.ok(Date.now() - started < 1_000);
});

test('a notify with nobody waiting is remembered once', async () => {
  const wake = createWake();
  wake.notify();
  const started = Date.now();
  await wake.wait(5_000);
  assert.ok(Date.now() - started < 1_000);
  // Consumed: the next wait runs to its timeout.
  const again = Date.now();
  await wake.wait(50);
  assert.ok(Date.now() - again >= 45);
});
