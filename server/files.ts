/**
 * Files as their owners use them once uploaded: list, download (`locate` opens a fetch from
 * the best host holding it) and delete. Only a file's owner may do any of these; where a file
 * lives is never told to anyone but its hosts.
 */
import { PeercloudError } from '../shared/errors.ts';
import { rankSources, RECENT_FAILURE_WINDOW_MS } from '../shared/host-ranking.ts';
import type { FileSummary } from '../shared/protocol.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { FileRow } from './db/schema.ts';
import { sourceCandidates } from './db/sources.ts';
import type { TrackerEvents } from './events.ts';
import type { FileSummaries } from './file-summaries.ts';
import type { Logger } from './logger.ts';
import type { Sessions } from './sessions.ts';
import { spaceLedger } from './space-ledger.ts';
import type { Transfers } from './transfers.ts';
import { ownedFile } from './uploads.ts';

interface Deps {
  db: Db;
  clock: Clock;
  config: Pick<Config, 'maxHostTransfers'>;
  log: Logger;
  sessions: Sessions;
  events: TrackerEvents;
  summaries: FileSummaries;
  transfers: Transfers;
}

export class Files {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #sessions: Sessions;
  readonly #events: TrackerEvents;
  readonly #summaries: FileSummaries;
  readonly #transfers: Transfers;
  readonly #maxHostTransfers: number;

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#sessions = deps.sessions;
    this.#events = deps.events;
    this.#summaries = deps.summaries;
    this.#transfers = deps.transfers;
    this.#maxHostTransfers = deps.config.maxHostTransfers;
  }

  list(ownerId: string): Promise<FileSummary[]> {
    return this.#summaries.list(ownerId);
  }

  /** Opens a fetch of the owner's file from the best online host holding a verified replica. */
  async locate(ownerId: string, fileId: string): Promise<string> {
    const file = await ownedFile(this.#db, ownerId, fileId);
    if (file.state === 'failed') throw new PeercloudError('UNAVAILABLE', 'This file was never stored: its upload failed.');
    return this.#openFetch(ownerId, file);
  }

  /**
   * Deletes the file: transfers under way are cancelled, its hosts' space is released at once,
   * online hosts are told to drop their replica now and offline ones when their inventory comes
   * back (the tracker no longer knows the file, so it asks them to drop it).
   */
  async delete(ownerId: string, fileId: string): Promise<void> {
    await ownedFile(this.#db, ownerId, fileId);
    await this.#transfers.cancelFile(fileId);
    const hosts = await this.#db.transaction().execute(async (trx) => {
      const dropped = await spaceLedger.dropFile(trx, fileId);
      await trx.deleteFrom('files').where('id', '=', fileId).execute();
      return dropped;
    });
    this.#log.info({ event: 'delete', fileId, ownerId, hosts: hosts.length }, 'file deleted');
    for (const hostId of hosts) {
      this.#sessions.emit(hostId, 'replica:drop', { fileIds: [fileId] });
      await this.#events.emit('host:space', { hostId });
    }
    this.#sessions.emit(ownerId, 'file:removed', { fileId });
  }

  async #openFetch(ownerId: string, file: FileRow): Promise<string> {
    const candidates = await sourceCandidates(this.#db, { fileId: file.id, kind: 'fetch', failedSince: this.#clock.now() - RECENT_FAILURE_WINDOW_MS });
    if (candidates.length === 0) throw new PeercloudError('UNAVAILABLE', 'None of the peers holding this file is online right now. Try again when one of them is back.');
    // A host is never asked for more than it can take: its refusal would count against it.
    const host = rankSources(candidates.filter((candidate) => candidate.busy < this.#maxHostTransfers))[0];
    if (!host) throw new PeercloudError('UNAVAILABLE', 'The peers holding this file are busy with other transfers. Try again in a moment.');
    const { transfer, offer } = await this.#db
      .transaction()
      .execute((trx) => this.#transfers.createIn(trx, { kind: 'fetch', file, sender: host.id, receiver: ownerId, responder: host.id }));
    await offer();
    return transfer.id;
  }
}
