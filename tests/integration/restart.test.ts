import { afterEach, describe, expect, it } from 'vitest';
import { storedSize } from '../../shared/chunking.ts';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor, rootOf, storeFile } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
afterEach(async () => {
  await t.stop();
});

describe('a restart on the same database file', () => {
  it('keeps peers, files, replicas and levels as they were', async () => {
    t = await startTracker({ REPLICAS: '2' });
    const owner = await NodePeer.join(t.url, 64 * MiB);
    const hostA = await NodePeer.join(t.url, 4 * GiB);
    const hostB = await NodePeer.join(t.url, GiB);
    const { file } = await storeFile(owner, [hostA, hostB], 'keep.me', 4321);
    // An unfinished upload whose reservation the restart must release.
    const pending = await owner.request('file:place', { name: 'half', size: MiB, chunkSize: CHUNK });
    await offerFor(hostA, pending.file.id);
    const levels = () => t.database.db.selectFrom('peers').select(['id', 'level', 'trust', 'dynamism', 'availability', 'capacity', 'bytes_used']).orderBy('id').execute();
    const levelsBefore = await levels();

    await t.restart();
    expect(await t.database.db.selectFrom('peers').select((eb) => eb.fn.countAll<number>().as('n')).where('online', '=', 1).executeTakeFirst()).toEqual({ n: 0 });

    const ownerAgain = await NodePeer.connect(t.url, owner.keys);
    const hostAAgain = await NodePeer.connect(t.url, hostA.keys);
    const hostBAgain = await NodePeer.connect(t.url, hostB.keys);
    // A peer's own status follows its registration; before it, another peer may not see it online.
    await Promise.all([hostAAgain, hostBAgain].map((host) => host.next('peer:status')));
    const { files } = await ownerAgain.request('file:list', {});
    const kept = files.find((f) => f.id === file.id);
    expect(kept).toMatchObject({ name: 'keep.me', size: 4321, state: 'stored', replicas: { wanted: 2, stored: 2, online: 2, pending: 0 } });
    // The upload under way when the tracker stopped waits for its owner to resume it.
    expect(files.find((f) => f.id === pending.file.id)).toMatchObject({ state: 'interrupted', replicas: { stored: 0, pending: 0 } });

    // A tracker stop is not the peers' fault: no disconnection was counted for them.
    expect(await levels()).toEqual(levelsBefore);
    // No transfer survives a restart; only the interrupted upload's partial replica stays reserved.
    expect(await t.database.db.selectFrom('transfers').select((eb) => eb.fn.countAll<number>().as('n')).where('state', 'in', ['offered', 'open']).executeTakeFirst()).toEqual({ n: 0 });
    const reserved = await t.database.db.selectFrom('peers').select((eb) => eb.fn.sum<number>('bytes_reserved').as('n')).executeTakeFirstOrThrow();
    expect(reserved.n).toBe(2 * storedSize(MiB, CHUNK)); // on both hosts it was placed on

    const root = await rootOf(4321);
    const inventoryA = [file.id, pending.file.id, 'z'.repeat(26)].map((fileId) => ({ fileId, root: fileId === file.id ? root : null }));
    expect((await hostAAgain.request('host:inventory', { replicas: inventoryA, last: true })).drop).toEqual(['z'.repeat(26)]);
    expect((await hostBAgain.request('host:inventory', { replicas: [{ fileId: file.id, root }], last: true })).drop).toEqual([]);
  });
});
