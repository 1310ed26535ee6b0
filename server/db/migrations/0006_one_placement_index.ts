import { type Kysely } from 'kysely';

/**
 * `peers_online_level` (online, level) is a prefix of `peers_placement` (online, level, free
 * space, id): every query it served, the placement index serves too. Kept, it misled
 * PostgreSQL's planner while the table's statistics were older than its rows (a cloud that
 * just filled, as in the trackers bench's first minutes): estimating one host per level, it read
 * the level's most free space through it, every host of the level and a sort, three times per
 * placement (about 3 ms each at 10,000 hosts, auto_explain), where the placement index gives
 * it as its first entry. One index fewer is also one fewer to keep up on each peer's update.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('peers_online_level').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('peers_online_level').on('peers').columns(['online', 'level']).execute();
}
