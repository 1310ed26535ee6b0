/**
 * Every path that moves a host's space counters, driven through the protocol, with the
 * counters checked against the rows they count after each step.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storedSize } from '../../shared/chunking.ts';
import { randomId } from '../../shared/encoding.ts';
import { GiB, MiB } from '../../shared/units.ts';
import type { FileRow, ReplicaRow, TransferRow } from '../../server/db/schema.ts';
import { spaceLedger } from '../../server/space-ledger.ts';
import { CHUNK, offerFor, offeredTo, rootOf, storeFile } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { spaceMismatches } from '../support/space-invariant.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker({ REPLICAS: '2', REPAIR_GRACE: '1m', UPLOAD_RESUME_GRACE: '1m' });
});
afterEach(async () => {
  await t.stop();
});

const SIZE = 3 * MiB;
const BYTES = storedSize(SIZE, CHUNK);

async function counters(hostId: string): Promise<{ reserved: number; used: number }> {
  const row = await t.database.db.selectFrom('peers').select(['bytes_reserved', 'bytes_used']).where('id', '=', hostId).executeTakeFirstOrThrow();
  return { reserved: Number(row.bytes_reserved), used: Number(row.bytes_used) };
}

async function expectBalanced(): Promise<void> {
  expect(await spaceMismatches(t.database.db)).toEqual([]);
}

describe('the space ledger', () => {
  it('reserves on placement, promotes on a verified replica, and drops on delete', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const [a, b] = [await NodePeer.join(t.url, GiB), await NodePeer.join(t.url, GiB)];
    const placed = await owner.request('file:place', { name: 'a.bin', size: SIZE, chunkSize: CHUNK });
    expect(await counters(a.id)).toEqual({ reserved: BYTES, used: 0 });
    await expectBalanced();
    for (const host of [a, b]) {
      const offer = await offerFor(host, placed.file.id);
      await host.request('transfer:accept', { transferId: offer.transferId });
      await host.request('replica:stored', { transferId: offer.transferId, sha256: await rootOf(SIZE) });
    }
    await owner.request('file:seal', { fileId: placed.file.id, sha256: await rootOf(SIZE) });
    await owner.next('file:updated', (f) => f.state === 'stored');
    await expect.poll(() => counters(a.id)).toEqual({ reserved: 0, used: BYTES });
    await expectBalanced();
    await owner.request('file:delete', { fileId: placed.file.id });
    expect(await counters(a.id)).toEqual({ reserved: 0, used: 0 });
    await expectBalanced();
  });

  it('releases a refused reservation and the one a wrong root leaves, and reserves the replacement', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const hosts = [await NodePeer.join(t.url, GiB), await NodePeer.join(t.url, GiB), await NodePeer.join(t.url, GiB)];
    const placed = await owner.request('file:place', { name: 'b.bin', size: SIZE, chunkSize: CHUNK });
    // The answer is the committed reservation; the offers follow it.
    await expect.poll(() => hosts.filter((host) => host.peek('transfer:open', (o) => o.fileId === placed.file.id)).length, { timeout: 5_000 }).toBe(placed.transferIds.length);
    const asked = hosts.filter((host) => host.peek('transfer:open', (o) => o.fileId === placed.file.id));
    const refuser = asked[0]!;
    await refuser.request('transfer:reject', { transferId: (await offerFor(refuser, placed.file.id)).transferId, reason: 'busy' });
    expect(await counters(refuser.id)).toEqual({ reserved: 0, used: 0 });
    await expectBalanced();
    // The third host took the refused place.
    const third = hosts.find((host) => !asked.includes(host))!;
    await expect.poll(() => third.peek('transfer:open', (o) => o.fileId === placed.file.id)).toBeTruthy();
    expect(await counters(third.id)).toEqual({ reserved: BYTES, used: 0 });

    await owner.request('file:seal', { fileId: placed.file.id, sha256: await rootOf(SIZE) });
    const liar = asked[1]!;
    const offer = await offerFor(liar, placed.file.id);
    await liar.request('transfer:accept', { transferId: offer.transferId });
    await liar.request('replica:stored', { transferId: offer.transferId, sha256: 'b'.repeat(64) });
    expect(await counters(liar.id)).toEqual({ reserved: 0, used: 0 });
    await expectBalanced();
  });

  it('keeps an interrupted upload’s reservation for a resume, then releases it when the grace ends', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    await NodePeer.join(t.url, GiB);
    const placed = await owner.request('file:place', { name: 'c.bin', size: SIZE, chunkSize: CHUNK });
    const offer = await offerFor(host, placed.file.id);
    await host.request('transfer:accept', { transferId: offer.transferId });
    owner.disconnect();
    await expect.poll(async () => (await t.database.db.selectFrom('files').select('state').where('id', '=', placed.file.id).executeTakeFirstOrThrow()).state).toBe('interrupted');
    expect(await counters(host.id)).toEqual({ reserved: BYTES, used: 0 });
    await expectBalanced();
    t.clock.advance(2 * 60_000);
    await t.tracker.sweep();
    expect(await counters(host.id)).toEqual({ reserved: 0, used: 0 });
    await expectBalanced();
  });

  it('loses a replica its host no longer lists, once, even when a page lists others twice', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const hosts = [await NodePeer.join(t.url, GiB), await NodePeer.join(t.url, GiB)];
    const { file } = await storeFile(owner, hosts, 'd.bin', SIZE);
    const other = await storeFile(owner, hosts, 'e.bin', SIZE);
    const [host] = hosts;
    await host!.request('host:inventory', { replicas: [{ fileId: other.file.id, root: await rootOf(SIZE) }, { fileId: other.file.id, root: await rootOf(SIZE) }], last: false });
    await host!.request('host:inventory', { replicas: [{ fileId: other.file.id, root: await rootOf(SIZE) }], last: true });
    expect(await counters(host!.id)).toEqual({ reserved: 0, used: BYTES });
    await expectBalanced();
    expect((await owner.request('file:list', {})).files.find((f) => f.id === file.id)!.replicas.stored).toBe(1);
  });

  it('drops the copy a host served corrupt, and the copy a repair replaced', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const hosts = [await NodePeer.join(t.url, GiB), await NodePeer.join(t.url, GiB), await NodePeer.join(t.url, GiB)];
    const { file, holders } = await storeFile(owner, hosts, 'f.bin', SIZE);
    const { transferId } = await owner.request('file:locate', { fileId: file.id });
    const server = await offeredTo(holders, transferId);
    await server.request('transfer:accept', { transferId });
    await owner.request('transfer:progress', { transferId, bytes: 65536 });
    server.audits = 'wrong';
    await owner.request('transfer:fail', { transferId, code: 'INTEGRITY', message: 'chunk 0 failed authentication', chunk: 0 });
    await server.next('replica:drop', (drop) => drop.fileIds.includes(file.id));
    server.audits = 'honest';
    expect(await counters(server.id)).toEqual({ reserved: 0, used: 0 });
    await expectBalanced();

    // The corrupt copy is gone: a repair copies the keeper's replica to the spare host.
    const keeper = holders.find((host) => host !== server)!;
    const spare = hosts.find((host) => !holders.includes(host))!;
    await t.tracker.sweep();
    const repair = await offerFor(spare, file.id);
    expect(repair.kind).toBe('repair');
    expect(await counters(spare.id)).toEqual({ reserved: BYTES, used: 0 });
    await spare.request('transfer:accept', { transferId: repair.transferId });
    await spare.request('replica:stored', { transferId: repair.transferId, sha256: await rootOf(SIZE) });
    // Stored once its first audit passes.
    await expect.poll(() => counters(spare.id)).toEqual({ reserved: 0, used: BYTES });
    expect(await counters(keeper.id)).toEqual({ reserved: 0, used: BYTES });
    await expectBalanced();

    // The keeper leaves for good: the repair that replaces its copy retires it (its host may
    // come back with it), and its space is let go when its host comes back without it.
    // (The host caught lying about this file is not asked to hold it again: a new one is.)
    const fresh = await NodePeer.join(t.url, GiB);
    keeper.disconnect();
    await expect.poll(async () => (await t.database.db.selectFrom('peers').select('online').where('id', '=', keeper.id).executeTakeFirstOrThrow()).online).toBe(0);
    t.clock.advance(2 * 60_000);
    await t.tracker.sweep();
    const replacing = await fresh.next('transfer:open', (o) => o.fileId === file.id && o.kind === 'repair');
    await fresh.request('transfer:accept', { transferId: replacing.transferId });
    await fresh.request('replica:stored', { transferId: replacing.transferId, sha256: await rootOf(SIZE) });
    await expect.poll(() => counters(fresh.id)).toEqual({ reserved: 0, used: BYTES });
    expect(await counters(keeper.id)).toEqual({ reserved: 0, used: BYTES });
    await expectBalanced();
    const back = await NodePeer.connect(t.url, keeper.keys);
    await back.request('host:inventory', { replicas: [], last: true });
    expect(await counters(keeper.id)).toEqual({ reserved: 0, used: 0 });
    await expectBalanced();
  });

  it('never promises the same bytes twice when placements race', async () => {
    // Room for three, and three transfers at once (MAX_HOST_TRANSFERS is 4): the room is the limit.
    const host = await NodePeer.join(t.url, 3 * BYTES);
    const owners = await Promise.all(Array.from({ length: 12 }, () => NodePeer.join(t.url, 0)));
    const answers = await Promise.allSettled(owners.map((owner) => owner.request('file:place', { name: 'g.bin', size: SIZE, chunkSize: CHUNK })));
    expect(answers.filter((answer) => answer.status === 'fulfilled')).toHaveLength(3);
    expect(await counters(host.id)).toEqual({ reserved: 3 * BYTES, used: 0 });
    await expectBalanced();
  });

  it('writes a new file with its hosts’ reservations and stores at once, or nothing when a host lost its room or is busy', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const [a, b] = [await NodePeer.join(t.url, GiB), await NodePeer.join(t.url, GiB)];
    const small = await NodePeer.join(t.url, BYTES - 1);
    const now = Date.now();
    const placement = (hostIds: string[]) => {
      const file: FileRow = { id: randomId(), owner_id: owner.id, name: 'n.bin', size: SIZE, sha256: null, chunk_size: CHUNK, chunk_count: 3, stored_bytes: BYTES, replicas_wanted: hostIds.length, created_at: now, state: 'uploading', interrupted_at: null, repaired_at: null, scheme_k: 1, fragment_bytes: BYTES };
      const replicas = hostIds.map((host_id, fragment): ReplicaRow => ({ file_id: file.id, host_id, fragment, state: 'reserved', bytes: BYTES, sha256: null, created_at: now, stored_at: null, proven_at: null, audit_due_at: null, suspect_since: null, retired_at: null }));
      const transfers = hostIds.map((host_id, fragment): TransferRow => ({
        id: randomId(), kind: 'store', file_id: file.id, sender_id: owner.id, receiver_id: host_id, responder_id: host_id, state: 'offered', created_at: now, updated_at: now, expires_at: now + 3_600_000,
        error_code: null, error_message: null, replaces_host_id: null, bytes_reported: 0, signal_bytes: 0, opened_at: null, fragment, group_id: null, rebuild_fragment: null,
      }));
      return { file, replicas, transfers };
    };
    const rowsOf = async (fileId: string) => ({
      files: (await t.database.db.selectFrom('files').select('id').where('id', '=', fileId).execute()).length,
      replicas: (await t.database.db.selectFrom('replicas').select('host_id').where('file_id', '=', fileId).execute()).length,
      transfers: (await t.database.db.selectFrom('transfers').select('id').where('file_id', '=', fileId).execute()).length,
    });

    const first = placement([a.id, b.id]);
    expect(await spaceLedger.reserveNewFile(t.database.db, first, 2)).toBe(true);
    expect(await rowsOf(first.file.id)).toEqual({ files: 1, replicas: 2, transfers: 2 });
    expect(await counters(a.id)).toEqual({ reserved: BYTES, used: 0 });
    await expectBalanced();

    // One host without the room: the other host's counters, the file and its rows are untouched.
    const tooSmall = placement([a.id, small.id]);
    expect(await spaceLedger.reserveNewFile(t.database.db, tooSmall, 2)).toBe(false);
    expect(await rowsOf(tooSmall.file.id)).toEqual({ files: 0, replicas: 0, transfers: 0 });
    expect(await counters(a.id)).toEqual({ reserved: BYTES, used: 0 });

    // b has one transfer under way: with a limit of one, it is as busy as a host may be.
    const busy = placement([b.id]);
    expect(await spaceLedger.reserveNewFile(t.database.db, busy, 1)).toBe(false);
    expect(await rowsOf(busy.file.id)).toEqual({ files: 0, replicas: 0, transfers: 0 });
    expect(await counters(b.id)).toEqual({ reserved: BYTES, used: 0 });
    await expectBalanced();
  });
});
