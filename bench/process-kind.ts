/** Which part of Chromium a process is, from its command line (pure: a unit test feeds it real command lines). */

/**
 * What a Chromium process does, from its command line: the browser process (the UI thread, the
 * blob registry that serves a page's file reads), a renderer (the page), the network service
 * (the tracker's WebSocket, and WebRTC's UDP sockets, which renderers reach through it), the
 * storage service (IndexedDB), the GPU process, the zygotes that fork the others, the crash reporter.
 */
export type ProcessKind = 'browser' | 'renderer' | 'network' | 'storage' | 'gpu' | 'other';
export const PROCESS_KINDS: readonly ProcessKind[] = ['browser', 'renderer', 'network', 'storage', 'gpu', 'other'];

export function processKind(command: string): ProcessKind {
  // Crash reporting runs a program of its own, with no --type, as the browser process has none.
  // Its name is the first word: Chromium's children rewrite their command line as one string
  // of words separated by spaces (and say --crashpad-handler-pid=… in it), the browser keeps NULs.
  if (/crashpad_handler$/.test(command.split(/[\0 ]/, 1)[0]!)) return 'other';
  const type = /--type=([a-z-]+)/.exec(command)?.[1];
  if (type === undefined) return 'browser';
  if (type === 'renderer') return 'renderer';
  if (type === 'gpu-process') return 'gpu';
  if (type === 'utility') {
    const sub = /--utility-sub-type=([\w.]+)/.exec(command)?.[1];
    if (sub === 'network.mojom.NetworkService') return 'network';
    if (sub === 'storage.mojom.StorageService') return 'storage';
  }
  return 'other';
}
