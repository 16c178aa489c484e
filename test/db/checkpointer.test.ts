// WAL checkpoints on a background thread (SQLite): with `backgroundCheckpoints` the serving
// connection never checkpoints inside a commit, the thread copies the WAL into the database
// file, and close() still leaves a clean file with no WAL beside it.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {sql} from 'kysely';
import {openDatabase, type Database} from '../../src/db/database.ts';
import {sleep} from '../delivery/helpers.ts';

/** About 2 MB in 200 rows: less than SQLite's own 1000-page threshold, so only the thread checkpoints it. */
async function writeBulk(database: Database): Promise<void> {
  await sql`create table bulk (id integer primary key, data text)`.execute(database.db);
  await database.db.transaction().execute(async (trx) => {
    for (let i = 0; i < 200; i++) await sql`insert into bulk (data) values (${'x'.repeat(10_000)})`.execute(trx);
  });
}

const fileSize = (file: string) => fs.statSync(file, {throwIfNoEntry: false})?.size ?? 0;

test('background checkpoints: the WAL reaches the database file without a commit checkpointing it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-ckpt-'));
  const file = path.join(dir, 'herald.db');
  const errors: string[] = [];
  const database = await openDatabase({databaseUrl: null, dataDir: dir}, {backgroundCheckpoints: true, onCheckpointError: (m) => errors.push(m)});
  try {
    const autocheckpoint = await sql<{wal_autocheckpoint: number}>`pragma wal_autocheckpoint`.execute(database.db);
    assert.equal(autocheckpoint.rows[0]!.wal_autocheckpoint, 0, 'the serving connection never checkpoints in a commit');
    const before = fileSize(file);
    await writeBulk(database);
    assert.ok(fileSize(`${file}-wal`) > 2_000_000, 'the rows are in the WAL');
    const deadline = Date.now() + 5000;
    while (fileSize(file) < before + 2_000_000 && Date.now() < deadline) await sleep(50);
    assert.ok(fileSize(file) >= before + 2_000_000, `the database file grew from ${before} to ${fileSize(file)} bytes`);
    assert.deepEqual(errors, []);
  } finally {
    await database.close();
  }
  assert.equal(fs.existsSync(`${file}-wal`), false, 'close() leaves no WAL behind');
  fs.rmSync(dir, {recursive: true, force: true});
});

test('without the thread (short commands), 2 MB stays in the WAL until close', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-ckpt-'));
  const file = path.join(dir, 'herald.db');
  const database = await openDatabase({databaseUrl: null, dataDir: dir});
  try {
    const before = fileSize(file);
    await writeBulk(database);
    await sleep(600); // three of the thread's intervals
    assert.ok(fileSize(file) < before + 1_000_000, 'nothing copied the WAL into the file');
  } finally {
    await database.close();
  }
  assert.ok(fileSize(file) > 2_000_000, 'the last close checkpoints everything');
  assert.equal(fs.existsSync(`${file}-wal`), false);
  fs.rmSync(dir, {recursive: true, force: true});
});
