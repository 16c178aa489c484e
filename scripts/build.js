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
  // The sender thread (src/delivery/dispatcher.ts) loads its module beside the bundle.
  entryPoints: {herald: path.join(root, 'src/cli.ts'), 'sender-thread': path.join(root, 'src/delivery/sender-thread.ts')},
  outdir: path.join(root, 'dist'),
  outExtension: {'.js': '.mjs'},
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  legalComments: 'none',
});
