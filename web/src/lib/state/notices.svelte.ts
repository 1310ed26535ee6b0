/**
 * Messages for the person at the page, in plain words. Errors never replace the page or
 * lose the user's place: they stack here until dismissed. Notices about one thing share a
 * key: a newer one replaces the older, and the thing can clear them once they are no longer
 * true (a resume that failed, then worked).
 *
 * No stack-trace-like text reaches the person (see `describeError`): the error itself goes to
 * the console.
 */
import { describeError } from '../error-words.ts';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
  key?: string;
}

/** How long news stays up. */
const INFO_MS = 12_000;

export class Notices {
  items = $state<Notice[]>([]);
  #next = 1;

  error(context: string, error: unknown, key?: string): void {
    if (typeof error !== 'string') console.warn(context, error);
    this.#push('error', `${context}: ${describeError(error)}`, key);
  }

  info(text: string, key?: string): void {
    this.#push('info', text, key);
  }

  /** Expected races (a transfer the tracker already ended, say): for developers, not people. */
  debug(context: string, detail: unknown): void {
    console.debug(context, detail);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((notice) => notice.id !== id);
  }

  /** Removes the notices about one thing, once what they said is no longer true. */
  clear(key: string): void {
    this.items = this.items.filter((notice) => notice.key !== key);
  }

  #push(kind: Notice['kind'], text: string, key?: string): void {
    const kept = key === undefined ? this.items : this.items.filter((notice) => notice.key !== key);
    const id = this.#next++;
    this.items = [...kept.slice(-4), { id, kind, text, key }];
    // News goes by itself (what it says stays on the page where it belongs: the level's change in
    // its panel, a kit's import in its own); an error stays until dismissed.
    if (kind === 'info') setTimeout(() => this.dismiss(id), INFO_MS);
  }
}
