/**
 * Transfers: the tracker's side of every byte movement it brokers but never carries.
 *
 * A transfer joins two peers for one file: the responder (always a host) must accept within
 * ACCEPT_TIMEOUT, then the initiator connects over WebRTC with signals relayed here, and the
 * transfer stays alive while either side reports progress. Its states:
 *
 *   offered ──#open──▶ open ──#endAll(ok)──▶ done
 *      └──────────#endAll(failure)─────────▶ failed
 *
 * Exactly two functions change a transfer's state, `#open` and `#endAll`, each a conditional
 * update, so two racing events (an accept and a timeout, say) can't both win. `#endAll` ends
 * together the transfers that end for one cause (a deleted file's stores, a gone peer's
 * transfers), one of them for a peer's own request. What an ending means for the replicas
 * they were filling is decided in the same transaction (replica-fate.ts); what it means for
 * the files, the owners and the hosts' levels is told to the rest of the tracker as one
 * `transfers:ended` event.
 */
import type { Expression, ExpressionBuilder, SqlBool, Transaction } from 'kysely';
import { blameFor, needsConnectionEvidence, REACHABILITY_WINDOW_MS, type Blame, type EndedTransferFacts } from '../shared/blame.ts';
import { PeercloudError } from '../shared/errors.ts';
import { randomId } from '../shared/encoding.ts';
import type { RejectReason, SignalData, TransferErrorCode, TransferOffer } from '../shared/protocol.ts';
import type { Audits } from './audits.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { AuditRow, Database, FileRow, TransferKindColumn, TransferRow } from './db/schema.ts';
import { ACTIVE_TRANSFER_STATES, isActiveTransfer, isStorageKind } from './db/states.ts';
import type { EndCause, TrackerEvents, TransferEnded, TransferOutcome } from './events.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { fragmentRoot } from './db/fragments.ts';
import { settleReplicasIn } from './replica-fate.ts';
import { dialectOf } from './db/dialect.ts';
import type { Sessions } from './sessions.ts';

type Trx = Transaction<Database>;
export type Effect = () => void | Promise<void>;

/** Which transfers an ending concerns (of those still active): a condition on their rows. */
type Selector = (eb: ExpressionBuilder<Database, 'transfers'>) => Expression<SqlBool>;

interface EndOptions {
  /** A peer that left: its stores' hosts keep what they have of its uploads, for a resume. */
  ownerLeft?: string;
  /** The caller's own reading of the one transfer it ends, ended as read if nothing moved since. */
  known?: TransferRow | undefined;
  /** Whether there is any to end is read first, outside a transaction (an ending that usually finds none). */
  lookFirst?: boolean;
}

/**
 * The most transfers one transaction ends: a peer with thousands of transfers (a hostile one,
 * or a host of many uploads) is ended in several transactions, each holding its rows' locks
 * briefly, never in one that holds them all.
 */
const END_BATCH = 500;

/** What a party gets to read when its transfer ends: the tracker's words, never the other peer's. */
const ENDED_WORDS: Record<TransferErrorCode, string> = {
  PEER_GONE: 'The other peer went offline.',
  TIMEOUT: 'The transfer made no progress for too long.',
  REJECTED: 'The host refused the transfer.',
  INTEGRITY: 'The data did not verify.',
  CONNECTION: 'The two peers could not connect to each other.',
  STORAGE: 'A peer could not read or write its storage.',
  CANCELLED: 'The transfer was cancelled.',
  INTERNAL: 'The transfer failed.',
};

const REJECT_WORDS: Record<RejectReason, string> = {
  no_space: 'The host has no room for it.',
  busy: 'The host is busy with other transfers.',
  quota: 'The host’s browser ran out of storage.',
  error: 'The host could not take it.',
};

export interface NewTransfer {
  kind: TransferKindColumn;
  file: FileRow;
  /** The fragment it moves (what the sender holds or sends). */
  fragment: number;
  /** A repair of a k > 1 file: its group, and the fragment the receiver rebuilds. */
  rebuild?: { group: string; fragment: number };
  sender: string;
  receiver: string;
  /** The side that must accept (a host); the other one starts the connection once it has. */
  responder: string;
  /** A repair: the host whose replica this one replaces. */
  replaces?: string | null;
  /** The file was created in the same transaction (an upload being placed): it has no sealed roots yet. */
  newFile?: boolean;
}

interface Deps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
  sessions: Sessions;
  metrics: Metrics;
  events: TrackerEvents;
  audits: Audits;
}

export class Transfers {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #sessions: Sessions;
  readonly #metrics: Metrics;
  readonly #events: TrackerEvents;
  readonly #audits: Audits;

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#sessions = deps.sessions;
    this.#metrics = deps.metrics;
    this.#events = deps.events;
    this.#audits = deps.audits;
  }

  /**
   * Creates a transfer in the caller's transaction. The returned effect, run once that
   * transaction has committed, asks the responder; if it is offline the transfer fails at once.
   */
  async createIn(trx: Trx, spec: NewTransfer): Promise<{ transfer: TransferRow; offer: Effect }> {
    return (await this.createAllIn(trx, [spec]))[0]!;
  }

  /** Several transfers in one statement (a placement's stores), each with its offer, as createIn. */
  async createAllIn(trx: Trx, specs: readonly NewTransfer[]): Promise<{ transfer: TransferRow; offer: Effect }[]> {
    if (specs.length === 0) return [];
    const created = this.build(specs);
    await trx
      .insertInto('transfers')
      .values(created.map(({ transfer }) => transfer))
      .execute();
    return created;
  }

  /**
   * New transfers' rows, each with its offer to run once they are committed: for a caller that
   * writes them itself (spaceLedger.reserveNewFile, with the file they move).
   */
  build(specs: readonly NewTransfer[]): { transfer: TransferRow; offer: Effect }[] {
    const now = this.#clock.now();
    return specs.map((spec) => {
      const transfer: TransferRow = {
        id: randomId(),
        kind: spec.kind,
        file_id: spec.file.id,
        sender_id: spec.sender,
        receiver_id: spec.receiver,
        responder_id: spec.responder,
        state: 'offered',
        created_at: now,
        updated_at: now,
        expires_at: now + this.#config.acceptTimeoutMs,
        error_code: null,
        error_message: null,
        replaces_host_id: spec.replaces ?? null,
        bytes_reported: 0,
        signal_bytes: 0,
        opened_at: null,
        fragment: spec.fragment,
        group_id: spec.rebuild?.group ?? null,
        rebuild_fragment: spec.rebuild?.fragment ?? null,
      };
      const offer = async () => {
        // A file created in this very transaction has no roots yet: nothing to look up.
        const root = spec.newFile ? null : await fragmentRoot(this.#db, spec.file, transfer.fragment);
        if (!(await this.#sessions.emit(transfer.responder_id, 'transfer:open', toOffer(transfer, spec.file, transfer.responder_id, root)))) {
          await this.#end(transfer.id, { ok: false, code: 'PEER_GONE', message: 'The host went offline.' }, { by: 'tracker', reason: 'peer_gone', goneId: transfer.responder_id });
        }
      };
      return { transfer, offer };
    });
  }

  // ─── Messages from the two peers ────────────────────────────────────────────

  async accept(peerId: string, transferId: string): Promise<void> {
    const transfer = await this.#responderOf(peerId, transferId);
    if (!(await this.#open(transferId))) throw new PeercloudError('CONFLICT', 'This transfer is no longer waiting for an answer.');
    const initiator = transfer.responder_id === transfer.sender_id ? transfer.receiver_id : transfer.sender_id;
    const file = await this.#file(transfer.file_id);
    const root = file ? await fragmentRoot(this.#db, file, transfer.fragment) : null;
    if (!file || !(await this.#sessions.emit(initiator, 'transfer:ready', toOffer(transfer, file, initiator, root)))) {
      await this.#end(transferId, { ok: false, code: 'PEER_GONE', message: 'The other peer went offline before the transfer started.' }, { by: 'tracker', reason: 'peer_gone', goneId: initiator });
    }
  }

  async reject(peerId: string, transferId: string, reason: RejectReason): Promise<void> {
    const transfer = await this.#responderOf(peerId, transferId);
    if (transfer.state !== 'offered') throw new PeercloudError('CONFLICT', 'This transfer is no longer waiting for an answer.');
    await this.#end(transferId, { ok: false, code: 'REJECTED', message: REJECT_WORDS[reason] }, { by: 'peer', peerId, how: 'reject' }, { known: transfer });
  }

  /**
   * Relays a WebRTC signal to the other party. Signaling is for opening a connection, not a
   * data channel through the tracker: a transfer may relay SIGNAL_BUDGET bytes, within twice
   * CONNECT_TIMEOUT of being accepted.
   */
  async signal(peerId: string, transferId: string, signal: SignalData): Promise<void> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (transfer.state !== 'open') throw new PeercloudError('CONFLICT', 'Signals are only relayed while the transfer is open.');
    if (this.#clock.now() > (transfer.opened_at ?? transfer.created_at) + 2 * this.#config.connectTimeoutMs) {
      throw new PeercloudError('CONFLICT', 'This transfer is past the time for opening its connection.');
    }
    const size = JSON.stringify(signal).length;
    const spent = await this.#db
      .updateTable('transfers')
      .set((eb) => ({ signal_bytes: eb('signal_bytes', '+', size) }))
      .where('id', '=', transferId)
      .where('signal_bytes', '<=', this.#config.signalBudget - size)
      .executeTakeFirst();
    if (spent.numUpdatedRows === 0n) throw new PeercloudError('QUOTA', 'This transfer has used up its signaling.');
    const other = transfer.sender_id === peerId ? transfer.receiver_id : transfer.sender_id;
    if (!(await this.#sessions.emit(other, 'transfer:signal', { transferId, signal }))) {
      await this.#end(transferId, { ok: false, code: 'PEER_GONE', message: 'The other peer went offline.' }, { by: 'tracker', reason: 'peer_gone', goneId: other });
      throw new PeercloudError('CONFLICT', 'The other peer of this transfer is offline.');
    }
  }

  /**
   * Bytes are moving: the transfer's expiry moves on (not its state), but only when the count
   * grew, so that a transfer can't be kept open by repeating itself. The count is kept as
   * evidence that the two peers did connect.
   */
  async progress(peerId: string, transferId: string, bytes: number): Promise<void> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (transfer.state !== 'open') throw new PeercloudError('CONFLICT', 'This transfer is not open.');
    const file = await this.#file(transfer.file_id);
    const reported = Math.min(bytes, file?.fragment_bytes ?? 0);
    if (reported <= transfer.bytes_reported) return;
    const now = this.#clock.now();
    await this.#db
      .updateTable('transfers')
      .set({ bytes_reported: reported, updated_at: now, expires_at: now + this.#config.transferIdleTimeoutMs })
      .where('id', '=', transferId)
      .where('state', '=', 'open')
      .where('bytes_reported', '<', reported)
      .execute();
  }

  /**
   * A party gives up. Its own words go to the logs only; the other party reads the tracker's.
   * An owner saying a download's bytes were corrupt is not believed on its word: if the host
   * had accepted (so the two were connected) and it names the chunk, the host is audited on
   * that chunk, and only a failed audit counts as an integrity failure. Bytes reported moving
   * are not asked for: progress is reported once bytes are verified and written, so a host that
   * serves garbage from its first chunk on would otherwise never be audited. An accusation
   * costs an honest host one answer, once per transfer the owner was given.
   */
  async fail(peerId: string, transferId: string, code: TransferErrorCode, message: string, chunk?: number): Promise<void> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (!isActiveTransfer(transfer.state)) throw new PeercloudError('CONFLICT', 'This transfer has already ended.');
    this.#log.info({ event: 'transfer_fail_reported', transferId, peerId, code, chunk, said: message.slice(0, 200) }, 'a peer gave up on a transfer');
    const ended = await this.#end(transferId, { ok: false, code, message: ENDED_WORDS[code] }, { by: 'peer', peerId, how: 'fail' }, { known: transfer });
    // Evidence first: the download was under way (its host accepted), a chunk is named.
    const accusation = ended && code === 'INTEGRITY' && transfer.kind === 'fetch' && peerId === transfer.receiver_id && transfer.state === 'open' && chunk !== undefined;
    if (accusation) await this.#audits.challenge({ fileId: transfer.file_id, hostId: transfer.sender_id, purpose: 'accusation', transferId, chunk });
  }

  /** The receiver of a fetch has all the bytes, verified. */
  async finish(peerId: string, transferId: string): Promise<void> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (transfer.kind !== 'fetch' || transfer.receiver_id !== peerId) throw new PeercloudError('FORBIDDEN', 'Only the receiver of a download can finish it.');
    if (transfer.state !== 'open') throw new PeercloudError('CONFLICT', 'This transfer is not open.');
    await this.#end(transferId, { ok: true }, { by: 'peer', peerId, how: 'finish' }, { known: transfer });
  }

  /**
   * The receiving host wrote and verified every chunk and claims this root. The claim is checked
   * against the owner's seal; until the seal arrives it waits on the replica row. Returns the
   * file's state after the claim was settled (if it could be).
   */
  async claimStored(peerId: string, transferId: string, sha256: string): Promise<{ id: string; state: FileRow['state'] }> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (!isStorageKind(transfer.kind) || transfer.receiver_id !== peerId) {
      throw new PeercloudError('FORBIDDEN', 'Only the host that received this replica can confirm it.');
    }
    if (transfer.state !== 'open') throw new PeercloudError('CONFLICT', 'This transfer is not open.');
    await this.#db.transaction().execute(async (trx) => {
      // Waiting for the owner's seal is progress, not idleness. The transfer's row is locked
      // before the replica's, in the order an ending locks them: on PostgreSQL a claim and an
      // ending of the same transfer then queue, where the other order could deadlock.
      await this.#keepAlive(trx, transferId);
      await trx.updateTable('replicas').set({ sha256 }).where('file_id', '=', transfer.file_id).where('host_id', '=', peerId).where('state', '=', 'reserved').execute();
    });
    const expected = await this.#expectedRoot(transfer);
    if (expected) await this.#settleClaim(transfer, expected, sha256);
    const after = await this.#file(transfer.file_id);
    return { id: transfer.file_id, state: after?.state ?? 'failed' };
  }

  /** The owner sealed the file: settle every host claim that was waiting for it. */
  async sealed(fileId: string): Promise<void> {
    const claims = await this.#db
      .selectFrom('replicas')
      .innerJoin('transfers', (join) => join.onRef('transfers.file_id', '=', 'replicas.file_id').onRef('transfers.receiver_id', '=', 'replicas.host_id'))
      .selectAll('transfers')
      .select('replicas.sha256 as claimed')
      .where('replicas.file_id', '=', fileId)
      .where('replicas.state', '=', 'reserved')
      .where('replicas.sha256', 'is not', null)
      .where('transfers.state', '=', 'open')
      .where('transfers.kind', 'in', ['store', 'repair'])
      .execute();
    for (const { claimed, ...transfer } of claims) {
      const expected = await this.#expectedRoot(transfer);
      if (expected) await this.#settleClaim(transfer, expected, claimed!);
    }
  }

  /** The root the receiver's copy must have: that of the fragment its replica row holds, once sealed. */
  async #expectedRoot(transfer: TransferRow): Promise<string | undefined> {
    const file = await this.#file(transfer.file_id);
    const replica = await this.#db.selectFrom('replicas').select('fragment').where('file_id', '=', transfer.file_id).where('host_id', '=', transfer.receiver_id).executeTakeFirst();
    if (!file || !replica) return undefined;
    return (await fragmentRoot(this.#db, file, replica.fragment)) ?? undefined;
  }

  /**
   * A claim that matches the owner's seal is not yet a replica: the host must first pass an
   * audit of it (a host that never received the bytes cannot), then the transfer is done.
   */
  async #settleClaim(transfer: TransferRow, expected: string, claimed: string): Promise<void> {
    if (expected !== claimed) {
      this.#log.warn({ event: 'replica_mismatch', transferId: transfer.id, fileId: transfer.file_id, hostId: transfer.receiver_id }, 'replica hash mismatch');
      await this.#end(transfer.id, { ok: false, code: 'INTEGRITY', message: 'The stored bytes do not match what the owner sent.' }, { by: 'tracker', reason: 'root_mismatch' });
      return;
    }
    const pending = await this.#db.selectFrom('audits').select('id').where('transfer_id', '=', transfer.id).where('state', '=', 'pending').executeTakeFirst();
    if (pending) return;
    const audit = await this.#audits.challenge({ fileId: transfer.file_id, hostId: transfer.receiver_id, purpose: 'store', transferId: transfer.id });
    // The audit decides how it ends: it must not expire as stalled while the host is being asked.
    if (audit) await this.#db.updateTable('transfers').set({ expires_at: audit.deadline_at + 1_000 }).where('id', '=', transfer.id).where('state', '=', 'open').execute();
    else await this.#end(transfer.id, { ok: false, code: 'PEER_GONE', message: ENDED_WORDS.PEER_GONE }, { by: 'tracker', reason: 'peer_gone', goneId: transfer.receiver_id });
  }

  /** A store's first audit was decided: the transfer ends with it (a rebuild's whole group with it, together). */
  async auditDecided(audit: AuditRow, verdict: 'passed' | 'wrong' | 'unanswered'): Promise<void> {
    if (audit.purpose !== 'store' || !audit.transfer_id) return;
    const transfer = await this.#db.selectFrom('transfers').select(['id', 'group_id']).where('id', '=', audit.transfer_id).executeTakeFirst();
    if (!transfer) return;
    const which: Selector = transfer.group_id ? (eb) => eb('group_id', '=', transfer.group_id) : (eb) => eb('id', '=', transfer.id);
    if (verdict === 'passed') await this.#endAll(which, { ok: true }, { by: 'tracker', reason: 'verified' });
    else {
      const outcome = verdict === 'wrong' ? { code: 'INTEGRITY' as const, message: 'The host could not prove it holds what it confirmed.' } : { code: 'TIMEOUT' as const, message: 'The host did not prove it holds what it confirmed.' };
      await this.#endAll(which, { ok: false, ...outcome }, { by: 'tracker', reason: 'audit_failed' });
    }
  }

  // ─── Endings the tracker decides ────────────────────────────────────────────
  //
  // Each ends all the transfers it concerns together (#endAll): one transaction for a deleted
  // file's stores or a gone peer's transfers, not one per transfer.

  /**
   * A peer's session ended (it went offline, or another tab of it took over): every transfer it
   * was part of ends. Stores it hosted move to other hosts; uploads it owned wait for it.
   */
  async peerGone(peerId: string): Promise<void> {
    await this.#endAll(
      (eb) => eb.or([eb('sender_id', '=', peerId), eb('receiver_id', '=', peerId)]),
      { ok: false, code: 'PEER_GONE', message: ENDED_WORDS.PEER_GONE },
      { by: 'tracker', reason: 'peer_gone', goneId: peerId },
      { ownerLeft: peerId, lookFirst: true },
    );
  }

  /** Ends every active transfer of a file: it is being deleted (Files.delete, its only caller, deletes it next). */
  async cancelFile(fileId: string): Promise<void> {
    await this.#endAll((eb) => eb('file_id', '=', fileId), { ok: false, code: 'CANCELLED', message: 'The owner deleted the file.' }, { by: 'tracker', reason: 'deleted' }, { lookFirst: true });
  }

  /**
   * The sweep: a responder that never answered refused by silence; an open transfer with no
   * progress for TRANSFER_IDLE_TIMEOUT is over. Both release what they reserved. Each ends only
   * if it still is as the ending reads it, in its transaction: a peer may have answered or made
   * progress a moment before.
   */
  async expire(): Promise<number> {
    const now = this.#clock.now();
    // One read for both (the sweep mostly finds none), then each state's ending reads its rows again.
    const states = new Set((await this.#db.selectFrom('transfers').select('state').distinct().where('state', 'in', ACTIVE_TRANSFER_STATES).where('expires_at', '<=', now).execute()).map((row) => row.state));
    let ended = 0;
    if (states.has('offered')) {
      ended += await this.#endAll(
        (eb) => eb.and([eb('state', '=', 'offered'), eb('expires_at', '<=', now)]),
        { ok: false, code: 'TIMEOUT', message: 'The host did not answer in time.' },
        { by: 'tracker', reason: 'unanswered' },
      );
    }
    if (states.has('open')) {
      ended += await this.#endAll(
        (eb) => eb.and([eb('state', '=', 'open'), eb('expires_at', '<=', now)]),
        { ok: false, code: 'TIMEOUT', message: ENDED_WORDS.TIMEOUT },
        { by: 'tracker', reason: 'stalled' },
      );
    }
    return ended;
  }

  /**
   * After a restart nobody is connected, so no transfer can continue: each one is failed and
   * its reservation released. Called before the tracker accepts connections (one tracker).
   */
  async abandonAll(): Promise<number> {
    return this.#endAll((eb) => eb('id', 'is not', null), { ok: false, code: 'CANCELLED', message: 'The tracker restarted.' }, { by: 'tracker', reason: 'restart' }, { lookFirst: true });
  }

  /**
   * The same for the peers of one tracker of several (it restarted, stopped or died): their
   * transfers can't continue, and nobody is to blame for it.
   */
  async abandonOf(peerIds: readonly string[]): Promise<number> {
    let ended = 0;
    for (let at = 0; at < peerIds.length; at += END_BATCH) {
      const some = peerIds.slice(at, at + END_BATCH);
      ended += await this.#endAll(
        (eb) => eb.or([eb('sender_id', 'in', some), eb('receiver_id', 'in', some)]),
        { ok: false, code: 'CANCELLED', message: 'The tracker restarted.' },
        { by: 'tracker', reason: 'restart' },
        { lookFirst: true },
      );
    }
    return ended;
  }

  // ─── The two state changes ──────────────────────────────────────────────────

  /** offered → open, once. */
  async #open(transferId: string): Promise<boolean> {
    const now = this.#clock.now();
    const updated = await this.#db
      .updateTable('transfers')
      .set({ state: 'open', updated_at: now, opened_at: now, expires_at: now + this.#config.transferIdleTimeoutMs })
      .where('id', '=', transferId)
      .where('state', '=', 'offered')
      .executeTakeFirst();
    return updated.numUpdatedRows > 0n;
  }

  /**
   * Ends an active transfer once (#endAll of one). False when it had already ended.
   */
  async #end(transferId: string, outcome: TransferOutcome, cause: EndCause, options: EndOptions = {}): Promise<boolean> {
    return (await this.#endAll((eb) => eb('id', '=', transferId), outcome, cause, options)) > 0;
  }

  /**
   * Ends the active transfers `which` selects, each once, with one outcome and for one cause:
   * records the outcome and settles the replicas they were filling in one transaction per
   * END_BATCH of them, then tells the peers and the rest of the tracker. Returns how many it
   * ended (a transfer another request ended first is not counted, nor told of twice).
   *
   * The rows are read in the transaction that ends them, in id order and on PostgreSQL locked
   * as they are read (for no key update: the update's own strength, which doesn't wait for rows
   * that merely refer to a transfer), so that two trackers ending overlapping sets (a file
   * deleted while its host leaves) never wait for each other in a cycle, and the second one to
   * come reads them ended and does nothing. A peer with many transfers costs several
   * transactions of END_BATCH, never one unbounded one.
   */
  async #endAll(which: Selector, outcome: TransferOutcome, cause: EndCause, options: EndOptions = {}): Promise<number> {
    // Most peers that leave, and most files deleted, have no transfer under way: one read says
    // so, where a transaction would take three statements to find nothing.
    if (options.lookFirst && !(await this.#db.selectFrom('transfers').select('id').where('state', 'in', ACTIVE_TRANSFER_STATES).where(which).limit(1).executeTakeFirst())) return 0;
    let ended = 0;
    for (;;) {
      const batch = await this.#endBatch(which, outcome, cause, options);
      ended += batch.ended;
      // Fewer than a batch read: none left. (None ended of a full batch would only loop.)
      if (batch.read < END_BATCH || batch.ended === 0) return ended;
      // The caller's own reading is of one transfer: it was in the first batch.
      options = { ...options, known: undefined };
    }
  }

  async #endBatch(which: Selector, outcome: TransferOutcome, cause: EndCause, options: EndOptions): Promise<{ read: number; ended: number }> {
    const now = this.#clock.now();
    const state = outcome.ok ? ('done' as const) : ('failed' as const);
    const ending = { state, updated_at: now, error_code: outcome.ok ? null : outcome.code, error_message: outcome.ok ? null : outcome.message };
    const result = await this.#db.transaction().execute(async (trx) => {
      // The caller's own reading of the transfer (a peer's request read it to check the peer's
      // part in it) is ended as read, in one conditional update, if nothing an ending decides on
      // moved since: its state, the bytes reported, its expiry. Otherwise it is read again.
      const known = options.known && isActiveTransfer(options.known.state) ? await this.#endAsReadIn(trx, options.known, ending) : undefined;
      let transfers: TransferRow[];
      let read: number;
      if (known) {
        transfers = [known];
        read = 1;
      } else {
        const rows = await trx
          .selectFrom('transfers')
          .selectAll()
          .where('state', 'in', ACTIVE_TRANSFER_STATES)
          .where(which)
          .orderBy('id')
          .limit(END_BATCH)
          .$if(dialectOf(trx) === 'postgres', (qb) => qb.forNoKeyUpdate())
          .execute();
        read = rows.length;
        if (rows.length === 0) return { read, endings: [] as TransferEnded[], fate: undefined };
        // One conditional update decides who ends them: each only in the state it was read in
        // (locked on PostgreSQL, so all of them; the condition is what makes it so elsewhere).
        const offered = rows.filter((row) => row.state === 'offered').map((row) => row.id);
        const open = rows.filter((row) => row.state === 'open').map((row) => row.id);
        const updated = await trx
          .updateTable('transfers')
          .set(ending)
          .where((eb) =>
            eb.or([
              ...(offered.length > 0 ? [eb.and([eb('id', 'in', offered), eb('state', '=', 'offered')])] : []),
              ...(open.length > 0 ? [eb.and([eb('id', 'in', open), eb('state', '=', 'open')])] : []),
            ]),
          )
          .returning('id')
          .execute();
        const won = new Set(updated.map((row) => row.id));
        transfers = rows.filter((row) => won.has(row.id));
        if (transfers.length === 0) return { read, endings: [] as TransferEnded[], fate: undefined };
      }
      const endings: TransferEnded[] = [];
      // Whether a store's owner is online: asked once per owner.
      const online = new Map<string, boolean>();
      for (const transfer of transfers) {
        let blames: Blame[] = [];
        if (!outcome.ok) {
          const facts: EndedTransferFacts = {
            kind: transfer.kind,
            senderId: transfer.sender_id,
            receiverId: transfer.receiver_id,
            responderId: transfer.responder_id,
            code: outcome.code,
            state: transfer.state === 'offered' ? 'offered' : 'open',
            bytesReported: transfer.bytes_reported,
            cause,
          };
          if (needsConnectionEvidence(facts)) facts.connection = await connectionEvidence(trx, transfer, now);
          blames = blameFor(facts);
        }
        // The owner left mid-upload: the host keeps what it has, so that the owner can resume there.
        let ownerLeft = false;
        if (transfer.kind === 'store') {
          if (options.ownerLeft === transfer.sender_id) ownerLeft = true;
          else {
            if (!online.has(transfer.sender_id)) online.set(transfer.sender_id, await this.#sessions.isOnline(transfer.sender_id, trx));
            ownerLeft = !online.get(transfer.sender_id);
          }
        }
        endings.push({ transfer, outcome, cause, blames, ownerLeft, bytes: 0 });
      }
      // The bytes moved (only a transfer that ended well moved any: what the metrics count).
      if (outcome.ok) {
        const files = await trx.selectFrom('files').select(['id', 'fragment_bytes']).where('id', 'in', [...new Set(transfers.map((transfer) => transfer.file_id))]).execute();
        const bytes = new Map(files.map((file) => [file.id, file.fragment_bytes]));
        for (const ended of endings) ended.bytes = bytes.get(ended.transfer.file_id) ?? 0;
      }
      // Last before the commit: a release or promotion holds the host's row until then, and any
      // placement to that host waits for it.
      const fate = await settleReplicasIn(trx, { endings, outcome, now });
      return { read, endings, fate };
    });
    const { endings, fate } = result;
    if (!fate || endings.length === 0) return { read: result.read, ended: 0 };
    for (const [hostId, fileIds] of fate.drops) void this.#sessions.emit(hostId, 'replica:drop', { fileIds });

    for (const { transfer, bytes } of endings) {
      this.#metrics.transfers.inc({ kind: transfer.kind, outcome: outcome.ok ? 'done' : outcome.code });
      if (outcome.ok) this.#metrics.transferBytes.inc({ kind: transfer.kind }, bytes);
      if (transfer.kind === 'repair') this.#metrics.repairs.inc({ outcome: outcome.ok ? 'done' : 'failed' });
      const ended = outcome.ok
        ? { transferId: transfer.id, fileId: transfer.file_id, kind: transfer.kind, ok: true as const }
        : { transferId: transfer.id, fileId: transfer.file_id, kind: transfer.kind, ok: false as const, code: outcome.code, message: outcome.message };
      void this.#sessions.emit(transfer.sender_id, 'transfer:ended', ended);
      void this.#sessions.emit(transfer.receiver_id, 'transfer:ended', ended);
      // A cancellation (an owner giving up its upload, a deleted file) is nobody's failure: not a warning.
      const warn = !outcome.ok && outcome.code !== 'CANCELLED';
      (warn ? this.#log.warn : this.#log.info).call(
        this.#log,
        { event: 'transfer_end', transferId: transfer.id, kind: transfer.kind, fileId: transfer.file_id, senderId: transfer.sender_id, receiverId: transfer.receiver_id, ...outcome, cause },
        outcome.ok ? 'transfer done' : outcome.code === 'CANCELLED' ? 'transfer cancelled' : 'transfer failed',
      );
    }

    await this.#events.emit('transfers:ended', { endings });
    // A rebuild needs all of its k sources: one failing ends the others (a group's own ending
    // already took all of them).
    const groups = outcome.ok || (cause.by === 'tracker' && cause.reason === 'group_failed') ? [] : [...new Set(endings.flatMap(({ transfer }) => (transfer.group_id ? [transfer.group_id] : [])))];
    if (groups.length > 0) {
      await this.#endAll((eb) => eb('group_id', 'in', groups), { ok: false, code: 'CANCELLED', message: 'Another source of this repair failed.' }, { by: 'tracker', reason: 'group_failed' }, { lookFirst: true });
    }
    // The hosts' refreshes together: they share one statement (peers.ts), where one after the
    // other a deleted file's eight hosts cost eight statements and eight turns in a row.
    await runTogether([...fate.spaceChanged].map((hostId) => () => this.#events.emit('host:space', { hostId })));
    for (const fileId of fate.filesChanged) await this.#events.emit('file:changed', { fileId });
    return { read: result.read, ended: endings.length };
  }

  /** Ends the transfer as the caller read it, if it still is so: the row as read, or undefined. */
  async #endAsReadIn(trx: Trx, known: TransferRow, ending: Pick<TransferRow, 'state' | 'updated_at' | 'error_code' | 'error_message'>): Promise<TransferRow | undefined> {
    const ended = await trx
      .updateTable('transfers')
      .set(ending)
      .where('id', '=', known.id)
      .where('state', '=', known.state)
      .where('bytes_reported', '=', known.bytes_reported)
      .where('expires_at', '=', known.expires_at)
      .executeTakeFirst();
    return ended.numUpdatedRows > 0n ? known : undefined;
  }

  // ─── Helpers ────────────────────────────────────────────────────────────────

  async #keepAlive(db: Db | Trx, transferId: string): Promise<void> {
    const now = this.#clock.now();
    await db.updateTable('transfers').set({ updated_at: now, expires_at: now + this.#config.transferIdleTimeoutMs }).where('id', '=', transferId).where('state', '=', 'open').execute();
  }

  async #file(fileId: string): Promise<FileRow | undefined> {
    return this.#db.selectFrom('files').selectAll().where('id', '=', fileId).executeTakeFirst();
  }

  async #partyOf(peerId: string, transferId: string): Promise<TransferRow> {
    const transfer = await this.#db.selectFrom('transfers').selectAll().where('id', '=', transferId).executeTakeFirst();
    if (!transfer) throw new PeercloudError('NOT_FOUND', 'No such transfer.');
    if (transfer.sender_id !== peerId && transfer.receiver_id !== peerId) throw new PeercloudError('FORBIDDEN', 'This transfer is between other peers.');
    return transfer;
  }

  async #responderOf(peerId: string, transferId: string): Promise<TransferRow> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (transfer.responder_id !== peerId) throw new PeercloudError('FORBIDDEN', 'Only the host asked can answer this transfer.');
    return transfer;
  }
}

/** What the tracker's own records say of two peers that could not connect (see shared/blame.ts). */
async function connectionEvidence(trx: Trx, transfer: TransferRow, now: number): Promise<NonNullable<EndedTransferFacts['connection']>> {
  const a = transfer.sender_id;
  const b = transfer.receiver_id;
  const connectedElsewhere = async (peer: string, other: string) => {
    const done = await trx
      .selectFrom('transfers')
      .select('id')
      .where('state', '=', 'done')
      .where('updated_at', '>', now - REACHABILITY_WINDOW_MS)
      .where((eb) =>
        eb.or([eb.and([eb('sender_id', '=', peer), eb('receiver_id', '!=', other)]), eb.and([eb('receiver_id', '=', peer), eb('sender_id', '!=', other)])]),
      )
      .limit(1)
      .executeTakeFirst();
    return done !== undefined;
  };
  const before = await trx
    .selectFrom('transfers')
    .select('id')
    .where('state', '=', 'failed')
    .where('error_code', '=', 'CONNECTION')
    .where('id', '!=', transfer.id)
    .where('updated_at', '>', now - 24 * 3_600_000)
    .where((eb) => eb.or([eb.and([eb('sender_id', '=', a), eb('receiver_id', '=', b)]), eb.and([eb('sender_id', '=', b), eb('receiver_id', '=', a)])]))
    .limit(1)
    .executeTakeFirst();
  return { connectedElsewhere: { [a]: await connectedElsewhere(a, b), [b]: await connectedElsewhere(b, a) }, pairFailedBefore: before !== undefined };
}

export function toOffer(transfer: TransferRow, file: FileRow, forPeer: string, root: string | null): TransferOffer {
  const role = transfer.sender_id === forPeer ? 'sender' : 'receiver';
  // A store's receiver learns the root only from what it receives: told it in advance, a host
  // could confirm a copy it never took. The owner reading its own file, and a host rebuilding a
  // fragment from others (it checks every piece it is sent against its source's root), are told.
  const told = role === 'sender' || transfer.kind === 'fetch' || transfer.group_id !== null;
  return {
    transferId: transfer.id,
    kind: transfer.kind,
    role,
    fileId: file.id,
    size: file.size,
    chunkSize: file.chunk_size,
    bytes: file.fragment_bytes,
    sha256: told ? root : null,
    k: file.scheme_k,
    n: file.replicas_wanted,
    fragment: transfer.fragment,
    ...(transfer.group_id !== null && transfer.rebuild_fragment !== null ? { rebuild: { group: transfer.group_id, fragment: transfer.rebuild_fragment, sources: file.scheme_k } } : {}),
  };
}

export async function runEffects(effects: Effect[]): Promise<void> {
  for (const effect of effects) await effect();
}

/**
 * Effects independent of each other (offers to different hosts), run at once: an offer to a
 * host on another tracker waits for that tracker's answer, and one after the other those waits
 * added up before the requester's ack. Each peer still gets its own events in order
 * (Sessions.emit). Once all have run, the first failure is rethrown.
 */
export async function runTogether(effects: readonly Effect[]): Promise<void> {
  const results = await Promise.allSettled(effects.map(async (effect) => effect()));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}
