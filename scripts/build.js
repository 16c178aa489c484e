#!/usr/bin/env node
// Bundles the TypeScript sources into dist/herald.mjs (run by `npm ci` / `npm install` through
// the "prepare" script). bin/herald.js runs the bundle when it is newer than every source file,
// and the sources through tsx otherwise, so the checkout still needs no build while you edit.
// The bundle starts faster and leaves out tsx's module-loader thread (about 45 MB per process).
// Dependencies stay external (they are loaded from node_modules as usual).
import {build} from 'esbuild';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [path.join(root, 'src/cli.ts')],
  outfile: path.join(root, 'dist/herald.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  legalComments: 'none',
});
