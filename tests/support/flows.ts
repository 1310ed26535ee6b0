/**
 * The store protocol played by Node peers, for tests of the tracker alone: the owner
 * places, each host accepts and confirms a root hash, the owner seals.
 */
import { expect } from 'vitest';
import type { FileSummary, TransferOffer } from '../../shared/protocol.ts';
import { rootOf, TEST_CHUNK } from './fake-replica.ts';
import type { NodePeer } from './node-peer.ts';

export { rootOf } from './fake-replica.ts';
export const CHUNK = TEST_CHUNK;

/** Waits for the transfer:open a host receives for this file. */
export function offerFor(host: NodePeer, fileId: string): Promise<TransferOffer> {
  return host.next('transfer:open', (offer) => offer.fileId === fileId);
}

/**
 * The host among `hosts` the tracker offered this transfer to, once its offer has arrived: it
 * comes on the host's socket, not the requester's, so it may arrive after the answer that named
 * the transfer.
 */
export async function offeredTo(hosts: readonly NodePeer[], transferId: string): Promise<NodePeer> {
  let offered: NodePeer | undefined;
  await expect.poll(() => (offered = hosts.find((host) => host.peek('transfer:open', (offer) => offer.transferId === transferId)))).toBeDefined();
  return offered!;
}

/**
 * Places a file and has every offered host among `hosts` accept and store it; the tracker's
 * audit of each new copy is answered by the hosts themselves (NodePeer).
 */
export async function storeFile(owner: NodePeer, hosts: NodePeer[], name: string, size: number): Promise<{ file: FileSummary; holders: NodePeer[] }> {
  const root = await rootOf(size);
  const placed = await owner.request('file:place', { name, size, chunkSize: CHUNK });
  const isOurs = (o: TransferOffer) => o.fileId === placed.file.id;
  // The answer says how many hosts were asked; wait until that many have heard.
  await expect.poll(() => hosts.filter((host) => host.peek('transfer:open', isOurs)).length).toBe(placed.transferIds.length);
  const holders = hosts.filter((host) => host.peek('transfer:open', isOurs));
  for (const host of holders) {
    const offer = await host.next('transfer:open', isOurs);
    await host.request('transfer:accept', { transferId: offer.transferId });
    const ready = await owner.next('transfer:ready', (r) => r.transferId === offer.transferId);
    expect(ready.role).toBe('sender');
    await host.request('replica:stored', { transferId: offer.transferId, sha256: root });
  }
  await owner.request('file:seal', { fileId: placed.file.id, sha256: root });
  const file = await owner.next('file:updated', (f) => f.id === placed.file.id && f.state !== 'uploading');
  return { file, holders };
}
