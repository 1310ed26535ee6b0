/**
 * This peer's standing in the cloud as a person follows it: its level, explained, and a
 * notice each time it changes saying why (closing the tab drops it; that should never be a
 * silent surprise).
 */
import { explainLevelChange } from '../level-words.ts';
import type { PeerStatus } from '../../../../shared/protocol.ts';
import type { Notices } from './notices.svelte.ts';
import type { Session } from './session.svelte.ts';

export class Standing {
  /** The last change of level, in words, until the next one. */
  lastChange = $state<string | undefined>();
  #previous: PeerStatus | undefined;

  constructor(session: Session, notices: Notices) {
    $effect.root(() => {
      $effect(() => {
        const status = session.status;
        // Until this page has reported its offer, the status is the tracker's memory of the last
        // visit: the first report moving it is not news.
        if (!status || !session.config) return;
        const previous = this.#previous;
        this.#previous = status;
        // Another identity (a recovery kit was imported): nothing to compare with.
        if (!previous || previous.id !== status.id) return;
        const change = explainLevelChange(previous, status);
        if (!change) return;
        this.lastChange = change;
        notices.info(change, 'level');
      });
    });
  }
}
