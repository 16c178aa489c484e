// startPeriodic (src/lib/periodic.ts), the timer behind retention and filing: the first run
// after firstMs, the next intervalMs after a run ends (never two at once), and stop() waits for
// a run in progress and tells it to end early.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {startPeriodic} from '../../src/lib/periodic.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('runs first after firstMs, then intervalMs after each run ends, one run at a time', async () => {
  const starts: number[] = [];
  let active = 0;
  let most = 0;
  const t0 = Date.now();
  const periodic = startPeriodic(
    async () => {
      starts.push(Date.now() - t0);
      active++;
      most = Math.max(most, active);
      await sleep(30);
      active--;
    },
    {intervalMs: 20, firstMs: 60},
  );
  await sleep(230);
  await periodic.stop();
  assert.ok(starts.length >= 2, `ran ${starts.length} times`);
  assert.ok(starts[0]! >= 55, `first run after firstMs (${starts[0]} ms)`);
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 45, `the next run comes intervalMs after the last ended (${starts.join(', ')})`);
  assert.equal(most, 1);
});

test('stop() waits for the run in progress, which sees it is stopped; nothing runs after', async () => {
  let sawStop = false;
  let ended = false;
  let runs = 0;
  const periodic = startPeriodic(
    async (isStopped) => {
      runs++;
      while (!isStopped()) await sleep(5);
      sawStop = true;
      await sleep(20);
      ended = true;
    },
    {intervalMs: 1},
  );
  await sleep(30);
  await periodic.stop();
  assert.equal(sawStop, true);
  assert.equal(ended, true, 'stop() resolved only after the run ended');
  await sleep(30);
  assert.equal(runs, 1);
});
