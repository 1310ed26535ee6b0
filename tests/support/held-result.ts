/**
 * A Kysely plugin that holds back one result on its way from the database to the tracker, as a
 * slow pooled connection would: the statement has run (its snapshot is taken), the tracker just
 * hears of it late. For races between reads that the order of their answers decides.
 */
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';

export interface Hold {
  /** Resolves once a matching result has arrived and is being held. */
  caught: Promise<void>;
  /** Resolves if another matching result goes by while this one is held. */
  overtaken: Promise<void>;
  /** Lets the held result go on to the tracker. */
  release(): void;
}

export class HeldResult implements KyselyPlugin {
  #armed: { match: (rows: UnknownRow[]) => boolean; caught: () => void; overtaken: () => void; released: Promise<void> } | undefined;
  /** The hold under way: a matching result that goes by meanwhile overtakes it. */
  #holding: { match: (rows: UnknownRow[]) => boolean; overtaken: () => void } | undefined;

  /** Holds the next result whose rows match, until `release()`; later ones pass. */
  holdNext(match: (rows: UnknownRow[]) => boolean): Hold {
    let caught!: () => void;
    let overtaken!: () => void;
    let release!: () => void;
    const hold: Hold = {
      caught: new Promise<void>((resolve) => (caught = resolve)),
      overtaken: new Promise<void>((resolve) => (overtaken = resolve)),
      release: () => release(),
    };
    this.#armed = { match, caught, overtaken, released: new Promise<void>((resolve) => (release = resolve)) };
    return hold;
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const armed = this.#armed;
    if (armed?.match(args.result.rows)) {
      this.#armed = undefined;
      this.#holding = armed;
      armed.caught();
      await armed.released;
      this.#holding = undefined;
    } else if (this.#holding?.match(args.result.rows)) {
      this.#holding.overtaken();
    }
    return args.result;
  }
}
