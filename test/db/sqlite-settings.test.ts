// The settings every SQLite connection Herald opens relies on: WAL (readers beside the
// writer), NORMAL sync (durable across a process crash), foreign keys (cascades), and
// temporary storage in memory (a statement journal never spills to a temp file, one write
// system call per page, in the middle of the API's many-row outbox INSERT).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {sql} from 'kysely';
import {openDatabase} from '../../src/db/database.ts';

test('SQLite connections: WAL, synchronous NORMAL, foreign keys on, temp store in memory', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-settings-'));
  for (const open of [{}, {backgroundCheckpoints: true}]) {
    const database = await openDatabase({databaseUrl: null, dataDir: dir}, open);
    try {
      const one = async <T>(pragma: string) => Object.values((await sql.raw<Record<string, T>>(`pragma ${pragma}`).execute(database.db)).rows[0]!)[0];
      assert.equal(await one('journal_mode'), 'wal');
      assert.equal(await one('synchronous'), 1, 'NORMAL');
      assert.equal(await one('foreign_keys'), 1);
      assert.equal(await one('temp_store'), 2, 'MEMORY');
    } finally {
      await database.close();
    }
  }
  fs.rmSync(dir, {recursive: true, force: true});
});
