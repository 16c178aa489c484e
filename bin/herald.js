#!/usr/bin/env node
// Entry point for `herald` / `npx herald`: loads the TypeScript sources through tsx,
// so the checkout runs with no build step.
import {register} from 'tsx/esm/api';

register();
const {main} = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
