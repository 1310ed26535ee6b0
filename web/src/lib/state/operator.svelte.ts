/**
 * The operator's view of the tracker, for the dashboard: the overview from the operator API,
 * refreshed every two seconds. The admin token stays in this tab's session storage only.
 */
import type { Overview } from '../../../../shared/operator-api.ts';

const TOKEN_KEY = 'peercloud-admin-token';
const REFRESH_MS = 2_000;

export class Operator {
  overview = $state<Overview | undefined>();
  /** 'locked' until a token works; 'failed' when the tracker can't be reached. */
  status = $state<'locked' | 'loading' | 'live' | 'failed'>('locked');
  error = $state<string | undefined>();
  #token: string | null = sessionStorage.getItem(TOKEN_KEY);
  #timer: ReturnType<typeof setTimeout> | undefined;

  start(): void {
    if (this.#token) void this.#refresh();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  async unlock(token: string): Promise<void> {
    this.#token = token;
    this.status = 'loading';
    if (await this.#refresh()) sessionStorage.setItem(TOKEN_KEY, token);
  }

  lock(): void {
    this.stop();
    sessionStorage.removeItem(TOKEN_KEY);
    this.#token = null;
    this.overview = undefined;
    this.status = 'locked';
  }

  /** Fetches the overview once and schedules the next; true when the token worked. */
  async #refresh(): Promise<boolean> {
    clearTimeout(this.#timer);
    try {
      const response = await fetch('/api/overview', { headers: { Authorization: `Bearer ${this.#token}` }, cache: 'no-store' });
      if (response.status === 401 || response.status === 404) {
        this.status = 'locked';
        this.error = response.status === 404 ? 'The operator API is disabled on this tracker (ADMIN_TOKEN is not set).' : 'That token is not the admin token.';
        return false;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.overview = (await response.json()) as Overview;
      this.status = 'live';
      this.error = undefined;
    } catch (error) {
      this.status = 'failed';
      this.error = `The tracker can't be reached: ${error instanceof Error ? error.message : String(error)}. Retrying.`;
    }
    this.#timer = setTimeout(() => void this.#refresh(), REFRESH_MS);
    return this.status === 'live';
  }
}
