/**
 * Uploads, from `file:place` to a stored (or failed, or interrupted) file: hosts are placed and
 * store transfers opened; the owner's seal settles the hosts' claims; a host that fails is
 * replaced while the owner is there; an owner who leaves mid-upload can resume on the hosts
 * holding part of it, within UPLOAD_RESUME_GRACE. A file's upload is over once no store
 * transfer is pending: stored if a host verified it, otherwise interrupted or failed.
 */
import type { Kysely, Transaction } from 'kysely';
import { groupBy } from '../shared/grouping.ts';
import { createHash } from 'node:crypto';
import { chunkCount, storedSize } from '../shared/chunking.ts';
import { fragmentBytes, type Scheme } from '../shared/redundancy.ts';
import { randomId } from '../shared/encoding.ts';
import { coalescing } from '../shared/coalescing.ts';
import { oneAtATime } from '../shared/one-at-a-time.ts';
import { PeercloudError } from '../shared/errors.ts';
import { ownerAllowance } from '../shared/earned.ts';
import type { FileSummary } from '../shared/protocol.ts';
import { formatBytes } from '../shared/units.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import { compiledOnce, type Slots } from './db/compiled-once.ts';
import { activeTransfers, storedReplicas } from './db/counts.ts';
import type { Db } from './db/database.ts';
import type { Database, FileRow, ReplicaRow } from './db/schema.ts';
import { ACTIVE_TRANSFER_STATES } from './db/states.ts';
import type { TrackerEvents, TransferEnded } from './events.ts';
import { placedSummary, type FileSummaries } from './file-summaries.ts';
import type { AfterAnswer } from './socket/requests.ts';
import type { Logger } from './logger.ts';
import type { Candidates, Owner, PlacedFragment, Placement } from './placement.ts';
import type { Sessions } from './sessions.ts';
import { spaceLedger } from './space-ledger.ts';
import { runEffects, runTogether, type Effect, type NewTransfer, type Transfers } from './transfers.ts';

type Trx = Transaction<Database>;

interface Deps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
  sessions: Sessions;
  events: TrackerEvents;
  summaries: FileSummaries;
  placement: Placement;
  transfers: Transfers;
}

class NoHost extends Error {
  constructor(
    readonly scheme: Scheme,
    readonly available: number,
  ) {
    super('not enough hosts');
  }
}

/** 0, 1, …, n − 1. */
function range(n: number): number[] {
  return Array.from({ length: n }, (_, index) => index);
}

function newFile(ownerId: string, request: { name: string; size: number; chunkSize: number }, scheme: Scheme, now: number): FileRow {
  return {
    id: randomId(),
    owner_id: ownerId,
    name: request.name,
    size: request.size,
    sha256: null,
    chunk_size: request.chunkSize,
    chunk_count: chunkCount(request.size, request.chunkSize),
    stored_bytes: storedSize(request.size, request.chunkSize),
    replicas_wanted: scheme.n,
    scheme_k: scheme.k,
    fragment_bytes: scheme.k === 1 ? storedSize(request.size, request.chunkSize) : fragmentBytes(request.size, request.chunkSize, scheme.k),
    created_at: now,
    state: 'uploading',
    interrupted_at: null,
    repaired_at: null,
  };
}

/**
 * What `files.sha256` records once sealed: the root itself for whole copies; for fragments a
 * digest of all their roots (each fragment is checked against its own, in file_fragments).
 */
export function sealMarker(roots: readonly string[]): string {
  return roots.length === 1 ? roots[0]! : createHash('sha256').update(roots.join('')).digest('hex');
}

type NewUpload = { name: string; size: number; chunkSize: number };

/** A new file placed: its store transfers, and what to do once they are committed. */
interface Placed {
  file: FileRow;
  transferIds: string[];
  effects: Effect[];
}

/** A store of one fragment from the file's owner to a host. */
function storeSpec(file: FileRow, fragment: number, hostId: string, newFile: boolean): NewTransfer {
  return { kind: 'store', file, fragment, sender: file.owner_id, receiver: hostId, responder: hostId, newFile };
}

/**
 * Once stores are committed: their offers to the hosts, then the hosts' new room told (each of
 * the two at once, not one host after the other).
 */
function storeEffects(created: readonly { offer: Effect }[], placed: readonly PlacedFragment[], events: TrackerEvents): Effect[] {
  const effects: Effect[] = [() => runTogether(created.map(({ offer }) => offer))];
  if (placed.length > 0) effects.push(() => runTogether(placed.map(({ host }) => () => events.emit('host:space', { hostId: host.id }))));
  return effects;
}

export class Uploads {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #sessions: Sessions;
  readonly #events: TrackerEvents;
  readonly #summaries: FileSummaries;
  readonly #placement: Placement;
  readonly #transfers: Transfers;

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#sessions = deps.sessions;
    this.#events = deps.events;
    this.#summaries = deps.summaries;
    this.#placement = deps.placement;
    this.#transfers = deps.transfers;
  }

  /**
   * Creates the file, reserves space for its fragments on their hosts and opens a store
   * transfer to each. The file takes the first scheme of REDUNDANCY whose n hosts can be found
   * (the last one also with fewer hosts, as today's under-replicated whole copies, or any with
   * REDUNDANCY_ALLOW_FEWER and at least k + 1 of them).
   */
  async place(ownerId: string, request: NewUpload, afterAnswer: AfterAnswer): Promise<{ file: FileSummary; transferIds: string[] }> {
    // One owner's placements one after another: its quota is read before the reservation is
    // written, so that two at once could each find room in it for itself.
    return this.#ownersOneAtATime(ownerId, () => this.#place(ownerId, request, afterAnswer));
  }

  readonly #ownersOneAtATime = oneAtATime();

  async #place(ownerId: string, request: NewUpload, afterAnswer: AfterAnswer): Promise<{ file: FileSummary; transferIds: string[] }> {
    const schemes = this.#config.redundancy;
    let shortest: { scheme: Scheme; available: number } | undefined;
    for (const [index, scheme] of schemes.entries()) {
      const last = index === schemes.length - 1;
      const minimum = scheme.k === 1 ? (last ? 1 : scheme.n) : this.#config.redundancyAllowFewer ? Math.min(scheme.n, scheme.k + 1) : scheme.n;
      const placed = await this.#placeAtOnce(ownerId, request, scheme, minimum)
        .then((done) => done ?? this.#placeInSteps(ownerId, request, scheme, minimum))
        .catch((error: unknown) => {
          if (!(error instanceof NoHost)) throw error;
          if (!shortest || error.available > shortest.available) shortest = { scheme: error.scheme, available: error.available };
          return undefined;
        });
      if (!placed) continue;
      // The owner's answer is the committed reservation: its offers to the hosts (through another
      // tracker for hosts connected there, an answer to wait for) and the hosts' new room go out
      // once it is sent. An offer is still never taken as delivered until the host's tracker says
      // so, and one that fails ends its transfer, which the owner hears after this answer.
      afterAnswer(() => runEffects(placed.effects));
      return { file: placedSummary(placed.file, placed.transferIds.length), transferIds: placed.transferIds };
    }
    // No scheme could be placed: say why in the words of the one that came closest.
    const closest = shortest!;
    const fallback = schemes.at(-1)!;
    const message =
      closest.available === 0 || (closest.scheme.k === 1 && fallback === closest.scheme)
        ? await this.#placement.noHostMessage(ownerId, newFile(ownerId, request, fallback, 0).fragment_bytes)
        : await this.#placement.tooFewHostsMessage(closest.scheme, closest.available);
    throw new PeercloudError('NO_HOST', message);
  }

  /**
   * The common placement, written at once: the owner's quota and the hosts looked at are read,
   * then the file, its hosts' reservations and its store transfers are written in one go
   * (spaceLedger.reserveNewFile: one statement on PostgreSQL), which re-checks each host's room
   * and transfers under way. Undefined, with nothing written, when the hosts looked at do not
   * hold one per fragment or one of them was taken meanwhile: #placeInSteps then places it,
   * looking further and passing over the hosts taken. A placement in a transaction was eleven
   * statements, each a round trip waiting for a core on a busy machine; this is four.
   */
  async #placeAtOnce(ownerId: string, request: NewUpload, scheme: Scheme, minimum: number): Promise<Placed | undefined> {
    const file = newFile(ownerId, request, scheme, this.#clock.now());
    const owner = await this.#withinQuota(this.#db, ownerId, file.fragment_bytes * scheme.n);
    const candidates = await this.#placement.countCandidates(this.#db, owner, file.id, file.fragment_bytes, scheme.n);
    if (candidates.available < minimum) throw new NoHost(scheme, candidates.available);
    const chosen = this.#placement.chooseForNewFile(file, owner, candidates);
    if (!chosen) return undefined;
    const created = this.#transfers.build(chosen.map(({ host, fragment }) => storeSpec(file, fragment, host.id, true)));
    const replicas = chosen.map(({ host, fragment }): ReplicaRow => ({
      file_id: file.id,
      host_id: host.id,
      fragment,
      state: 'reserved',
      bytes: file.fragment_bytes,
      sha256: null,
      created_at: file.created_at,
      stored_at: null,
      proven_at: null,
      audit_due_at: null,
      suspect_since: null,
      retired_at: null,
    }));
    if (!(await spaceLedger.reserveNewFile(this.#db, { file, replicas, transfers: created.map(({ transfer }) => transfer) }, this.#config.maxHostTransfers))) return undefined;
    this.#placement.placedNewFile(file, owner, chosen);
    return { file, transferIds: created.map(({ transfer }) => transfer.id), effects: storeEffects(created, chosen, this.#events) };
  }

  /** A placement in a transaction, step by step: hosts are looked at further, and those taken meanwhile passed over. */
  async #placeInSteps(ownerId: string, request: NewUpload, scheme: Scheme, minimum: number): Promise<Placed> {
    return this.#db.transaction().execute(async (trx) => {
      const file = newFile(ownerId, request, scheme, this.#clock.now());
      const owner = await this.#withinQuota(trx, ownerId, file.fragment_bytes * scheme.n);
      // Not enough hosts for this scheme: the next one is tried (nothing reserved yet).
      const candidates = await this.#placement.countCandidates(trx, owner, file.id, file.fragment_bytes, scheme.n);
      if (candidates.available < minimum) throw new NoHost(scheme, candidates.available);
      await trx.insertInto('files').values(file).execute();
      const opened = await this.#placeStoresIn(trx, file, range(scheme.n), { owner, candidates });
      // Throwing rolls the file back: not enough hosts, no file.
      if (opened.transferIds.length < minimum) throw new NoHost(scheme, opened.transferIds.length);
      return { file, ...opened };
    });
  }

  /**
   * The owner states the roots of what it sent: one for whole copies, one per fragment
   * otherwise. Then every host claim that was waiting for them is settled.
   */
  async seal(ownerId: string, fileId: string, roots: readonly string[]): Promise<FileSummary> {
    const file = await this.#owned(ownerId, fileId);
    if (roots.length !== (file.scheme_k === 1 ? 1 : file.replicas_wanted)) {
      throw new PeercloudError('INVALID', file.scheme_k === 1 ? 'This file is kept as whole copies: seal it with one root.' : `This file has ${file.replicas_wanted} fragments: seal it with a root for each.`);
    }
    const marker = sealMarker(roots);
    if (file.sha256 !== null && file.sha256 !== marker) throw new PeercloudError('CONFLICT', 'This file is already sealed with another hash.');
    if (file.sha256 === null) {
      const sealed = await this.#db.transaction().execute(async (trx) => {
        const set = await trx.updateTable('files').set({ sha256: marker }).where('id', '=', fileId).where('sha256', 'is', null).executeTakeFirst();
        if (set.numUpdatedRows === 0n) return false;
        await trx
          .insertInto('file_fragments')
          .values(roots.map((sha256, idx) => ({ file_id: fileId, idx, sha256 })))
          .execute();
        return true;
      });
      // Two seals raced and the other one won: claims are settled against the roots recorded.
      if (!sealed) return this.seal(ownerId, fileId, roots);
    }
    await this.#transfers.sealed(fileId);
    return this.#summaries.summary(fileId);
  }

  /** Continues an interrupted upload on the hosts holding part of it, and new ones for the rest. */
  async resume(ownerId: string, fileId: string): Promise<{ file: FileSummary; transferIds: string[] }> {
    const file = await this.#owned(ownerId, fileId);
    if (file.state !== 'interrupted') throw new PeercloudError('CONFLICT', 'This upload is not interrupted: there is nothing to resume.');
    const resumed = await this.#db
      .transaction()
      .execute(async (trx) => {
        const updated = await trx.updateTable('files').set({ state: 'uploading', interrupted_at: null }).where('id', '=', fileId).where('state', '=', 'interrupted').executeTakeFirst();
        if (updated.numUpdatedRows === 0n) throw new PeercloudError('CONFLICT', 'This upload is being resumed already.');
        const result = await this.#resumeIn(trx, { ...file, state: 'uploading', interrupted_at: null });
        if (result.transferIds.length === 0) throw new NoHost({ k: file.scheme_k, n: file.replicas_wanted }, 0);
        return result;
      })
      .catch(async (error: unknown) => {
        if (error instanceof NoHost) throw new PeercloudError('NO_HOST', await this.#placement.noHostMessage(ownerId, file.fragment_bytes));
        throw error;
      });
    this.#log.info({ event: 'resume', fileId, ownerId, transfers: resumed.transferIds.length }, 'upload resumed');
    await runEffects(resumed.effects);
    return { file: await this.#summaries.summary(fileId), transferIds: resumed.transferIds };
  }

  /**
   * Transfers ended together (with one outcome). Failed stores are placed on other hosts while
   * their owner is there; then each upload concerned is settled if nothing more is pending:
   * once per upload, however many of its stores ended (a deleted upload's 8 at once).
   */
  async transfersEnded(endings: readonly TransferEnded[]): Promise<void> {
    // A deleted upload is not settled: it is going, with its rows, the moment its stores have
    // ended (Files.delete), and its owner hears `file:removed`. Were the deletion to fail after
    // that, the sweep's settleStale settles what is left.
    const deleted = ({ cause }: TransferEnded) => cause.by === 'tracker' && cause.reason === 'deleted';
    const uploads = groupBy(
      endings.filter((ended) => ended.transfer.kind === 'store' && !deleted(ended)),
      (ended) => ended.transfer.file_id,
    );
    for (const [fileId, stores] of uploads) {
      // A store's sender is its file's owner: one question for the upload.
      const replaceable = stores.some(({ outcome, ownerLeft }) => !outcome.ok && outcome.code !== 'CANCELLED' && !ownerLeft);
      if (replaceable && (await this.#sessions.isOnline(stores[0]!.transfer.sender_id))) await this.#replace(fileId);
      await this.settle(fileId);
    }
  }

  /**
   * An upload is over once no store transfer is pending: stored if at least one host verified
   * its bytes (partial replicas are then of no more use), interrupted if partial ones wait for
   * an owner who left, failed otherwise. Its owner hears of it either way. The endings of an
   * upload's stores come together (an owner cancelling ends all of them): calls for one file
   * while it is being settled share the next settling (shared/coalescing.ts), and one that finds
   * stores still pending takes no transaction.
   */
  settle(fileId: string): Promise<void> {
    return this.#settle(fileId);
  }

  readonly #settle = coalescing((fileId) => this.#settleNow(fileId));

  async #settleNow(fileId: string): Promise<void> {
    const before = await this.#db
      .selectFrom('files')
      .select((eb) => ['files.state', activeTransfers(eb, 'store').as('pending')])
      .where('id', '=', fileId)
      .executeTakeFirst();
    const unsettled = before?.state === 'uploading' && Number(before.pending) === 0;
    const effects = !unsettled ? [] : await this.#db.transaction().execute(async (trx) => {
      const counts = await trx
        .selectFrom('files')
        .select((eb) => ['files.state', activeTransfers(eb, 'store').as('pending'), storedReplicas(eb).as('stored')])
        .where('id', '=', fileId)
        .executeTakeFirst();
      if (counts?.state !== 'uploading' || Number(counts.pending) > 0) return [];
      const partials = await trx.selectFrom('replicas').select('host_id').where('file_id', '=', fileId).where('state', '=', 'reserved').execute();
      if (Number(counts.stored) > 0 || partials.length === 0) {
        await trx.updateTable('files').set({ state: Number(counts.stored) > 0 ? 'stored' : 'failed' }).where('id', '=', fileId).where('state', '=', 'uploading').execute();
        return this.#releasePartialsIn(trx, fileId);
      }
      await trx.updateTable('files').set({ state: 'interrupted', interrupted_at: this.#clock.now() }).where('id', '=', fileId).execute();
      this.#log.info({ event: 'interrupted', fileId, partials: partials.length }, 'upload interrupted: its owner left');
      return [];
    });
    await runEffects(effects);
    await this.#events.emit('file:changed', { fileId });
  }

  /**
   * The sweep: an interrupted upload whose owner didn't come back within UPLOAD_RESUME_GRACE
   * has failed; its partial replicas are released and their hosts told to drop them.
   */
  async expireInterrupted(): Promise<void> {
    const stale = await this.#db
      .selectFrom('files')
      .select('id')
      .where('state', '=', 'interrupted')
      .where('interrupted_at', '<=', this.#clock.now() - this.#config.uploadResumeGraceMs)
      .execute();
    for (const { id } of stale) {
      const effects = await this.#db.transaction().execute(async (trx) => {
        const failed = await trx.updateTable('files').set({ state: 'failed', interrupted_at: null }).where('id', '=', id).where('state', '=', 'interrupted').executeTakeFirst();
        // Resumed, or found complete on a host, since the list was read: its replicas are wanted.
        if (failed.numUpdatedRows === 0n) return [];
        return this.#releasePartialsIn(trx, id);
      });
      await runEffects(effects);
      await this.#events.emit('file:changed', { fileId: id });
    }
  }

  /**
   * Settles uploads left 'uploading' with no transfer under way. Settling follows the end of a
   * transfer; a crash between the two leaves such a file behind, and this (run at start and by
   * the sweep) finishes the job. A reservation nothing is filling, for a file no longer
   * uploading or waiting for a resume, holds space for nothing: it is released.
   */
  async settleStale(): Promise<void> {
    const stale = await this.#db
      .selectFrom('files')
      .select('id')
      .where('state', '=', 'uploading')
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('transfers').select('transfers.id').whereRef('transfers.file_id', '=', 'files.id').where('transfers.kind', '=', 'store').where('transfers.state', 'in', ACTIVE_TRANSFER_STATES),
          ),
        ),
      )
      .execute();
    for (const { id } of stale) await this.settle(id);

    const orphans = await this.#db
      .selectFrom('replicas')
      .innerJoin('files', 'files.id', 'replicas.file_id')
      .select(['replicas.file_id', 'replicas.host_id'])
      .where('replicas.state', '=', 'reserved')
      .where('files.state', 'in', ['stored', 'failed'])
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('transfers')
              .select('transfers.id')
              .whereRef('transfers.file_id', '=', 'replicas.file_id')
              .whereRef('transfers.receiver_id', '=', 'replicas.host_id')
              .where('transfers.state', 'in', ACTIVE_TRANSFER_STATES),
          ),
        ),
      )
      .execute();
    for (const orphan of orphans) {
      const released = await this.#db.transaction().execute((trx) => spaceLedger.release(trx, orphan.file_id, orphan.host_id));
      if (!released) continue;
      void this.#sessions.emit(orphan.host_id, 'replica:drop', { fileIds: [orphan.file_id] });
      await this.#events.emit('host:space', { hostId: orphan.host_id });
      this.#log.info({ event: 'reconcile', fileId: orphan.file_id, hostId: orphan.host_id, outcome: 'released' }, 'released a reservation nothing was filling');
    }
  }

  /**
   * Nobody can drain the cloud: an owner has at most MAX_FILES_PER_PEER files and
   * MAX_PENDING_UPLOADS uploads under way, and the copies it has stored or reserved may take
   * OWNER_ALLOWANCE plus OWNER_RATIO times what it has proven it holds for others.
   */
  async #withinQuota(trx: Kysely<Database>, ownerId: string, newBytes: number): Promise<Owner> {
    const { owners } = this.#config;
    // One statement: each one a transaction waits for costs a turn of the tracker's event loop.
    const owner = (await trx.executeQuery(ownerQuota(trx, { ownerId }))).rows[0];
    if (!owner) throw new Error(`uploads: no peer ${ownerId}`);
    if (Number(owner.files ?? 0) >= owners.maxFiles) throw new PeercloudError('QUOTA', `You have ${owners.maxFiles} files, the most one peer may keep here. Delete some to upload more.`);
    if (Number(owner.uploading ?? 0) >= owners.maxPendingUploads) {
      throw new PeercloudError('QUOTA', `You have ${owners.maxPendingUploads} uploads under way, the most at once. Wait for one of them to finish.`);
    }
    const allowed = ownerAllowance(owner.proven_bytes, owners);
    const usedBytes = Number(owner.used ?? 0);
    if (usedBytes + newBytes > allowed) {
      throw new PeercloudError(
        'QUOTA',
        `This upload needs ${formatBytes(newBytes)} of the cloud with its copies, and you have ${formatBytes(Math.max(0, allowed - usedBytes))} left of your share. Peers store about as much as they keep for others: offer storage and stay online to earn more.`,
      );
    }
    return { id: owner.id, level: owner.level };
  }

  /** Places the fragments no host is holding or filling after a failed store, if hosts are left. */
  async #replace(fileId: string): Promise<void> {
    const effects = await this.#db.transaction().execute(async (trx) => {
      const file = await trx.selectFrom('files').selectAll().where('id', '=', fileId).executeTakeFirst();
      if (!file || file.state !== 'uploading') return [];
      const missing = await this.#missingFragmentsIn(trx, file);
      if (missing.length === 0) return [];
      return (await this.#placeStoresIn(trx, file, missing)).effects;
    });
    await runEffects(effects);
  }

  /** The file's fragments that no replica row stands for (not even a retired one). */
  async #missingFragmentsIn(trx: Trx, file: FileRow): Promise<number[]> {
    const held = new Set((await trx.selectFrom('replicas').select('fragment').where('file_id', '=', file.id).execute()).map((row) => row.fragment));
    return range(file.replicas_wanted).filter((fragment) => !held.has(fragment));
  }

  /**
   * Reserves a host for each fragment and opens a store transfer to each; effects offer them
   * once committed, then tell the hosts their new room (each of the two at once, not one host
   * after the other). A
   * file created in this transaction passes what was found for it (Placement.reserveIn).
   */
  async #placeStoresIn(trx: Trx, file: FileRow, fragments: readonly number[], fresh?: { owner: Owner; candidates: Candidates }): Promise<{ transferIds: string[]; effects: Effect[] }> {
    const placed = await this.#placement.reserveIn(trx, file, fragments, 'store', fresh);
    const created = await this.#transfers.createAllIn(
      trx,
      placed.map(({ host, fragment }) => storeSpec(file, fragment, host.id, fresh !== undefined)),
    );
    return { transferIds: created.map(({ transfer }) => transfer.id), effects: storeEffects(created, placed, this.#events) };
  }

  /**
   * Each host holding part of the upload is asked to continue, the replicas whose host is
   * offline are released, and missing replicas are placed anew.
   */
  async #resumeIn(trx: Trx, file: FileRow): Promise<{ transferIds: string[]; effects: Effect[] }> {
    const partials = await trx
      .selectFrom('replicas')
      .innerJoin('peers', 'peers.id', 'replicas.host_id')
      .select(['replicas.host_id', 'replicas.fragment', 'peers.online'])
      .where('replicas.file_id', '=', file.id)
      .where('replicas.state', '=', 'reserved')
      .execute();
    const transferIds: string[] = [];
    const effects: Effect[] = [];
    for (const partial of partials) {
      if (partial.online !== 1 || !(await this.#sessions.isOnline(partial.host_id, trx))) {
        effects.push(...(await this.#releaseIn(trx, file.id, partial.host_id)));
        continue;
      }
      const { transfer, offer } = await this.#transfers.createIn(trx, {
        kind: 'store',
        file,
        fragment: partial.fragment,
        sender: file.owner_id,
        receiver: partial.host_id,
        responder: partial.host_id,
      });
      transferIds.push(transfer.id);
      effects.push(offer);
    }
    const missing = await this.#missingFragmentsIn(trx, file);
    if (missing.length > 0) {
      const placed = await this.#placeStoresIn(trx, file, missing);
      transferIds.push(...placed.transferIds);
      effects.push(...placed.effects);
    }
    return { transferIds, effects };
  }

  /** Releases every replica of the file that is still only reserved (no transfer is filling it). */
  async #releasePartialsIn(trx: Trx, fileId: string): Promise<Effect[]> {
    // In host id order, as placements wait for hosts: on PostgreSQL the two can't wait for each other in a cycle.
    const partials = await trx.selectFrom('replicas').select('host_id').where('file_id', '=', fileId).where('state', '=', 'reserved').orderBy('host_id').execute();
    const effects: Effect[] = [];
    for (const partial of partials) effects.push(...(await this.#releaseIn(trx, fileId, partial.host_id)));
    return effects;
  }

  async #releaseIn(trx: Trx, fileId: string, hostId: string): Promise<Effect[]> {
    // Released by another request meanwhile (which told the host), or promoted to stored (the
    // host must keep it): then the host is told nothing.
    if (!(await spaceLedger.release(trx, fileId, hostId))) return [];
    return [() => void this.#sessions.emit(hostId, 'replica:drop', { fileIds: [fileId] }), () => this.#events.emit('host:space', { hostId })];
  }

  async #owned(ownerId: string, fileId: string): Promise<FileRow> {
    return ownedFile(this.#db, ownerId, fileId);
  }
}

/** The file, if it exists and belongs to this owner; typed refusals otherwise. */
export async function ownedFile(db: Db, ownerId: string, fileId: string): Promise<FileRow> {
  const file = await db.selectFrom('files').selectAll().where('id', '=', fileId).executeTakeFirst();
  if (!file) throw new PeercloudError('NOT_FOUND', 'No such file.');
  if (file.owner_id !== ownerId) throw new PeercloudError('FORBIDDEN', 'This file belongs to another peer.');
  return file;
}

/** What an owner has (files, uploads under way, bytes of its copies), for the quota. Compiled once: every placement asks it. */
const ownerQuota = compiledOnce((db: Kysely<Database>, slots: Slots<{ ownerId: string }>) =>
  db
    .selectFrom('peers')
    .select((eb) => [
      'peers.id',
      'peers.level',
      'peers.proven_bytes',
      eb.selectFrom('files').select(eb.fn.countAll<number>().as('n')).where('files.owner_id', '=', slots.ownerId).as('files'),
      eb.selectFrom('files').select(eb.fn.countAll<number>().as('n')).where('files.owner_id', '=', slots.ownerId).where('files.state', '=', 'uploading').as('uploading'),
      eb
        .selectFrom('replicas')
        .innerJoin('files', 'files.id', 'replicas.file_id')
        .select((inner) => inner.fn.sum<number>('replicas.bytes').as('bytes'))
        .where('files.owner_id', '=', slots.ownerId)
        .where('replicas.retired_at', 'is', null)
        .as('used'),
    ])
    .where('peers.id', '=', slots.ownerId),
);
