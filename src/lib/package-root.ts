/**
 * The folder of Herald's package.json, found by walking up from this module. The same answer
 * whether Herald runs from its TypeScript sources (src/lib/) or from the bundle built at
 * install (dist/), so files read at run time (package.json, the admin UI's assets) are found
 * either way.
 */
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate) && (JSON.parse(fs.readFileSync(candidate, 'utf8')) as {name?: string}).name === 'herald') return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find Herald's package.json above ${start}`);
  }
}

/** Absolute path of the package root. */
export const PACKAGE_ROOT: string = findRoot(path.dirname(fileURLToPath(import.meta.url)));

/** Herald's package.json, read once. */
export const PACKAGE_JSON = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {name: string; version: string};
