#!/usr/bin/env -S node --no-memory-reducer --heap-growing-percent=50
// `npx peercloud`: runs the TypeScript tracker through tsx (see server/cli.ts), with the
// tracker's node flags on the first line (server/node-flags.ts).
import { register } from 'tsx/esm/api';

register();
process.env.PEERCLOUD_CLI = '1';
await import('../server/cli.ts');
