/**
 * What the end of a transfer means for the replica it was filling or reading, decided in the
 * transaction that ends it: a verified store becomes a stored replica; a failed one releases
 * its reservation, unless its owner left mid-upload (the host keeps the part it has for a
 * resume); a repair that succeeded retires the copy it replaces (not counted any more, but
 * kept on the books in case its host comes back with it and proves it: see inventory.ts).
 */
import type { Transaction } from 'kysely';
import type { TransferErrorCode } from '../shared/protocol.ts';
import type { Database, TransferRow } from './db/schema.ts';
import { isStorageKind } from './db/states.ts';
import type { TransferOutcome } from './events.ts';
import { spaceLedger } from './space-ledger.ts';

/** Failures that say nothing against the host: its partial replica may be resumed. */
const RESUMABLE = new Set<TransferErrorCode>(['PEER_GONE', 'CONNECTION', 'TIMEOUT', 'CANCELLED']);

export interface ReplicaFate {
  /** Hosts to tell, once committed, to delete what they hold of the file. */
  drops: { hostId: string; fileId: string }[];
  /** Hosts whose space counters moved. */
  spaceChanged: string[];
  /** Whether the file's owner should hear of it (an upload's store transfers are told by its settling instead). */
  fileChanged: boolean;
}

export async function settleReplicaIn(
  trx: Transaction<Database>,
  ended: { transfer: TransferRow; outcome: TransferOutcome; ownerLeft: boolean; now: number },
): Promise<ReplicaFate> {
  const { transfer, outcome, ownerLeft, now } = ended;
  const fate: ReplicaFate = { drops: [], spaceChanged: [], fileChanged: false };
  const fileId = transfer.file_id;

  if (isStorageKind(transfer.kind)) {
    fate.fileChanged = transfer.kind === 'repair';
    fate.spaceChanged.push(transfer.receiver_id);
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
      // Nothing released (another request did, or the copy was found stored meanwhile): the host keeps what it has.
      if (await spaceLedger.release(trx, fileId, transfer.receiver_id)) fate.drops.push({ hostId: transfer.receiver_id, fileId });
    }
  }
  return fate;
}
