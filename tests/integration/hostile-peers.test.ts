/**
 * The attacks that worked against the landed tracker (issue "Hostile peers"), each played by
 * malicious socket.io clients against a real tracker with the default rules, and what stops
 * it now. Peers come from public networks through a trusted proxy (X-Forwarded-For), as on the
 * internet; the figures each test prints are those in docs/SECURITY.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { storedSize } from '../../shared/chunking.ts';
import { networkOf } from '../../shared/network.ts';
import type { TransferOffer } from '../../shared/protocol.ts';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor, rootOf, storeFile } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { createTestDatabase } from '../support/test-database.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';
import { startTrackerProcess } from '../support/tracker-process.ts';

let t: RunningTracker | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** A client on its own public network (TEST-NET addresses), seen through the trusted proxy. */
let nextNetwork = 1;
function network(): Record<string, string> {
  const n = nextNetwork++;
  return { 'x-forwarded-for': `${[198, 203, 192][n % 3]}.${n % 3 === 2 ? 0 : 51}.${100 + Math.floor(n / 3)}.${10 + (n % 200)}` };
}
function sameNetwork(headers: Record<string, string>, host: number): Record<string, string> {
  return { 'x-forwarded-for': headers['x-forwarded-for']!.replace(/\.\d+$/, `.${host}`) };
}

const HOSTILE = { TRUST_PROXY: '127.0.0.1' };

async function peerRow(id: string) {
  return t!.database.db.selectFrom('peers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
async function metricsOf(peer: NodePeer) {
  return (await peer.request('peer:report', { capacity: GiB, used: 0 })).peer.metrics;
}
async function hostsOf(fileId: string): Promise<string[]> {
  return (await t!.database.db.selectFrom('replicas').select('host_id').where('file_id', '=', fileId).where('retired_at', 'is', null).execute()).map((r) => r.host_id);
}

describe('1. placement capture with free identities', () => {
  it('credits a new key claiming 2^53 bytes like any newcomer, and never gives new keys on one network every copy of a file', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '2', VETTING_AUDITS: '0', VETTING_PERIOD: '1h', MAX_PENDING_UPLOADS: '20', MAX_HOST_TRANSFERS: '64' });
    // Three honest hosts that have been here for an hour (vetted), each offering 100 MiB.
    const honest = [await NodePeer.join(t.url, 100 * MiB, undefined, { headers: network() }), await NodePeer.join(t.url, 100 * MiB, undefined, { headers: network() }), await NodePeer.join(t.url, 100 * MiB, undefined, { headers: network() })];
    t.clock.advance(3_600_001);
    for (const host of honest) expect((await host.request('peer:report', { capacity: 100 * MiB, used: 0 })).peer.vetted).toBe(true);
    // Two attacker keys on one network claiming the moon.
    const home = network();
    const attackers = [await NodePeer.connect(t.url, undefined, { headers: home }), await NodePeer.connect(t.url, undefined, { headers: sameNetwork(home, 99) })];
    for (const attacker of attackers) {
      const { peer } = await attacker.request('peer:report', { capacity: Number.MAX_SAFE_INTEGER, used: 0 });
      // Credited a newcomer's 256 MiB, no more (still more room than the honest hosts' 100 MiB).
      expect(peer).toMatchObject({ credited: 256 * MiB, vetted: false, scores: { trust: 3 } });
    }

    const victim = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    let captured = 0;
    let attackerCopies = 0;
    for (let i = 0; i < 20; i++) {
      const placed = await victim.request('file:place', { name: `v${i}.bin`, size: 100_000, chunkSize: CHUNK });
      const hosts = await hostsOf(placed.file.id);
      const onAttackers = hosts.filter((host) => attackers.some((a) => a.id === host)).length;
      attackerCopies += onAttackers;
      if (onAttackers === hosts.length) captured++;
      // Never two copies on the attackers' network, never every copy on new keys.
      expect(onAttackers).toBeLessThanOrEqual(1);
      expect(hosts.some((host) => honest.some((h) => h.id === host))).toBe(true);
    }
    expect(captured).toBe(0);
    // New keys get copies of a small share of files (VETTING_SHARE, 5 %) while vetted hosts have room.
    expect(attackerCopies).toBeLessThanOrEqual(6);
    console.log(`[figures] attack 1: files with every copy on attacker keys: ${captured} of 20 (attacker keys hold ${attackerCopies} of 40 copies)`);
  });
});

describe('2. phantom replicas, and the loss of the real copy', () => {
  it('does not count a copy its host cannot prove, and takes back a returning genuine copy', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '2', REPAIR_GRACE: '1m' });
    const owner = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    const honest = await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const accomplice = await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const { file, holders } = await storeFile(owner, [honest, accomplice], 'precious.bin', MiB);
    expect(holders.map((h) => h.id).sort()).toEqual([honest.id, accomplice.id].sort());

    // The honest host goes away past the grace; a colluding key becomes the repair's target and
    // confirms the copy with the root its accomplice told it, having received nothing.
    const phantom = await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    phantom.audits = 'silent';
    const honestKeys = honest.keys;
    honest.disconnect();
    await expect.poll(async () => (await peerRow(honest.id)).online).toBe(0);
    t.clock.advance(61_000);
    await t.tracker.sweep();
    const repair = await phantom.next('transfer:open', (o) => o.kind === 'repair');
    await phantom.request('transfer:accept', { transferId: repair.transferId });
    await phantom.request('replica:stored', { transferId: repair.transferId, sha256: await rootOf(MiB) });
    // It must prove it: it can't, and the copy is never counted.
    t.clock.advance(t.config.audits.timeoutMs + 1);
    await t.tracker.sweep();
    expect(await phantom.next('transfer:ended', (e) => e.transferId === repair.transferId)).toMatchObject({ ok: false });
    const [listed] = (await owner.request('file:list', {})).files;
    expect(listed!.replicas).toMatchObject({ online: 1 });
    expect(await hostsOf(file.id)).not.toContain(phantom.id);
    expect((await metricsOf(phantom)).rejections).toBe(1);

    // Refusing downloads is a broken promise now (once a day per owner), and the owner reads elsewhere later.
    for (let i = 0; i < 3; i++) {
      const { transferId } = await owner.request('file:locate', { fileId: file.id });
      await accomplice.request('transfer:reject', { transferId, reason: 'busy' });
    }
    expect((await metricsOf(accomplice)).rejections).toBe(1);

    // The honest host comes back with the genuine copy: it is kept and counted.
    const back = await NodePeer.join(t.url, GiB, honestKeys, { headers: network() });
    back.holds.set(file.id, { size: MiB, chunkSize: CHUNK });
    expect((await back.request('host:inventory', { replicas: [{ fileId: file.id, root: await rootOf(MiB) }], last: true })).drop).toEqual([]);
    const [after] = (await owner.request('file:list', {})).files;
    expect(after!.replicas).toMatchObject({ stored: 2, online: 2 });
    console.log('[figures] attack 2: phantom copy counted: no; genuine copy dropped on return: no; refused downloads counted: 1 per owner per day');
  });
});

describe('3. free refusals', () => {
  async function setup() {
    t = await startTracker({ ...HOSTILE, REPLICAS: '1' });
    const owner = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    const host = await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const placed = await owner.request('file:place', { name: 'f.bin', size: MiB, chunkSize: CHUNK });
    const offer = await offerFor(host, placed.file.id);
    await host.request('transfer:accept', { transferId: offer.transferId });
    return { owner, host, offer, placed };
  }

  it('counts accepting and then giving up (CANCELLED) against the host', async () => {
    const { host, offer } = await setup();
    await host.request('transfer:fail', { transferId: offer.transferId, code: 'CANCELLED', message: 'changed my mind' });
    expect((await metricsOf(host)).rejections).toBe(1);
  });

  it('counts accepting and then stalling after bytes moved against the host', async () => {
    const { owner, host, offer } = await setup();
    await owner.request('transfer:progress', { transferId: offer.transferId, bytes: 200_000 });
    t!.clock.advance(t!.config.transferIdleTimeoutMs + 1);
    await t!.tracker.sweep();
    expect((await metricsOf(host)).rejections).toBe(1);
  });

  it('counts a root that does not match the owner’s seal against the host', async () => {
    const { owner, host, offer, placed } = await setup();
    await owner.request('file:seal', { fileId: placed.file.id, sha256: await rootOf(MiB) });
    await host.request('replica:stored', { transferId: offer.transferId, sha256: 'f'.repeat(64) });
    expect((await metricsOf(host)).rejections).toBe(1);
  });
});

describe('4. griefing honest hosts', () => {
  it('never offers a host more transfers than it takes, and caps an owner’s uploads under way', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '1' });
    const honest = await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const griefer = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    const answers = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => griefer.request('file:place', { name: `z${i}`, size: 0, chunkSize: CHUNK })));
    // Only as many as the host takes at once (MAX_HOST_TRANSFERS) reach it; the rest find no host.
    // (The offers follow the answers.)
    await expect.poll(() => honest.received('transfer:open').length, { timeout: 5_000 }).toBe(t.config.maxHostTransfers);
    expect(answers.filter((a) => a.status === 'rejected').map((a) => (a as PromiseRejectedResult).reason.code)).toEqual(Array(10 - t.config.maxHostTransfers).fill('NO_HOST'));
    expect((await metricsOf(honest)).rejections).toBe(0);
  });

  it('refuses an owner more uploads under way than MAX_PENDING_UPLOADS', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '1', MAX_PENDING_UPLOADS: '2' });
    for (let i = 0; i < 3; i++) await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const griefer = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    await griefer.request('file:place', { name: 'a', size: 10, chunkSize: CHUNK });
    await griefer.request('file:place', { name: 'b', size: 10, chunkSize: CHUNK });
    await expect(griefer.request('file:place', { name: 'c', size: 10, chunkSize: CHUNK })).rejects.toMatchObject({ code: 'QUOTA' });
  });

  it('keeps MAX_PENDING_UPLOADS exact when an owner sends its uploads all at once', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '1', MAX_PENDING_UPLOADS: '2' });
    for (let i = 0; i < 3; i++) await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const griefer = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    const answers = await Promise.allSettled(Array.from({ length: 6 }, (_, n) => griefer.request('file:place', { name: `f${n}`, size: 10, chunkSize: CHUNK })));
    expect(answers.filter((answer) => answer.status === 'fulfilled')).toHaveLength(2);
    expect(answers.flatMap((answer) => (answer.status === 'rejected' ? [(answer.reason as { code: string }).code] : []))).toEqual(['QUOTA', 'QUOTA', 'QUOTA', 'QUOTA']);
  });

  it('does not count a disconnection the tracker forced', async () => {
    t = await startTracker({ ...HOSTILE, RATE_LIMIT: '5', RATE_BURST: '10' });
    const peer = await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const socket = peer.client.socket as unknown as Socket;
    const closed = new Promise((resolve) => socket.once('disconnect', resolve));
    for (let i = 0; i < 40; i++) socket.emit('file:list', {});
    await closed;
    await expect.poll(async () => (await peerRow(peer.id)).online).toBe(0);
    const again = await NodePeer.connect(t.url, peer.keys, { headers: network() });
    expect((await metricsOf(again)).disconnections).toBe(0);
  });
});

describe('5. false accusation', () => {
  it('believes no integrity accusation on its word: none on a download its host never accepted, and an audit decides the rest', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '1' });
    const owner = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    const host = await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const { file } = await storeFile(owner, [host], 'f.bin', MiB);
    // Three accusations on downloads still offered, no byte sent.
    for (let i = 0; i < 3; i++) {
      const { transferId } = await owner.request('file:locate', { fileId: file.id });
      await owner.request('transfer:fail', { transferId, code: 'INTEGRITY', message: 'corrupt!', chunk: 0 });
    }
    // One on a download under way: the host is audited on that chunk, and proves it.
    const { transferId } = await owner.request('file:locate', { fileId: file.id });
    await host.request('transfer:accept', { transferId });
    await owner.request('transfer:fail', { transferId, code: 'INTEGRITY', message: 'corrupt!', chunk: 0 });
    await expect.poll(async () => (await t!.database.db.selectFrom('audits').select('state').where('purpose', '=', 'accusation').executeTakeFirst())?.state).toBe('passed');
    // The verdict is committed before what it counts against the host (audit:decided): a failed
    // download is one broken promise a day per pair, and no integrity failure.
    await expect.poll(() => metricsOf(host)).toMatchObject({ integrityFailures: 0, rejections: 1 });
    expect(await hostsOf(file.id)).toEqual([host.id]);
    console.log('[figures] attack 5: integrity failures from 4 false accusations: 0; copies dropped: 0');
  });
});

describe('6. reservation drain', () => {
  it('bounds what an owner may reserve by what it gives, limits new keys per network, and tells nothing of others’ room', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '2', NEWCOMER_SPACE: '1GiB', NEW_PEERS_PER_NETWORK: '3' });
    for (let i = 0; i < 3; i++) await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const home = network();
    const drainer = await NodePeer.join(t.url, 0, undefined, { headers: home });
    // 1 GiB with two copies is twice the newcomer's 1 GiB allowance.
    await expect(drainer.request('file:place', { name: 'big', size: GiB, chunkSize: CHUNK })).rejects.toMatchObject({ code: 'QUOTA' });
    await drainer.request('file:place', { name: 'half', size: 400 * MiB, chunkSize: CHUNK });
    await expect(drainer.request('file:place', { name: 'more', size: 200 * MiB, chunkSize: CHUNK })).rejects.toMatchObject({ code: 'QUOTA' });
    // More keys from the same network: three new identities an hour.
    await NodePeer.connect(t.url, undefined, { headers: sameNetwork(home, 50) });
    await NodePeer.connect(t.url, undefined, { headers: sameNetwork(home, 51) });
    await expect(NodePeer.connect(t.url, undefined, { headers: sameNetwork(home, 52) })).rejects.toThrow(/RATE_LIMITED/);
    // A victim still gets its file stored.
    const victim = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    const placed = await victim.request('file:place', { name: 'small', size: 50_000, chunkSize: CHUNK });
    expect(placed.transferIds).toHaveLength(2);
    // (A refusal for want of room never says how much others have: file-flow.test.ts.)
    console.log(`[figures] attack 6: bytes one new identity may reserve: ${storedSize(400 * MiB, CHUNK) * 2} (its allowance: ${GiB}); new identities a network may make an hour: 3`);
  });
});

describe('7. tracker memory through inventories', () => {
  it('keeps nothing for inventory pages of replicas it does not know, and nothing once the host is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peercloud-inventory-'));
    const database = await createTestDatabase(dir);
    const tracker = await startTrackerProcess({ ...database.env });
    try {
      const host = await NodePeer.join(tracker.url, GiB);
      const before = tracker.rss();
      const ids = (page: number) => Array.from({ length: 500 }, (_, k) => ({ fileId: (page * 500 + k).toString(32).padStart(26, 'a').replace(/[0189]/g, 'b'), root: 'a'.repeat(64) }));
      for (let page = 0; page < 200; page++) {
        const { drop } = await host.request('host:inventory', { replicas: ids(page), last: false });
        expect(drop).toHaveLength(500);
      }
      const growth = tracker.rss() - before;
      console.log(`[figures] attack 7: tracker memory after 100,000 unknown inventory entries without a last page: +${(growth / MiB).toFixed(1)} MiB`);
      expect(growth).toBeLessThan(64 * MiB);
    } finally {
      await tracker.stop();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('8. database growth and costly endpoints', () => {
  it('limits files per identity', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '1', MAX_FILES_PER_PEER: '3' });
    await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const owner = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    for (let i = 0; i < 3; i++) await owner.request('file:place', { name: `f${i}`, size: 1, chunkSize: CHUNK });
    await expect(owner.request('file:place', { name: 'f3', size: 1, chunkSize: CHUNK })).rejects.toMatchObject({ code: 'QUOTA' });
  });

  it('serves /metrics only with its token when one is set, from a cache', async () => {
    t = await startTracker({ ...HOSTILE, METRICS_TOKEN: 'a-metrics-token-for-tests' });
    expect((await fetch(`${t.url}/metrics`)).status).toBe(401);
    const scrape = () => fetch(`${t!.url}/metrics`, { headers: { authorization: 'Bearer a-metrics-token-for-tests' } }).then((r) => r.text());
    const first = await scrape();
    expect(first).toContain('peercloud_peers_online');
    await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    // Within the cache's life the same answer comes back, whatever happened meanwhile.
    const online = (text: string) => text.match(/peercloud_peers_online\{level="\d",tracker="[^"]+"\} \d+/g);
    expect(online(first)).not.toBeNull();
    expect(online(await scrape())).toEqual(online(first));
  });
});

describe('9. signaling as a data relay', () => {
  it('relays at most SIGNAL_BUDGET bytes per transfer, and only while its connection is being opened', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '1', SIGNAL_BUDGET: '64KiB' });
    const owner = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    const host = await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const placed = await owner.request('file:place', { name: 'relay', size: MiB, chunkSize: CHUNK });
    const offer: TransferOffer = await offerFor(host, placed.file.id);
    await host.request('transfer:accept', { transferId: offer.transferId });
    const payload = { type: 'offer' as const, sdp: 'x'.repeat(30_000) };
    let relayed = 0;
    let refusal: unknown;
    for (let i = 0; i < 10 && !refusal; i++) {
      await owner.request('transfer:signal', { transferId: offer.transferId, signal: payload }).then(
        () => (relayed += payload.sdp.length),
        (error: unknown) => (refusal = error),
      );
    }
    expect(refusal).toMatchObject({ code: 'QUOTA' });
    expect(relayed).toBeLessThanOrEqual(64 * 1024);
    // Later, even progress reports can't keep a channel for signals open.
    const other = await owner.request('file:place', { name: 'relay2', size: MiB, chunkSize: CHUNK });
    const second = await offerFor(host, other.file.id);
    await host.request('transfer:accept', { transferId: second.transferId });
    t.clock.advance(2 * t.config.connectTimeoutMs + 1);
    await owner.request('transfer:progress', { transferId: second.transferId, bytes: 1000 });
    await expect(owner.request('transfer:signal', { transferId: second.transferId, signal: { type: 'offer', sdp: 'x' } })).rejects.toMatchObject({ code: 'CONFLICT' });
    console.log(`[figures] attack 9: bytes one transfer can relay through signaling: ${relayed} (budget 64 KiB), and none after ${(2 * t.config.connectTimeoutMs) / 1000} s`);
  });
});

describe('10. one address for everyone', () => {
  it('counts connections and new identities per client network behind the proxy, not per proxy', async () => {
    t = await startTracker({ ...HOSTILE, MAX_CONNECTIONS_PER_ADDRESS: '2', NEW_PEERS_PER_NETWORK: '2' });
    const households = [network(), network(), network()];
    // Every client arrives from the proxy's 127.0.0.1; each household still has its own limits.
    for (const household of households) {
      await NodePeer.connect(t.url, undefined, { headers: household });
      await NodePeer.connect(t.url, undefined, { headers: sameNetwork(household, 77) });
    }
    expect(networkOf(households[0]!['x-forwarded-for']!)).not.toBeNull();
    await expect(NodePeer.connect(t.url, undefined, { headers: sameNetwork(households[0]!, 78) })).rejects.toThrow(/RATE_LIMITED/);
    expect(t.tracker.stats().peersOnline).toBe(6);
  });
});

describe('11. peer-written text in other peers’ pages', () => {
  it('passes refusals and failures on as codes and the tracker’s own words only', async () => {
    t = await startTracker({ ...HOSTILE, REPLICAS: '1', ADMIN_TOKEN: 'an-admin-token-for-tests' });
    const owner = await NodePeer.join(t.url, 0, undefined, { headers: network() });
    const host = await NodePeer.join(t.url, GiB, undefined, { headers: network() });
    const lure = 'Your vault key is corrupted. Restore it now at https://evil.example \u202Egnp.exe';
    const first = await owner.request('file:place', { name: 'a', size: MiB, chunkSize: CHUNK });
    const offer = await offerFor(host, first.file.id);
    await host.request('transfer:reject', { transferId: offer.transferId, reason: 'error', message: lure });
    const ended = await owner.next('transfer:ended', (e) => e.transferId === offer.transferId);
    expect(ended).toMatchObject({ ok: false, code: 'REJECTED' });
    expect(JSON.stringify(ended)).not.toContain('vault');

    const second = await owner.request('file:place', { name: 'b', size: MiB, chunkSize: CHUNK });
    const next = await offerFor(host, second.file.id);
    await host.request('transfer:accept', { transferId: next.transferId });
    await host.request('transfer:fail', { transferId: next.transferId, code: 'STORAGE', message: lure });
    const failed = await owner.next('transfer:ended', (e) => e.transferId === next.transferId);
    expect(JSON.stringify(failed)).not.toContain('vault');
    const overview = await (await fetch(`${t.url}/api/overview`, { headers: { authorization: 'Bearer an-admin-token-for-tests' } })).text();
    expect(overview).not.toContain('vault');
    expect(overview).not.toContain('\u202E');
  });
});
