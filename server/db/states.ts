/**
 * Named sets of row states, written once: which transfers are still under way, which carry
 * bytes onto a host. Queries and code use these rather than spelling the lists again.
 */
import type { TransferKindColumn, TransferStateColumn } from './schema.ts';

/** A transfer still waiting for an answer or moving bytes. */
export const ACTIVE_TRANSFER_STATES = ['offered', 'open'] as const satisfies readonly TransferStateColumn[];

/** Transfers that fill a replica on a host (from its owner, or from another host). */
export const STORAGE_KINDS = ['store', 'repair'] as const satisfies readonly TransferKindColumn[];

export function isActiveTransfer(state: TransferStateColumn): boolean {
  return (ACTIVE_TRANSFER_STATES as readonly string[]).includes(state);
}

export function isStorageKind(kind: TransferKindColumn): boolean {
  return (STORAGE_KINDS as readonly string[]).includes(kind);
}
