import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.ts';

/**
 * On PostgreSQL, a new file's placement written in one statement (space-ledger.ts,
 * reserveNewFile): its hosts' rows locked in id order with the room re-checked, their transfers
 * under way counted, then the hosts' counters, the file, its replicas and its store transfers
 * written; or nothing at all, and false, when one of the hosts lost its room or is as busy as a
 * host may be (the tracker then places the file the long way, host by host).
 *
 * Why a function: a placement in a transaction was eleven statements, each a round trip that
 * waits for a core on the tracker and on the database; on a busy machine its p99 grew with
 * them. A function's statements run one after the other inside the database, each with a
 * snapshot of its own (so the count of transfers sees those committed while this waited for a
 * host's lock), and the call is one statement: atomic without a begin and a commit.
 *
 * The rows arrive whole (jsonb, every column, as the tracker's types require them), so the
 * function names no column of files, replicas or transfers.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`
    create function peercloud_place_new_file(p_rows jsonb, p_active_states text[], p_max_transfers integer) returns boolean
    language plpgsql as $fn$
    declare
      v_bytes bigint := (p_rows->>'bytes')::bigint;
      v_hosts text[] := array(select replica->>'host_id' from jsonb_array_elements(p_rows->'replicas') as replica);
      v_locked integer;
    begin
      -- In id order, as every placement locks hosts: two placements never wait for each other in a cycle.
      select count(*) into v_locked from (
        select peers.id from peers
        where peers.id = any(v_hosts) and peers.credited - peers.bytes_used - peers.bytes_reserved >= v_bytes
        order by peers.id for no key update
      ) as locked;
      if v_locked < cardinality(v_hosts) then return false; end if;
      if exists (
        select 1 from (
          select transfers.sender_id as id from transfers where transfers.sender_id = any(v_hosts) and transfers.state = any(p_active_states)
          union all
          select transfers.receiver_id from transfers where transfers.receiver_id = any(v_hosts) and transfers.state = any(p_active_states)
        ) as busy group by busy.id having count(*) >= p_max_transfers
      ) then return false; end if;
      update peers set bytes_reserved = peers.bytes_reserved + v_bytes where peers.id = any(v_hosts);
      insert into files select * from jsonb_populate_record(null::files, p_rows->'file');
      insert into replicas select * from jsonb_populate_recordset(null::replicas, p_rows->'replicas');
      insert into transfers select * from jsonb_populate_recordset(null::transfers, p_rows->'transfers');
      return true;
    end
    $fn$
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`drop function peercloud_place_new_file(jsonb, text[], integer)`.execute(db);
}
