/**
 * Files as their owners use them once uploaded: list, download (`locate` opens a fetch from
 * the best host holding it) and delete. Only a file's owner may do any of these; where a file
 * lives is never told to anyone but its hosts.
 */
import { PeercloudError } from '../shared/errors.ts';
import { chooseSources, rankSources, RECENT_FAILURE_WINDOW_MS } from '../shared/host-ranking.ts';
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
import { runTogether, type Transfers } from './transfers.ts';
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

  /**
   * Opens fetches of the owner's file: of k distinct fragments from the best online hosts (one
   * whole copy when k = 1), or of `count` more fragments than those in `exclude` (a download
   * replacing a failed or slow host).
   */
  async locate(ownerId: string, fileId: string, options: { exclude?: number[]; count?: number } = {}): Promise<{ transferId: string; fragment: number }[]> {
    const file = await ownedFile(this.#db, ownerId, fileId);
    if (file.state === 'failed') throw new PeercloudError('UNAVAILABLE', 'This file was never stored: its upload failed.');
    return this.#openFetches(ownerId, file, options.count ?? file.scheme_k, options.exclude ?? []);
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
    for (const hostId of hosts) void this.#sessions.emit(hostId, 'replica:drop', { fileIds: [fileId] });
    // Their refreshes together: one statement for all (peers.ts), not one after another.
    await runTogether(hosts.map((hostId) => () => this.#events.emit('host:space', { hostId })));
    void this.#sessions.emit(ownerId, 'file:removed', { fileId });
  }

  async #openFetches(ownerId: string, file: FileRow, count: number, exclude: number[]): Promise<{ transferId: string; fragment: number }[]> {
    const candidates = await sourceCandidates(this.#db, { fileId: file.id, kind: 'fetch', failedSince: this.#clock.now() - RECENT_FAILURE_WINDOW_MS });
    const readable = new Set(candidates.map((candidate) => candidate.fragment).filter((fragment) => !exclude.includes(fragment)));
    if (readable.size < Math.min(count, file.scheme_k)) {
      throw new PeercloudError(
        'UNAVAILABLE',
        file.scheme_k === 1 || candidates.length === 0
          ? 'None of the peers holding this file is online right now. Try again when one of them is back.'
          : `Too few of the peers holding this file are online right now (it needs ${file.scheme_k} of them). Try again when more are back.`,
      );
    }
    // A host is never asked for more than it can take: its refusal would count against it.
    const sources = chooseSources(rankSources(candidates.filter((candidate) => candidate.busy < this.#maxHostTransfers)), { k: file.scheme_k, count, exclude });
    if (sources.length < Math.min(count, readable.size)) throw new PeercloudError('UNAVAILABLE', 'The peers holding this file are busy with other transfers. Try again in a moment.');
    const opened = await this.#db
      .transaction()
      .execute((trx) => this.#transfers.createAllIn(trx, sources.map((source) => ({ kind: 'fetch', file, fragment: source.fragment, sender: source.id, receiver: ownerId, responder: source.id }))));
    await runTogether(opened.map(({ offer }) => offer));
    return opened.map(({ transfer }) => ({ transferId: transfer.id, fragment: transfer.fragment }));
  }
}
