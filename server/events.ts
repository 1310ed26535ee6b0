/**
 * What the tracker's services tell each other, typed and wired in one place (tracker.ts):
 * a service announces what happened and never reaches into another one's setters. Listeners
 * run one after the other and are awaited, so that a request's answer follows everything it
 * caused (the tests and the owners' pages rely on that order).
 */
import type { Blame } from '../shared/blame.ts';
import type { TransferErrorCode } from '../shared/protocol.ts';
import type { AuditRow, TransferRow } from './db/schema.ts';

export type TransferOutcome = { ok: true } | { ok: false; code: TransferErrorCode; message: string };

/** Who or what ended a transfer: the evidence blame is decided on. */
export type EndCause =
  | { by: 'peer'; peerId: string; how: 'reject' | 'fail' | 'finish' | 'stored' }
  | { by: 'tracker'; reason: 'unanswered' | 'stalled' | 'peer_gone' | 'deleted' | 'restart' | 'root_mismatch' | 'verified' | 'audit_failed' | 'group_failed'; goneId?: string };

export interface TransferEnded {
  /** The transfer as it was just before it ended (its state tells how far it got). */
  transfer: TransferRow;
  outcome: TransferOutcome;
  cause: EndCause;
  /** What it counts against, if anything (shared/blame.ts). */
  blames: Blame[];
  /** A store whose owner had left: its partial replica waits for a resume. */
  ownerLeft: boolean;
  /** Bytes of the replica concerned when the transfer ended well (the bytes it moved); 0 when it failed. */
  bytes: number;
}

export interface TrackerEventMap {
  /**
   * Transfers that ended together, for one cause and with one outcome (one transfer, or a
   * deleted file's stores, a gone peer's transfers, the sweep's expiries): one event, so that
   * what concerns a whole upload (its settling) is done once for it, not once per store.
   */
  'transfers:ended': { endings: readonly TransferEnded[] };
  /** A file's replicas or pending transfers changed: its owner should hear of it. */
  'file:changed': { fileId: string };
  /** An audit was decided (once). */
  'audit:decided': { audit: AuditRow; verdict: 'passed' | 'wrong' | 'unanswered' };
  /** A peer came or went: the owners of what it hosts see their files' availability change. */
  'peer:presence': { peerId: string };
  /** A host's space counters moved (a reservation, a verified replica, a drop): it should hear its new status. */
  'host:space': { hostId: string };
}

type Listener<K extends keyof TrackerEventMap> = (payload: TrackerEventMap[K]) => void | Promise<void>;

export class TrackerEvents {
  readonly #listeners: { [K in keyof TrackerEventMap]?: Listener<K>[] } = {};

  on<K extends keyof TrackerEventMap>(name: K, listener: Listener<K>): void {
    ((this.#listeners[name] ??= []) as Listener<K>[]).push(listener);
  }

  /** Runs every listener in the order they were wired; the first failure is rethrown once all ran. */
  async emit<K extends keyof TrackerEventMap>(name: K, payload: TrackerEventMap[K]): Promise<void> {
    const failures: unknown[] = [];
    for (const listener of (this.#listeners[name] ?? []) as Listener<K>[]) {
      await Promise.resolve()
        .then(() => listener(payload))
        .catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw failures[0];
  }
}
