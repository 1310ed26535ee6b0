/**
 * The first run: until the person closes it, the page says what Peercloud is, how much of
 * this browser it lends (the default, stated), and how to bring another device or person.
 */
import { settingsStore } from '../storage/browser-db.ts';
import type { Session } from './session.svelte.ts';

export class Welcome {
  /** undefined until known: nothing flashes on a returning person's page. */
  show = $state<boolean | undefined>();
  readonly #session: Session;

  constructor(session: Session) {
    this.#session = session;
  }

  /** The address another device opens to join this cloud (the tracker knows it best). */
  get link(): string {
    return this.#session.config?.publicUrl ?? `${location.origin}/`;
  }

  async load(): Promise<void> {
    this.show = !(await settingsStore.load()).welcomed;
  }

  /**
   * Hidden once it is remembered: a tab closed right after still finds it closed next time. A
   * browser that refuses the write (storage full or blocked) still gets the panel out of its way;
   * it only sees the welcome again on its next visit.
   */
  async close(): Promise<void> {
    try {
      await settingsStore.save({ welcomed: true });
    } finally {
      this.show = false;
    }
  }
}
