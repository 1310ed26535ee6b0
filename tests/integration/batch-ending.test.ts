/**
 * Transfers that end for one cause end together (server/transfers.ts, #endAll): a deleted
 * file's stores, the sweep's expiries, a gone peer's transfers. Each ends once, every
 * reservation is released once, each host hears one `replica:drop` for all the files it is to
 * drop; a peer with more transfers than one transaction takes is ended in several. Two
 * trackers ending overlapping sets at once: cluster/batch-ending.test.ts (PostgreSQL).
 */
import { describe, expect, it } from 'vitest';
import { storedSize } from '../../shared/chunking.ts';
import { randomId } from '../../shared/encoding.ts';
import { MiB } from '../../shared/units.ts';
import type { TransferRow } from '../../server/db/schema.ts';
import { CHUNK, offerFor } from '../support/flows.ts';
import { spaceMismatches } from '../support/space-invariant.ts';
import { endingsCloud } from '../support/standalone-transfers.ts';

const cloud = endingsCloud({ REPLICAS: '4', UPLOAD_RESUME_GRACE: '1m', MAX_HOST_TRANSFERS: '64' });
const SIZE = MiB;
const BYTES = storedSize(SIZE, CHUNK);

describe('transfers ended together', () => {
  it('a deleted file ends all of its stores, offered and open, releasing each reservation once', async () => {
    const owner = await cloud.join();
    const hosts = [await cloud.join(), await cloud.join(), await cloud.join(), await cloud.join()];
    const placed = await owner.request('file:place', { name: 'gone.bin', size: SIZE, chunkSize: CHUNK });
    expect(placed.transferIds).toHaveLength(4);
    const offers = await Promise.all(hosts.map((host) => offerFor(host, placed.file.id)));
    // Two of them accepted: an ending reads offered and open rows alike.
    for (const n of [0, 1]) await hosts[n]!.request('transfer:accept', { transferId: offers[n]!.transferId });
    for (const host of hosts) expect(await cloud.reserved(host.id)).toBe(BYTES);

    await owner.request('file:delete', { fileId: placed.file.id });
    for (const [n, host] of hosts.entries()) {
      expect(await host.next('transfer:ended', (e) => e.transferId === offers[n]!.transferId)).toMatchObject({ ok: false, code: 'CANCELLED' });
      expect(await host.next('replica:drop')).toEqual({ fileIds: [placed.file.id] });
    }
    await owner.next('file:removed');
    for (const host of hosts) expect(await cloud.reserved(host.id)).toBe(0);
    expect(await spaceMismatches(cloud.t.database.db)).toEqual([]);
    // Told once each: no second drop or ending followed.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const host of hosts) {
      expect(host.received('replica:drop')).toHaveLength(1);
      expect(host.received('transfer:ended')).toHaveLength(1);
    }
  });

  it('the sweep ends the unanswered stores of several files at once: one replica:drop per host, naming all of them', async () => {
    const owner = await cloud.join();
    const hosts = [await cloud.join(), await cloud.join(), await cloud.join(), await cloud.join()];
    const files: string[] = [];
    for (const name of ['a.bin', 'b.bin', 'c.bin']) {
      const placed = await owner.request('file:place', { name, size: SIZE, chunkSize: CHUNK });
      files.push(placed.file.id);
      for (const host of hosts) await offerFor(host, placed.file.id);
    }
    // (The owner is online: its stores are placed again once ended, which this test doesn't look at.)
    for (const host of hosts) expect(await cloud.reserved(host.id)).toBe(3 * BYTES);
    cloud.t.clock.advance(cloud.t.config.acceptTimeoutMs + 1);
    await cloud.t.tracker.sweep();
    for (const host of hosts) {
      const drop = await host.next('replica:drop');
      expect([...drop.fileIds].sort()).toEqual([...files].sort());
    }
    const ended = await cloud.t.database.db.selectFrom('transfers').select(['state', 'error_code']).where('file_id', 'in', files).where('kind', '=', 'store').execute();
    expect(ended.filter((row) => row.state === 'failed' && row.error_code === 'TIMEOUT')).toHaveLength(12);
    expect(await spaceMismatches(cloud.t.database.db)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const host of hosts) expect(host.received('replica:drop')).toHaveLength(1);
  });

  it('a peer with more transfers than one transaction ends is ended in several, every one of them', async () => {
    const owner = await cloud.join();
    const hosts = [await cloud.join(), await cloud.join(), await cloud.join(), await cloud.join()];
    const placed = await owner.request('file:place', { name: 'many.bin', size: SIZE, chunkSize: CHUNK });
    const host = hosts[0]!;
    await offerFor(host, placed.file.id);
    // 1,200 downloads asked of one host (as a hostile owner could), beside its store of the
    // file: rows written directly.
    const now = cloud.t.clock.now();
    const rows: TransferRow[] = Array.from({ length: 1200 }, () => ({
      id: randomId(),
      kind: 'fetch',
      file_id: placed.file.id,
      sender_id: host.id,
      receiver_id: owner.id,
      responder_id: host.id,
      state: 'offered',
      created_at: now,
      updated_at: now,
      expires_at: now + cloud.t.config.acceptTimeoutMs,
      error_code: null,
      error_message: null,
      replaces_host_id: null,
      bytes_reported: 0,
      signal_bytes: 0,
      opened_at: null,
      fragment: 0,
      group_id: null,
      rebuild_fragment: null,
    }));
    for (let at = 0; at < rows.length; at += 200) await cloud.t.database.db.insertInto('transfers').values(rows.slice(at, at + 200)).execute();
    const { transfers, endings, batches } = cloud.standalone();
    await transfers.peerGone(host.id);
    expect(batches).toEqual([500, 500, 201]);
    expect(new Set(endings.map((ending) => ending.transfer.id)).size).toBe(1201);
    const left = await cloud.t.database.db
      .selectFrom('transfers')
      .select('id')
      .where('state', 'in', ['offered', 'open'])
      .where((eb) => eb.or([eb('sender_id', '=', host.id), eb('receiver_id', '=', host.id)]))
      .execute();
    expect(left).toEqual([]);
    expect(await cloud.reserved(host.id)).toBe(0);
    expect(await spaceMismatches(cloud.t.database.db)).toEqual([]);
  });
});
