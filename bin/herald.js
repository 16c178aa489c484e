#!/usr/bin/env -S node --max-semi-space-size=8 --max-old-space-size=256
// Entry point for `herald` / `npx herald`. Runs dist/herald.mjs (built by `npm ci`, see
// scripts/build.js) when it is newer than every source file; otherwise loads the TypeScript
// sources through tsx, so an edited checkout runs its edits with no build step.
//
// The V8 flags on the first line (also in package.json's "start") keep memory predictable:
// left alone on a machine with a lot of RAM, V8 lets a busy process grow its heap far beyond
// what it holds live (draining a 100,000-delivery backlog peaked near 300 MB without them, near 170 MB with them).
// NODE_OPTIONS can override them.
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundle = path.join(root, 'dist/herald.mjs');

/** The newest modification time under `dir` (recursive), in ms. */
function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return latest;
}

function bundleIsFresh() {
  if (process.env.HERALD_FROM_SOURCE === '1') return false;
  try {
    // The sender thread's module is built beside the bundle; a bundle without it is not usable.
    const built = Math.min(fs.statSync(bundle).mtimeMs, fs.statSync(path.join(root, 'dist/sender-thread.mjs')).mtimeMs);
    return built >= Math.max(newest(path.join(root, 'src')), fs.statSync(path.join(root, 'package.json')).mtimeMs);
  } catch {
    return false;
  }
}

let main;
if (bundleIsFresh()) {
  ({main} = await import(pathToFileURL(bundle).href));
} else {
  const {register} = await import('tsx/esm/api');
  register();
  ({main} = await import('../src/cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
