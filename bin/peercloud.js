#!/usr/bin/env node
// `npx peercloud`: runs the TypeScript tracker through tsx (see server/cli.ts).
import { register } from 'tsx/esm/api';

register();
process.env.PEERCLOUD_CLI = '1';
await import('../server/cli.ts');
