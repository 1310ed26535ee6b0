/**
 * Queries built and compiled by Kysely once per database, then run again with new values. Kysely
 * builds a query as a tree of immutable nodes and walks it to write the SQL, every time: in a
 * CPU profile of two trackers at 10,000 peers each (docs/BENCHMARKS.md, "Many trackers: where the
 * time goes") building and compiling the owner's file listing, 100 a second per tracker, took
 * more of a tracker's CPU than PostgreSQL took to run it. A query whose shape never changes
 * (no list of values whose length varies, no condition added or not) is the same SQL text each
 * time; only its parameters differ.
 *
 * The query is built with a stand-in object for each value that changes (`slots.ownerId`), which
 * Kysely passes through untouched into the compiled query's parameters, as it passes any value
 * (values are never written into the SQL). Each later run is that SQL with the stand-ins
 * replaced. A stand-in Kysely did not hand back as a parameter (written into the SQL, or not
 * used) stops the first run with an error rather than run a query that ignores a value.
 *
 * Per database, not per process: SQLite and PostgreSQL write parameters differently (`?`, `$1`),
 * and a process may hold both (the tests do). A database's transactions share its compilation
 * (they speak through the same adapter), so a query inside a transaction is compiled once too.
 */
import type { CompiledQuery, Compilable, Kysely } from 'kysely';

/** A value to be given at each run: a stand-in while the query is built. */
class Slot {
  constructor(readonly name: string) {}
}

/** The stand-ins, typed as the values they stand for, so that the builder takes them. */
export type Slots<Values> = { readonly [Name in keyof Values]: Values[Name] };

interface Compiled<Row> {
  compiled: CompiledQuery<Row>;
  /** Where each parameter comes from: a value's name, or fixed (built into the query). */
  sources: ({ slot: string } | { fixed: unknown })[];
}

export type CompiledOnce<DB, Values, Row> = (db: Kysely<DB>, values: Values) => CompiledQuery<Row>;

export function compiledOnce<DB, Values extends Record<string, unknown>, Row>(build: (db: Kysely<DB>, slots: Slots<Values>) => Compilable<Row>): CompiledOnce<DB, Values, Row> {
  const byDatabase = new WeakMap<object, Compiled<Row>>();
  return (db, values) => {
    const adapter = db.getExecutor().adapter;
    let entry = byDatabase.get(adapter);
    if (!entry) {
      entry = compile(db, build);
      byDatabase.set(adapter, entry);
    }
    const { compiled, sources } = entry;
    return { ...compiled, parameters: sources.map((source) => ('slot' in source ? values[source.slot] : source.fixed)) };
  };
}

function compile<DB, Values extends Record<string, unknown>, Row>(db: Kysely<DB>, build: (db: Kysely<DB>, slots: Slots<Values>) => Compilable<Row>): Compiled<Row> {
  const asked = new Set<string>();
  const slots = new Proxy({} as Slots<Values>, {
    get(_, name) {
      if (typeof name !== 'string') return undefined;
      asked.add(name);
      return new Slot(name);
    },
  });
  const compiled = build(db, slots).compile();
  const sources = compiled.parameters.map((parameter) => (parameter instanceof Slot ? { slot: parameter.name } : { fixed: parameter }));
  const passed = new Set(sources.flatMap((source) => ('slot' in source ? [source.slot] : [])));
  const lost = [...asked].filter((name) => !passed.has(name));
  if (lost.length > 0) throw new Error(`compiledOnce: ${lost.join(', ')} did not reach the query's parameters (a value Kysely writes into the SQL cannot be given at each run): ${compiled.sql}`);
  return { compiled, sources };
}
