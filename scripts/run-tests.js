#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test through tsx. Node 20's --test finds no .ts files
// from a folder or glob, so the files are listed here explicitly. Extra arguments are passed
// on (e.g. a single file: `npm test -- test/unit/config.test.ts`).
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function find(dir) {
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return find(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const args = process.argv.slice(2);
const files = args.some((a) => a.endsWith('.ts')) ? [] : find('test').sort();
if (files.length === 0 && !args.some((a) => a.endsWith('.ts'))) {
  console.error('no test files found under test/');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...args, ...files], {stdio: 'inherit'});
process.exit(result.status ?? 1);
