/**
 * Transfers: the tracker's side of every byte movement it brokers but never carries.
 *
 * A transfer joins two peers for one file: the responder (always a host) must accept
 * within ACCEPT_TIMEOUT, then the initiator connects over WebRTC with signals relayed
 * here, and the transfer stays alive while either side reports progress. Its states:
 *
 *   offered ──accept──▶ open ──replica:stored / transfer:finish──▶ done
 *      └──reject / timeout / peer gone / fail──────────────────────▶ failed
 *
 * Every state change goes through `#end` or a conditional update, so two racing events
 * (an accept and a timeout, say) can't both win. A store transfer reserves the host's
 * space when it is placed; the reservation becomes use when the host's verified hash
 * matches the owner's seal, and is released on any failure.
 */
import type { Transaction } from 'kysely';
import { PeercloudError } from '../shared/errors.ts';
import { randomId } from '../shared/encoding.ts';
import { chooseHosts, compareCandidates, type HostCandidate, type PlacementRequest } from '../shared/placement.ts';
import { RELIABILITY_WINDOW_MS } from '../shared/reliability.ts';
import type { RejectReason, SignalData, TransferErrorCode, TransferOffer } from '../shared/protocol.ts';
import { formatBytes } from '../shared/units.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { Database, FileRow, TransferKindColumn, TransferRow } from './db/schema.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { PeerService } from './peers.ts';
import type { Sessions } from './sessions.ts';

type Trx = Transaction<Database>;
export type Effect = () => void | Promise<void>;

const ACTIVE = ['offered', 'open'] as const;

/** Failures that say nothing against the host: its partial replica may be resumed. */
const RESUMABLE = new Set<TransferErrorCode>(['PEER_GONE', 'CONNECTION', 'TIMEOUT', 'CANCELLED']);

export type TransferOutcome = { ok: true } | { ok: false; code: TransferErrorCode; message: string };

export interface TransferEvents {
  /** A file's replicas or pending transfers changed: its owner should hear of it. */
  fileChanged(fileId: string): Promise<void>;
}

interface Deps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
  sessions: Sessions;
  peers: PeerService;
  metrics: Metrics;
}

export class TransferService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #sessions: Sessions;
  readonly #peers: PeerService;
  readonly #metrics: Metrics;
  #events: TransferEvents = { fileChanged: async () => {} };

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#sessions = deps.sessions;
    this.#peers = deps.peers;
    this.#metrics = deps.metrics;
  }

  /** Wired by the tracker once the file service exists (they know of each other). */
  setEvents(events: TransferEvents): void {
    this.#events = events;
  }

  // ─── Placement ──────────────────────────────────────────────────────────────

  /**
   * Chooses hosts for up to `count` more replicas of the file by the placement rules,
   * reserves their space and opens a store transfer to each, all in the caller's
   * transaction so that concurrent uploads can't promise the same bytes twice.
   * Returns the transfers opened and the effects to run once the transaction commits.
   */
  async placeIn(
    trx: Trx,
    file: FileRow,
    count: number,
    /** A repair: the new replica is copied from `source`'s, replacing `replaces`'s. */
    repair?: { source: string; replaces: string | null },
  ): Promise<{ transfers: TransferRow[]; effects: Effect[] }> {
    const owner = await trx.selectFrom('peers').select(['id', 'level']).where('id', '=', file.owner_id).executeTakeFirstOrThrow();
    const candidates = await trx
      .selectFrom('peers')
      .select(['id', 'level', (eb) => eb(eb('capacity', '-', eb.ref('bytes_used')), '-', eb.ref('bytes_reserved')).as('free')])
      .where('online', '=', 1)
      .where('id', '!=', file.owner_id)
      // A host caught serving corrupt data too often is trusted with nothing new.
      .where((eb) =>
        eb(
          eb
            .selectFrom('peer_events')
            .select(eb.fn.countAll<number>().as('n'))
            .whereRef('peer_events.peer_id', '=', 'peers.id')
            .where('peer_events.kind', '=', 'integrity_failure')
            .where('peer_events.at', '>', this.#clock.now() - RELIABILITY_WINDOW_MS),
          '<',
          this.#config.integrityExclusion,
        ),
      )
      // A host holds at most one replica of a file, and a host that failed this file isn't asked again.
      .where('id', 'not in', (eb) => eb.selectFrom('replicas').select('host_id').where('file_id', '=', file.id))
      .where('id', 'not in', (eb) => eb.selectFrom('transfers').select('receiver_id').where('file_id', '=', file.id).where('kind', 'in', ['store', 'repair']).where('state', '=', 'failed'))
      .execute();
    const chosen = await this.#reserveHosts(
      trx,
      { uploaderId: owner.id, uploaderLevel: owner.level, bytes: file.stored_bytes, replicas: count },
      candidates.map((c) => ({ id: c.id, level: c.level, free: Number(c.free) })),
    );
    const now = this.#clock.now();
    const transfers: TransferRow[] = [];
    const effects: Effect[] = [];
    for (const host of chosen) {
      await trx.insertInto('replicas').values({ file_id: file.id, host_id: host.id, state: 'reserved', bytes: file.stored_bytes, sha256: null, created_at: now, stored_at: null }).execute();
      const transfer = await this.#insert(trx, {
        kind: repair ? 'repair' : 'store',
        file,
        sender: repair?.source ?? file.owner_id,
        receiver: host.id,
        responder: host.id,
        replaces: repair?.replaces ?? null,
      });
      transfers.push(transfer);
      this.#metrics.placements.inc({ kind: transfer.kind });
      this.#log.info(
        { event: 'placement', kind: transfer.kind, fileId: file.id, ownerId: owner.id, ownerLevel: owner.level, hostId: host.id, hostLevel: host.level, hostFree: host.free, bytes: file.stored_bytes },
        'replica placed',
      );
      effects.push(() => this.#offer(transfer, file), () => this.#peers.refresh(host.id).then(() => undefined));
    }
    return { transfers, effects };
  }

  /**
   * Reserves the space of the hosts the placement rules choose, best first. Each reservation is
   * a conditional update that re-checks the host's free space as it locks the host's row: the
   * candidates were read without locks, and on PostgreSQL (READ COMMITTED, many connections)
   * another placement may have taken that space since; such a host is replaced by the next
   * candidate. Rows are locked in id order, so that two placements can't deadlock on two hosts.
   */
  async #reserveHosts(trx: Trx, request: PlacementRequest, candidates: HostCandidate[]): Promise<HostCandidate[]> {
    const reserved: HostCandidate[] = [];
    let left = candidates;
    while (reserved.length < request.replicas) {
      const chosen = chooseHosts({ ...request, replicas: request.replicas - reserved.length }, left);
      if (chosen.length === 0) break;
      for (const host of [...chosen].sort((a, b) => (a.id < b.id ? -1 : 1))) {
        const updated = await trx
          .updateTable('peers')
          .set((eb) => ({ bytes_reserved: eb('bytes_reserved', '+', request.bytes) }))
          .where('id', '=', host.id)
          .where((eb) => eb(eb(eb('capacity', '-', eb.ref('bytes_used')), '-', eb.ref('bytes_reserved')), '>=', request.bytes))
          .executeTakeFirst();
        if (updated.numUpdatedRows > 0n) reserved.push(host);
      }
      left = left.filter((candidate) => !chosen.includes(candidate));
    }
    return reserved.sort(compareCandidates(request.uploaderLevel));
  }

  /** A person-readable reason why no host could take `bytes`. */
  async noHostMessage(ownerId: string, bytes: number): Promise<string> {
    const others = await this.#db
      .selectFrom('peers')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max(eb(eb('capacity', '-', eb.ref('bytes_used')), '-', eb.ref('bytes_reserved'))).as('largest')])
      .where('online', '=', 1)
      .where('id', '!=', ownerId)
      .executeTakeFirstOrThrow();
    if (Number(others.n) === 0) return 'No other peer is online to store this file. Try again when another peer has joined.';
    const largest = Math.max(0, Number(others.largest ?? 0));
    return `Not enough space: this file needs ${formatBytes(bytes)} and the most any online peer has free is ${formatBytes(largest)}.`;
  }

  /** Places one more replica after a failed store, if a host is left and the owner is still there. */
  async replace(fileId: string): Promise<void> {
    const effects = await this.#db.transaction().execute(async (trx) => {
      const file = await trx.selectFrom('files').selectAll().where('id', '=', fileId).executeTakeFirst();
      if (!file || file.state !== 'uploading') return [];
      const placed = await trx
        .selectFrom('replicas')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('file_id', '=', fileId)
        .executeTakeFirstOrThrow();
      const missing = file.replicas_wanted - Number(placed.n);
      if (missing <= 0) return [];
      return (await this.placeIn(trx, file, missing)).effects;
    });
    await runEffects(effects);
  }

  // ─── Download ───────────────────────────────────────────────────────────────

  /**
   * Opens a fetch from one online host holding a verified replica: the most reliable,
   * avoiding hosts whose fetch of this file just failed, then the least busy.
   */
  async openFetch(ownerId: string, file: FileRow): Promise<string> {
    const now = this.#clock.now();
    const hosts = await this.#db
      .selectFrom('replicas')
      .innerJoin('peers', 'peers.id', 'replicas.host_id')
      .select(['peers.id', 'peers.level'])
      .select((eb) => [
        eb
          .selectFrom('transfers')
          .select(eb.fn.countAll<number>().as('n'))
          .whereRef('transfers.sender_id', '=', 'peers.id')
          .where('transfers.file_id', '=', file.id)
          .where('transfers.kind', '=', 'fetch')
          .where('transfers.state', '=', 'failed')
          .where('transfers.updated_at', '>', now - 5 * 60_000)
          .as('recentFailures'),
        eb
          .selectFrom('transfers')
          .select(eb.fn.countAll<number>().as('n'))
          .where((w) => w.or([w('transfers.sender_id', '=', w.ref('peers.id')), w('transfers.receiver_id', '=', w.ref('peers.id'))]))
          .where('transfers.state', 'in', ACTIVE)
          .as('busy'),
      ])
      .where('replicas.file_id', '=', file.id)
      .where('replicas.state', '=', 'stored')
      .where('peers.online', '=', 1)
      .execute();
    const host = hosts.sort(
      (a, b) => Number(a.recentFailures) - Number(b.recentFailures) || b.level - a.level || Number(a.busy) - Number(b.busy) || (a.id < b.id ? -1 : 1),
    )[0];
    if (!host) {
      throw new PeercloudError('UNAVAILABLE', 'None of the peers holding this file is online right now. Try again when one of them is back.');
    }
    const transfer = await this.#db.transaction().execute((trx) => this.#insert(trx, { kind: 'fetch', file, sender: host.id, receiver: ownerId, responder: host.id }));
    this.#offer(transfer, file);
    return transfer.id;
  }

  // ─── Messages from the two peers ────────────────────────────────────────────

  async accept(peerId: string, transferId: string): Promise<void> {
    const transfer = await this.#responderOf(peerId, transferId);
    const initiator = transfer.responder_id === transfer.sender_id ? transfer.receiver_id : transfer.sender_id;
    const now = this.#clock.now();
    const updated = await this.#db
      .updateTable('transfers')
      .set({ state: 'open', updated_at: now, expires_at: now + this.#config.transferIdleTimeoutMs })
      .where('id', '=', transferId)
      .where('state', '=', 'offered')
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) throw new PeercloudError('CONFLICT', 'This transfer is no longer waiting for an answer.');
    const file = await this.#file(transfer.file_id);
    if (!file || !this.#sessions.emit(initiator, 'transfer:ready', toOffer(transfer, file, initiator))) {
      await this.end(transferId, { ok: false, code: 'PEER_GONE', message: 'The other peer went offline before the transfer started.' });
    }
  }

  async reject(peerId: string, transferId: string, reason: RejectReason, message?: string): Promise<void> {
    const transfer = await this.#responderOf(peerId, transferId);
    if (transfer.state !== 'offered') throw new PeercloudError('CONFLICT', 'This transfer is no longer waiting for an answer.');
    const detail = `${reason}${message ? `: ${message}` : ''}`;
    const ended = await this.end(transferId, { ok: false, code: 'REJECTED', message: `The host refused: ${detail}` });
    if (ended && isStorage(transfer.kind)) await this.#peers.rejected(peerId, `${reason} (file ${transfer.file_id})`);
  }

  async signal(peerId: string, transferId: string, signal: SignalData): Promise<void> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (transfer.state !== 'open') throw new PeercloudError('CONFLICT', 'Signals are only relayed while the transfer is open.');
    const other = transfer.sender_id === peerId ? transfer.receiver_id : transfer.sender_id;
    if (!this.#sessions.emit(other, 'transfer:signal', { transferId, signal })) {
      await this.end(transferId, { ok: false, code: 'PEER_GONE', message: 'The other peer went offline.' });
      throw new PeercloudError('CONFLICT', 'The other peer of this transfer is offline.');
    }
  }

  async progress(peerId: string, transferId: string): Promise<void> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (transfer.state !== 'open') throw new PeercloudError('CONFLICT', 'This transfer is not open.');
    const now = this.#clock.now();
    await this.#db
      .updateTable('transfers')
      .set({ updated_at: now, expires_at: now + this.#config.transferIdleTimeoutMs })
      .where('id', '=', transferId)
      .where('state', '=', 'open')
      .execute();
  }

  async fail(peerId: string, transferId: string, code: TransferErrorCode, message: string): Promise<void> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (!isActive(transfer)) throw new PeercloudError('CONFLICT', 'This transfer has already ended.');
    const ended = await this.end(transferId, { ok: false, code, message });
    if (!ended) return;
    // A host that could not write what it accepted failed a storage request.
    if (isStorage(transfer.kind) && peerId === transfer.receiver_id && code === 'STORAGE') {
      await this.#peers.rejected(peerId, `failed to store (file ${transfer.file_id}): ${message}`);
    }
    // The owner got bytes that failed authentication: the host that served them is to blame,
    // and its copy is worthless; the repair sweep makes a new one from a good replica.
    if (transfer.kind === 'fetch' && peerId === transfer.receiver_id && code === 'INTEGRITY') {
      await this.#peers.integrityFailed(transfer.sender_id, `served corrupt data (file ${transfer.file_id})`);
      const drop = await this.#db.transaction().execute((trx) => this.dropStoredIn(trx, transfer.file_id, transfer.sender_id));
      await drop();
      await this.#peers.refresh(transfer.sender_id);
      await this.#events.fileChanged(transfer.file_id);
    }
  }

  /** The receiver of a fetch has all the bytes, verified. */
  async finish(peerId: string, transferId: string): Promise<void> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (transfer.kind !== 'fetch' || transfer.receiver_id !== peerId) throw new PeercloudError('FORBIDDEN', 'Only the receiver of a download can finish it.');
    if (transfer.state !== 'open') throw new PeercloudError('CONFLICT', 'This transfer is not open.');
    await this.end(transferId, { ok: true });
  }

  /**
   * The receiving host wrote and verified every chunk. Its root hash is checked against the
   * owner's seal; until the seal arrives the claim waits on the replica row.
   */
  async replicaStored(peerId: string, transferId: string, sha256: string): Promise<{ id: string; state: FileRow['state'] }> {
    const transfer = await this.#partyOf(peerId, transferId);
    if (!isStorage(transfer.kind) || transfer.receiver_id !== peerId) {
      throw new PeercloudError('FORBIDDEN', 'Only the host that received this replica can confirm it.');
    }
    if (transfer.state !== 'open') throw new PeercloudError('CONFLICT', 'This transfer is not open.');
    const now = this.#clock.now();
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('replicas')
        .set({ sha256 })
        .where('file_id', '=', transfer.file_id)
        .where('host_id', '=', peerId)
        .where('state', '=', 'reserved')
        .execute();
      // Waiting for the owner's seal is progress, not idleness.
      await trx.updateTable('transfers').set({ updated_at: now, expires_at: now + this.#config.transferIdleTimeoutMs }).where('id', '=', transferId).execute();
    });
    const file = await this.#file(transfer.file_id);
    if (file?.sha256) await this.#settleClaim(transfer, file.sha256, sha256);
    const after = await this.#file(transfer.file_id);
    return { id: transfer.file_id, state: after?.state ?? 'failed' };
  }

  /** The owner sealed the file: settle every host claim that was waiting for it. */
  async sealed(fileId: string, sha256: string): Promise<void> {
    const claims = await this.#db
      .selectFrom('replicas')
      .innerJoin('transfers', (join) =>
        join.onRef('transfers.file_id', '=', 'replicas.file_id').onRef('transfers.receiver_id', '=', 'replicas.host_id'),
      )
      .selectAll('transfers')
      .select('replicas.sha256 as claimed')
      .where('replicas.file_id', '=', fileId)
      .where('replicas.state', '=', 'reserved')
      .where('replicas.sha256', 'is not', null)
      .where('transfers.state', '=', 'open')
      .where('transfers.kind', 'in', ['store', 'repair'])
      .execute();
    for (const { claimed, ...transfer } of claims) await this.#settleClaim(transfer, sha256, claimed!);
  }

  async #settleClaim(transfer: TransferRow, expected: string, claimed: string): Promise<void> {
    if (expected !== claimed) {
      this.#log.warn({ event: 'replica_mismatch', transferId: transfer.id, fileId: transfer.file_id, hostId: transfer.receiver_id }, 'replica hash mismatch');
      await this.end(transfer.id, { ok: false, code: 'INTEGRITY', message: 'The stored bytes do not match what the owner sent.' });
      return;
    }
    await this.end(transfer.id, { ok: true });
  }

  // ─── Endings ────────────────────────────────────────────────────────────────

  /**
   * Ends an active transfer once: records the outcome, turns the host's reservation into
   * use (a verified store) or releases it (anything else), tells both peers, and on a
   * failed store asks another host while the owner is still online. False when the
   * transfer had already ended.
   */
  async end(transferId: string, outcome: TransferOutcome, options: { ownerLeft?: string; onlyIfExpired?: TransferRow['state'] } = {}): Promise<boolean> {
    const now = this.#clock.now();
    const drops: Effect[] = [];
    const result = await this.#db.transaction().execute(async (trx) => {
      let ending = trx
        .updateTable('transfers')
        .set({ state: outcome.ok ? 'done' : 'failed', updated_at: now, error_code: outcome.ok ? null : outcome.code, error_message: outcome.ok ? null : outcome.message })
        .where('id', '=', transferId)
        .where('state', 'in', ACTIVE);
      // The sweep's list was read before this transaction: a peer may have answered or made progress since.
      if (options.onlyIfExpired) ending = ending.where('state', '=', options.onlyIfExpired).where('expires_at', '<=', now);
      // One conditional update decides who ends it: on PostgreSQL two requests ending the same
      // transfer can both have read it active, and only one may move its bytes.
      const transfer = await ending.returningAll().executeTakeFirst();
      if (!transfer) return undefined;
      if (isStorage(transfer.kind)) {
        const replica = await trx
          .selectFrom('replicas')
          .selectAll()
          .where('file_id', '=', transfer.file_id)
          .where('host_id', '=', transfer.receiver_id)
          .where('state', '=', 'reserved')
          .executeTakeFirst();
        // The owner left mid-upload: the host keeps what it has, so that the owner can resume there.
        const ownerLeft = options.ownerLeft === transfer.sender_id || !this.#sessions.isOnline(transfer.sender_id);
        const resumable = !outcome.ok && transfer.kind === 'store' && ownerLeft && RESUMABLE.has(outcome.code);
        if (replica && outcome.ok) {
          await trx.updateTable('replicas').set({ state: 'stored', stored_at: now }).where('file_id', '=', replica.file_id).where('host_id', '=', replica.host_id).execute();
          await trx
            .updateTable('peers')
            .set((eb) => ({ bytes_reserved: eb('bytes_reserved', '-', replica.bytes), bytes_used: eb('bytes_used', '+', replica.bytes) }))
            .where('id', '=', replica.host_id)
            .execute();
        } else if (replica && !resumable) {
          drops.push(await this.releaseIn(trx, replica.file_id, replica.host_id, replica.bytes));
        }
        // A repair done: the file is whole again, and the replica it replaces is let go (if its
        // host comes back, its inventory is answered with a drop, and its space is free already).
        if (outcome.ok && transfer.kind === 'repair') {
          await trx.updateTable('files').set({ repaired_at: now }).where('id', '=', transfer.file_id).execute();
          if (transfer.replaces_host_id) drops.push(await this.dropStoredIn(trx, transfer.file_id, transfer.replaces_host_id));
        }
      }
      const bytes = await trx.selectFrom('files').select('stored_bytes').where('id', '=', transfer.file_id).executeTakeFirst();
      return { ...transfer, bytes: bytes?.stored_bytes ?? 0 };
    });
    if (!result) return false;
    await runEffects(drops);
    this.#metrics.transfers.inc({ kind: result.kind, outcome: outcome.ok ? 'done' : outcome.code });
    if (outcome.ok) this.#metrics.transferBytes.inc({ kind: result.kind }, result.bytes);
    if (result.kind === 'repair') this.#metrics.repairs.inc({ outcome: outcome.ok ? 'done' : 'failed' });

    const ended = { transferId, fileId: result.file_id, kind: result.kind, ok: outcome.ok, ...(outcome.ok ? { message: 'done' } : { code: outcome.code, message: outcome.message }) };
    this.#sessions.emit(result.sender_id, 'transfer:ended', ended);
    this.#sessions.emit(result.receiver_id, 'transfer:ended', ended);
    const log = outcome.ok ? this.#log.info.bind(this.#log) : this.#log.warn.bind(this.#log);
    log({ event: 'transfer_end', transferId, kind: result.kind, fileId: result.file_id, senderId: result.sender_id, receiverId: result.receiver_id, ...outcome }, outcome.ok ? 'transfer done' : 'transfer failed');

    if (isStorage(result.kind)) {
      await this.#peers.refresh(result.receiver_id);
      const ownerStillHere = result.kind === 'store' && this.#sessions.isOnline(result.sender_id) && options.ownerLeft !== result.sender_id;
      if (!outcome.ok && ownerStillHere && outcome.code !== 'CANCELLED') await this.replace(result.file_id);
      await this.#events.fileChanged(result.file_id);
    }
    return true;
  }

  /**
   * A peer's session ended (it went offline, or another tab of it took over): every transfer
   * it was part of ends. Stores it hosted move to other hosts; uploads it owned wait for it.
   */
  async peerGone(peerId: string): Promise<void> {
    const transfers = await this.#db
      .selectFrom('transfers')
      .select('id')
      .where('state', 'in', ACTIVE)
      .where((eb) => eb.or([eb('sender_id', '=', peerId), eb('receiver_id', '=', peerId)]))
      .execute();
    for (const { id } of transfers) await this.end(id, { ok: false, code: 'PEER_GONE', message: 'The other peer went offline.' }, { ownerLeft: peerId });
  }

  /** Ends every active transfer of a file (it is being deleted). */
  async cancelFile(fileId: string): Promise<void> {
    const transfers = await this.#db.selectFrom('transfers').select('id').where('file_id', '=', fileId).where('state', 'in', ACTIVE).execute();
    for (const { id } of transfers) await this.end(id, { ok: false, code: 'CANCELLED', message: 'The owner deleted the file.' });
  }

  /**
   * The sweep: a responder that never answered rejected by timeout; an open transfer with no
   * progress for TRANSFER_IDLE_TIMEOUT is over. Both release what they reserved.
   */
  async expire(): Promise<number> {
    const now = this.#clock.now();
    const expired = await this.#db.selectFrom('transfers').selectAll().where('state', 'in', ACTIVE).where('expires_at', '<=', now).execute();
    for (const transfer of expired) {
      const unanswered = transfer.state === 'offered';
      const ended = await this.end(
        transfer.id,
        { ok: false, code: 'TIMEOUT', message: unanswered ? 'The host did not answer in time.' : 'The transfer made no progress for too long.' },
        { onlyIfExpired: transfer.state },
      );
      if (ended && unanswered && isStorage(transfer.kind)) await this.#peers.rejected(transfer.responder_id, `timeout (file ${transfer.file_id})`);
    }
    return expired.length;
  }

  /**
   * After a restart nobody is connected, so no transfer can continue: each one is failed
   * and its reservation released. Called before the tracker accepts connections.
   */
  async abandonAll(): Promise<number> {
    const active = await this.#db.selectFrom('transfers').select('id').where('state', 'in', ACTIVE).execute();
    for (const { id } of active) await this.end(id, { ok: false, code: 'CANCELLED', message: 'The tracker restarted.' });
    return active.length;
  }

  /**
   * Releases a reserved replica in the caller's transaction: the row goes, the host's
   * reservation shrinks, and once committed the host is told to drop what it received.
   */
  async releaseIn(trx: Trx, fileId: string, hostId: string, bytes: number): Promise<Effect> {
    const deleted = await trx.deleteFrom('replicas').where('file_id', '=', fileId).where('host_id', '=', hostId).where('state', '=', 'reserved').executeTakeFirst();
    // The caller may have read the row before another request released it (that one counts it
    // and tells the host), or, on PostgreSQL, promoted it to stored (the host must keep it).
    if (deleted.numDeletedRows === 0n) return () => {};
    await trx.updateTable('peers').set((eb) => ({ bytes_reserved: eb('bytes_reserved', '-', bytes) })).where('id', '=', hostId).execute();
    return () => {
      this.#sessions.emit(hostId, 'replica:drop', { fileIds: [fileId] });
    };
  }

  /** Forgets a stored replica in the caller's transaction; once committed, its host is told to drop it. */
  async dropStoredIn(trx: Trx, fileId: string, hostId: string): Promise<Effect> {
    const replica = await trx.selectFrom('replicas').selectAll().where('file_id', '=', fileId).where('host_id', '=', hostId).executeTakeFirst();
    if (replica) {
      await trx.deleteFrom('replicas').where('file_id', '=', fileId).where('host_id', '=', hostId).execute();
      const column = replica.state === 'stored' ? 'bytes_used' : 'bytes_reserved';
      await trx.updateTable('peers').set((eb) => ({ [column]: eb(column, '-', replica.bytes) })).where('id', '=', hostId).execute();
    }
    return () => {
      this.#sessions.emit(hostId, 'replica:drop', { fileIds: [fileId] });
    };
  }

  /**
   * Resumes an interrupted upload: each host holding part of it is asked to continue, the
   * replicas whose host is offline are released, and missing replicas are placed anew.
   */
  async resumeIn(trx: Trx, file: FileRow): Promise<{ transfers: TransferRow[]; effects: Effect[] }> {
    const partials = await trx
      .selectFrom('replicas')
      .innerJoin('peers', 'peers.id', 'replicas.host_id')
      .select(['replicas.host_id', 'replicas.bytes', 'peers.online'])
      .where('replicas.file_id', '=', file.id)
      .where('replicas.state', '=', 'reserved')
      .execute();
    const transfers: TransferRow[] = [];
    const effects: Effect[] = [];
    for (const partial of partials) {
      if (partial.online !== 1 || !this.#sessions.isOnline(partial.host_id)) {
        effects.push(await this.releaseIn(trx, file.id, partial.host_id, partial.bytes));
        continue;
      }
      const transfer = await this.#insert(trx, { kind: 'store', file, sender: file.owner_id, receiver: partial.host_id, responder: partial.host_id });
      transfers.push(transfer);
      effects.push(() => this.#offer(transfer, file));
    }
    const missing = file.replicas_wanted - transfers.length;
    if (missing > 0) {
      const placed = await this.placeIn(trx, file, missing);
      transfers.push(...placed.transfers);
      effects.push(...placed.effects);
    }
    return { transfers, effects };
  }

  // ─── Helpers ────────────────────────────────────────────────────────────────

  async #insert(trx: Trx, t: { kind: TransferKindColumn; file: FileRow; sender: string; receiver: string; responder: string; replaces?: string | null }): Promise<TransferRow> {
    const now = this.#clock.now();
    const row: TransferRow = {
      id: randomId(),
      kind: t.kind,
      file_id: t.file.id,
      sender_id: t.sender,
      receiver_id: t.receiver,
      responder_id: t.responder,
      state: 'offered',
      created_at: now,
      updated_at: now,
      expires_at: now + this.#config.acceptTimeoutMs,
      error_code: null,
      error_message: null,
      replaces_host_id: t.replaces ?? null,
    };
    await trx.insertInto('transfers').values(row).execute();
    return row;
  }

  /** Asks the responder; if it is not online the transfer fails right away. */
  async #offer(transfer: TransferRow, file: FileRow): Promise<void> {
    if (!this.#sessions.emit(transfer.responder_id, 'transfer:open', toOffer(transfer, file, transfer.responder_id))) {
      await this.end(transfer.id, { ok: false, code: 'PEER_GONE', message: 'The host went offline.' });
    }
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

function isStorage(kind: TransferKindColumn): boolean {
  return kind === 'store' || kind === 'repair';
}

function isActive(transfer: TransferRow): boolean {
  return transfer.state === 'offered' || transfer.state === 'open';
}

export function toOffer(transfer: TransferRow, file: FileRow, forPeer: string): TransferOffer {
  const role = transfer.sender_id === forPeer ? 'sender' : 'receiver';
  return {
    transferId: transfer.id,
    kind: transfer.kind,
    role,
    fileId: file.id,
    size: file.size,
    chunkSize: file.chunk_size,
    bytes: file.stored_bytes,
    // A receiver learns the root only from what it receives: told it in advance, a new host
    // could confirm a repair copy it never took (the tracker checks its claim against the seal).
    sha256: role === 'sender' ? file.sha256 : null,
  };
}

export async function runEffects(effects: Effect[]): Promise<void> {
  for (const effect of effects) await effect();
}
