/**
 * A second (and third) process for the scheduler tests: runs startScheduler on the database
 * named by argv[2] (a JSON object of config flags) for argv[3] ms, then prints
 * `{"published": N}` — how many posts this process published.
 */
import pino from 'pino';
import {loadConfig} from '../../src/config.ts';
import {openDatabase} from '../../src/db/database.ts';
import {systemClock} from '../../src/lib/clock.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {createEventFeed} from '../../src/listen/feed.ts';
import {createWake} from '../../src/lib/wake.ts';
import {startScheduler} from '../../src/scheduler/scheduler.ts';

const flags = JSON.parse(process.argv[2]!) as Record<string, string>;
const runMs = Number(process.argv[3]);
const database = await openDatabase(loadConfig(flags, {}));
let published = 0;
const logger = pino({level: 'info'}, {
  write(line: string) {
    if (line.includes('scheduled post published')) published++;
    if (line.includes('"level":50')) process.stderr.write(line);
  },
});
const scheduler = startScheduler({database, clock: systemClock, random: cryptoRandom, siteUrl: () => 'http://127.0.0.1:2368', wake: createWake(), feed: createEventFeed(database, null, logger), logger});
process.stdout.write('ready\n');
await new Promise((resolve) => setTimeout(resolve, runMs));
await scheduler.stop();
await database.close();
process.stdout.write(`${JSON.stringify({published})}\n`);
