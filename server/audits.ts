/**
 * Audits: storage is proven, not declared. The tracker asks a host for one random block of one
 * random chunk of a replica, with the hashes that lead from it to the replica's root (shared/
 * merkle.ts), and checks it against the root the owner sealed: it needs neither the file nor
 * the owner, and a host can only answer by holding the block. Each replica is audited
 * * when it is stored (a store or repair is done only once its first audit passes: a host that
 *   claims a copy it never took is caught before anyone counts on it),
 * * at random times, on average every AUDIT_INTERVAL,
 * * when an inventory claims it after an absence (a copy that a repair replaced is taken back
 *   only if it proves itself), and
 * * when an owner says bytes it downloaded were corrupt (the accusation is checked, not believed).
 * An unanswered audit is a broken promise and makes the copy suspect (not counted as live, so
 * a repair may start); a wrong answer is an integrity failure and the copy is lost. What that
 * means for the rest of the tracker is told as an `audit:decided` event.
 */
import { createHash, randomInt } from 'node:crypto';
import { fragmentChunkSize } from '../shared/redundancy.ts';
import { fromHex, randomId } from '../shared/encoding.ts';
import { PeercloudError } from '../shared/errors.ts';
import { blockCount, blockLength, merkle, type BlockProof } from '../shared/merkle.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { AuditPurpose, AuditRow } from './db/schema.ts';
import type { TrackerEvents } from './events.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { Sessions } from './sessions.ts';
import { spaceLedger } from './space-ledger.ts';
import { fragmentRoot } from './db/fragments.ts';

const tree = merkle(async (parts) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
});

/** After an unanswered audit, the next one comes this much sooner than usual. */
const RETRY_FRACTION = 0.1;
/** Unanswered audits in a row after which a copy is taken for lost. */
const UNANSWERED_STRIKES = 3;

export interface AuditRequest {
  fileId: string;
  hostId: string;
  purpose: AuditPurpose;
  transferId?: string;
  /** The chunk to ask for (an accusation names it); otherwise a random one. */
  chunk?: number;
}

interface Deps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
  sessions: Sessions;
  events: TrackerEvents;
  metrics: Metrics;
}

export class Audits {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #sessions: Sessions;
  readonly #events: TrackerEvents;
  readonly #metrics: Metrics;

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#sessions = deps.sessions;
    this.#events = deps.events;
    this.#metrics = deps.metrics;
  }

  /**
   * Challenges a host now. Undefined when there is nothing to check yet (the owner has not
   * sealed the file) or the host is not online to answer.
   */
  async challenge(request: AuditRequest): Promise<AuditRow | undefined> {
    const file = await this.#db.selectFrom('files').select(['sha256', 'chunk_count', 'size', 'chunk_size', 'scheme_k']).where('id', '=', request.fileId).executeTakeFirst();
    if (!file?.sha256 || !(await this.#sessions.isOnline(request.hostId))) return undefined;
    const chunk = request.chunk !== undefined && request.chunk < file.chunk_count ? request.chunk : randomInt(file.chunk_count);
    const block = randomInt(blockCount(fragmentChunkSize(chunk, file.size, file.chunk_size, file.scheme_k)));
    const now = this.#clock.now();
    const audit: AuditRow = {
      id: randomId(),
      file_id: request.fileId,
      host_id: request.hostId,
      chunk,
      block,
      purpose: request.purpose,
      transfer_id: request.transferId ?? null,
      state: 'pending',
      outcome: null,
      issued_at: now,
      deadline_at: now + this.#config.audits.timeoutMs,
      answered_at: null,
    };
    await this.#db.insertInto('audits').values(audit).execute();
    void this.#sessions.emit(request.hostId, 'audit:challenge', { auditId: audit.id, fileId: audit.file_id, chunk, block });
    this.#metrics.audits.inc({ purpose: audit.purpose, outcome: 'issued' });
    return audit;
  }

  /** The host's answer: checked against the root the owner sealed. */
  async answer(hostId: string, auditId: string, proof: BlockProof): Promise<{ passed: boolean }> {
    const audit = await this.#db.selectFrom('audits').selectAll().where('id', '=', auditId).executeTakeFirst();
    if (!audit) throw new PeercloudError('NOT_FOUND', 'No such audit.');
    if (audit.host_id !== hostId) throw new PeercloudError('FORBIDDEN', 'This audit is for another host.');
    if (audit.state !== 'pending') throw new PeercloudError('CONFLICT', 'This audit is already decided.');
    // Checked against the root of the fragment this host holds (for whole copies, the file's root).
    const file = await this.#db.selectFrom('files').select(['id', 'chunk_count', 'size', 'chunk_size', 'scheme_k']).where('id', '=', audit.file_id).executeTakeFirst();
    const replica = await this.#db.selectFrom('replicas').select('fragment').where('file_id', '=', audit.file_id).where('host_id', '=', hostId).executeTakeFirst();
    const root = file && replica ? await fragmentRoot(this.#db, file, replica.fragment) : null;
    const length = file ? fragmentChunkSize(audit.chunk, file.size, file.chunk_size, file.scheme_k) : 0;
    const passed =
      file !== undefined &&
      root !== null &&
      (await tree.verify(
        fromHex(root),
        { chunk: audit.chunk, chunks: file.chunk_count, block: audit.block, blocks: blockCount(length), blockLength: blockLength(length, audit.block) },
        proof,
      ));
    await this.#decide(audit, passed ? 'passed' : 'wrong');
    return { passed };
  }

  /** The sweep: audits past their deadline are unanswered. */
  async expire(): Promise<number> {
    const late = await this.#db.selectFrom('audits').selectAll().where('state', '=', 'pending').where('deadline_at', '<=', this.#clock.now()).limit(1000).execute();
    for (const audit of late) await this.#decide(audit, 'unanswered');
    return late.length;
  }

  /**
   * The sweep: routine audits of replicas that are due, on hosts that are online and not
   * already being audited, at most AUDITS_PER_SWEEP at a time (bounded work per sweep).
   */
  async schedule(): Promise<number> {
    const now = this.#clock.now();
    const due = await this.#db
      .selectFrom('replicas')
      .innerJoin('peers', 'peers.id', 'replicas.host_id')
      .select(['replicas.file_id', 'replicas.host_id'])
      .where('replicas.state', '=', 'stored')
      .where('replicas.retired_at', 'is', null)
      .where('replicas.audit_due_at', '<=', now)
      .where('peers.online', '=', 1)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('audits').select('audits.id').whereRef('audits.host_id', '=', 'replicas.host_id').where('audits.state', '=', 'pending'))))
      .orderBy('replicas.audit_due_at')
      .limit(this.#config.audits.perSweep)
      .execute();
    const challenged = new Set<string>();
    let issued = 0;
    for (const replica of due) {
      // One audit at a time per host: a host with many replicas is not swamped.
      if (challenged.has(replica.host_id)) continue;
      challenged.add(replica.host_id);
      if (await this.challenge({ fileId: replica.file_id, hostId: replica.host_id, purpose: 'routine' })) issued++;
    }
    return issued;
  }

  /** When the next routine audit of a replica falls due: exponentially distributed, so hosts can't predict it. */
  nextDue(now: number, fraction = 1): number {
    const mean = this.#config.audits.intervalMs * fraction;
    return now + Math.round(-Math.log(1 - randomInt(1_000_000) / 1_000_000) * mean);
  }

  /**
   * Records the verdict once, and what it means for a stored copy: proven (and counted again
   * if it was suspect); suspect after an unanswered audit, lost after a wrong answer or
   * UNANSWERED_STRIKES unanswered ones in a row. Copies still being stored (their first audit)
   * are left to the transfer that waits for the verdict.
   */
  async #decide(audit: AuditRow, verdict: 'passed' | 'wrong' | 'unanswered'): Promise<void> {
    const now = this.#clock.now();
    const decided = await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('audits')
        .set({ state: verdict === 'passed' ? 'passed' : 'failed', outcome: verdict === 'passed' ? null : verdict, answered_at: verdict === 'unanswered' ? null : now })
        .where('id', '=', audit.id)
        .where('state', '=', 'pending')
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) return undefined;
      const replica = await trx.selectFrom('replicas').selectAll().where('file_id', '=', audit.file_id).where('host_id', '=', audit.host_id).executeTakeFirst();
      const rows = trx.updateTable('replicas').where('file_id', '=', audit.file_id).where('host_id', '=', audit.host_id);
      if (verdict === 'passed') {
        await rows.set({ proven_at: now, suspect_since: null, audit_due_at: this.nextDue(now) }).execute();
        await trx.updateTable('peers').set((eb) => ({ audits_passed: eb('audits_passed', '+', 1) })).where('id', '=', audit.host_id).execute();
        return { lost: false, changed: replica?.suspect_since !== null };
      }
      await rows.set({ suspect_since: replica?.suspect_since ?? now, audit_due_at: this.nextDue(now, RETRY_FRACTION) }).execute();
      if (replica?.state !== 'stored') return { lost: false, changed: false };
      const unanswered = await trx
        .selectFrom('audits')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('file_id', '=', audit.file_id)
        .where('host_id', '=', audit.host_id)
        .where('outcome', '=', 'unanswered')
        .where('issued_at', '>', replica.proven_at ?? 0)
        .executeTakeFirstOrThrow();
      const lost = verdict === 'wrong' || Number(unanswered.n) >= UNANSWERED_STRIKES;
      if (lost) await spaceLedger.drop(trx, audit.file_id, audit.host_id);
      return { lost, changed: true };
    });
    if (!decided) return;
    this.#metrics.audits.inc({ purpose: audit.purpose, outcome: verdict });
    const log = verdict === 'passed' ? this.#log.debug.bind(this.#log) : this.#log.warn.bind(this.#log);
    log({ event: 'audit', auditId: audit.id, fileId: audit.file_id, hostId: audit.host_id, purpose: audit.purpose, verdict, lost: decided.lost }, 'audit decided');
    if (decided.lost) {
      void this.#sessions.emit(audit.host_id, 'replica:drop', { fileIds: [audit.file_id] });
      await this.#events.emit('host:space', { hostId: audit.host_id });
    }
    await this.#events.emit('audit:decided', { audit, verdict });
    if (decided.changed) await this.#events.emit('file:changed', { fileId: audit.file_id });
  }
}
