/**
 * What the end of a transfer means for the replica it was filling or reading, decided in the
 * transaction that ends it: a verified store becomes a stored replica; a failed one releases
 * its reservation, unless its owner left mid-upload (the host keeps the part it has for a
 * resume); a repair that succeeded retires the copy it replaces (not counted any more, but
 * kept on the books in case its host comes back with it and proves it: see inventory.ts).
 */
import type { Transaction } from 'kysely';
import type { TransferErrorCode } from '../shared/protocol.ts';
import { groupBy } from '../shared/grouping.ts';
import type { Database, TransferRow } from './db/schema.ts';
import { isStorageKind } from './db/states.ts';
import type { TransferOutcome } from './events.ts';
import { spaceLedger } from './space-ledger.ts';

/** Failures that say nothing against the host: its partial replica may be resumed. */
const RESUMABLE = new Set<TransferErrorCode>(['PEER_GONE', 'CONNECTION', 'TIMEOUT', 'CANCELLED']);

export interface ReplicaFate {
  /** Hosts to tell, once committed, to delete what they hold of these files (one message per host). */
  drops: Map<string, string[]>;
  /** Hosts whose space counters moved. */
  spaceChanged: Set<string>;
  /** Files whose owner should hear of it (an upload's store transfers are told by its settling instead). */
  filesChanged: Set<string>;
}

/** A transfer just ended, as its ending read it: whether a store's owner had left with it. */
export interface EndedInTrx {
  transfer: TransferRow;
  ownerLeft: boolean;
}

/**
 * The replicas of transfers that ended together with one outcome (one, or a deleted file's
 * stores, a gone peer's, the sweep's expiries). Verified ones are promoted one by one (an
 * ending that went well is one transfer, or one rebuild's group); the reservations of failed
 * ones are released together, in a few statements whatever their number (spaceLedger.releaseAll).
 * Last before the commit, as the caller calls it: a release or promotion holds the host's row
 * until then, and any placement to that host waits for it.
 */
export async function settleReplicasIn(trx: Transaction<Database>, ended: { endings: readonly EndedInTrx[]; outcome: TransferOutcome; now: number }): Promise<ReplicaFate> {
  const { endings, outcome, now } = ended;
  const spaceChanged = new Set<string>();
  const filesChanged = new Set<string>();
  const releases: { fileId: string; hostId: string }[] = [];
  for (const { transfer, ownerLeft } of endings) {
    if (!isStorageKind(transfer.kind)) continue;
    const fileId = transfer.file_id;
    if (transfer.kind === 'repair') filesChanged.add(fileId);
    spaceChanged.add(transfer.receiver_id);
    if (outcome.ok) {
      await spaceLedger.promote(trx, fileId, transfer.receiver_id, now);
      // A repair done: the file is whole again, and the replica it replaces is retired.
      if (transfer.kind === 'repair') {
        await trx.updateTable('files').set({ repaired_at: now }).where('id', '=', fileId).execute();
        if (transfer.replaces_host_id) {
          await trx.updateTable('replicas').set({ retired_at: now }).where('file_id', '=', fileId).where('host_id', '=', transfer.replaces_host_id).where('retired_at', 'is', null).execute();
        }
      }
    } else if (!(transfer.kind === 'store' && ownerLeft && RESUMABLE.has(outcome.code))) {
      releases.push({ fileId, hostId: transfer.receiver_id });
    }
  }
  // Nothing released (another request did, or the copy was found stored meanwhile): the host keeps what it has.
  const drops = groupBy(await spaceLedger.releaseAll(trx, releases), (released) => released.hostId, (released) => released.fileId);
  return { drops, spaceChanged, filesChanged };
}
