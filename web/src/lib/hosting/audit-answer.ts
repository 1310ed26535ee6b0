/**
 * A host's answer to the tracker's audit: the block asked for, read back from storage, with
 * the hashes that lead from it to the replica's root (shared/merkle.ts). It can only be made by
 * holding the block, which is the point; reading it back also checks what the disk kept.
 */
import { fromHex, toHex } from '../../../../shared/encoding.ts';
import type { ServerEvent } from '../../../../shared/protocol.ts';
import { proveBlock } from '../crypto/digests.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import type { HostedChunk, HostedReplica } from '../storage/browser-db.ts';

export interface AuditedStore {
  replica(fileId: string): Promise<HostedReplica | undefined>;
  chunks(fileId: string, indexes: number[]): Promise<(HostedChunk | undefined)[]>;
}

/**
 * Answers one audit. A replica not held here, or not whole, gets no answer: silence is what the
 * tracker would conclude anyway, and it says so in its own time.
 */
export async function answerAudit(tracker: Pick<TrackerClient, 'request'>, store: AuditedStore, challenge: ServerEvent<'audit:challenge'>): Promise<boolean> {
  const replica = await store.replica(challenge.fileId);
  if (!replica || replica.state !== 'stored' || challenge.chunk >= replica.chunkCount) return false;
  const chunks = await store.chunks(
    challenge.fileId,
    Array.from({ length: replica.chunkCount }, (_, index) => index),
  );
  if (chunks.some((chunk) => !chunk)) return false;
  const bytes = new Uint8Array(await chunks[challenge.chunk]!.data.arrayBuffer());
  const proof = await proveBlock(
    bytes,
    challenge.block,
    challenge.chunk,
    chunks.map((chunk) => fromHex(chunk!.sha256)),
  );
  const { passed } = await tracker.request('audit:answer', {
    auditId: challenge.auditId,
    block: proof.block,
    blockPath: proof.blockPath.map(toHex),
    chunkPath: proof.chunkPath.map(toHex),
  });
  return passed;
}
