import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { missingNodeFlags, TRACKER_NODE_FLAGS } from '../../server/node-flags.ts';

const root = new URL('../../', import.meta.url);

describe("the tracker's node flags", () => {
  it('names those a process lacks', () => {
    expect(TRACKER_NODE_FLAGS).toContain('--no-memory-reducer');
    expect(missingNodeFlags([])).toEqual([...TRACKER_NODE_FLAGS]);
    expect(missingNodeFlags(['--import', 'tsx', ...TRACKER_NODE_FLAGS])).toEqual([]);
  });

  // V8 reads them before any code runs: they must be on each command line that starts a tracker.
  it('are on the command lines npm start, npm run dev and npx peercloud run', () => {
    const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const shebang = readFileSync(new URL('bin/peercloud.js', root), 'utf8').split('\n')[0]!;
    for (const line of [scripts.start!, scripts.dev!, shebang]) {
      const node = line.slice(line.search(/\bnode\b/));
      expect(missingNodeFlags(node.split(/\s+/)), line).toEqual([]);
    }
  });
});
