/**
 * HTTPS for the tracker, with certificates renewed in place. Browsers only let a secure
 * context use the APIs a peer needs, so any device other than the tracker's own machine needs
 * https. Certificates are renewed every few weeks or months (ACME, `npm run cert`); a renewal
 * is picked up on SIGHUP or when the files change, for new connections only: peers already
 * connected keep their TLS session and are never dropped.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { basename, dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { RequestListener } from 'node:http';
import type { Logger } from '../logger.ts';

export interface TlsFiles {
  certPath: string;
  keyPath: string;
}

/** How long file events are gathered before reloading: renewals write several files, often by rename. */
const SETTLE_MS = 200;

function readPair(files: TlsFiles): { cert: Buffer; key: Buffer } {
  const pair = { cert: readFileSync(files.certPath), key: readFileSync(files.keyPath) };
  // Throws on unreadable PEM or a key that doesn't match the certificate: better refused now
  // than served as a handshake failure to every new peer.
  createSecureContext(pair);
  return pair;
}

export class TlsServer {
  readonly server: Server;
  readonly #files: TlsFiles;
  readonly #log: Logger;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(files: TlsFiles, listener: RequestListener, log: Logger) {
    this.#files = files;
    this.#log = log;
    this.server = createServer({ ...readPair(files) }, listener);
  }

  /** Loads the files again; on any problem the certificate in use stays. True when reloaded. */
  reload(): boolean {
    try {
      this.server.setSecureContext(readPair(this.#files));
      this.#log.info({ event: 'tls_reload', cert: this.#files.certPath }, 'TLS certificate reloaded');
      return true;
    } catch (error) {
      this.#log.error({ err: error, event: 'tls_reload_failed', cert: this.#files.certPath }, 'could not reload the TLS certificate; keeping the one in use');
      return false;
    }
  }

  /**
   * Reloads when either file changes. Directories are watched, not the files: renewals usually
   * replace a file (rename or symlink swap), which a watch on the old file would never see.
   */
  watch(): void {
    const byDirectory = new Map<string, Set<string>>();
    for (const path of [this.#files.certPath, this.#files.keyPath]) {
      const names = byDirectory.get(dirname(path)) ?? new Set<string>();
      names.add(basename(path));
      byDirectory.set(dirname(path), names);
    }
    for (const [directory, names] of byDirectory) {
      const watcher = watch(directory, (_event, name) => {
        if (name !== null && !names.has(name.toString())) return;
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.reload(), SETTLE_MS);
      });
      watcher.on('error', (error) => this.#log.warn({ err: error, event: 'tls_watch_error', directory }, 'stopped watching the TLS files; SIGHUP still reloads'));
      this.#watchers.push(watcher);
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
  }
}
