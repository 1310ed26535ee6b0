import { describe, expect, it } from 'vitest';
import { PROCESS_KINDS, processKind } from '../../bench/process-kind.ts';

// Command lines as /proc/<pid>/cmdline gives them, cut from Debian's Chromium 156: the browser
// process's arguments separated by NUL, its children's rewritten as one string of words.
const cmdline = (...args: string[]) => `${args.join('\0')}\0`;
const retitled = (...args: string[]) => `${args.join(' ')}\0`;

describe("which part of Chromium a process is (the fragments bench's memory by process)", () => {
  it('tells the browser process, a renderer, the GPU process and the network and storage services apart', () => {
    expect(processKind(cmdline('/usr/lib/chromium/chromium', '--show-component-extension-options', '--user-data-dir=/tmp/p'))).toBe('browser');
    expect(processKind(cmdline('/usr/lib/chromium/chromium', '--type=renderer', '--user-data-dir=/tmp/p'))).toBe('renderer');
    expect(processKind(retitled('/usr/lib/chromium/chromium', '--type=renderer', '--crashpad-handler-pid=0', '--enable-crash-reporter=,built on Debian'))).toBe('renderer');
    expect(processKind(retitled('/usr/lib/chromium/chromium', '--type=utility', '--utility-sub-type=storage.mojom.StorageService', '--crashpad-handler-pid=0'))).toBe('storage');
    expect(processKind(cmdline('/usr/lib/chromium/chromium', '--type=gpu-process', '--user-data-dir=/tmp/p'))).toBe('gpu');
    expect(processKind(cmdline('/usr/lib/chromium/chromium', '--type=utility', '--utility-sub-type=network.mojom.NetworkService', '--lang=en-US'))).toBe('network');
    expect(processKind(cmdline('/usr/lib/chromium/chromium', '--type=utility', '--utility-sub-type=storage.mojom.StorageService', '--lang=en-US'))).toBe('storage');
  });

  it('puts zygotes, the crash reporter and other utilities under other, so every process is counted somewhere', () => {
    expect(processKind(retitled('/usr/lib/chromium/chromium', '--type=zygote', '--no-zygote-sandbox', '--crashpad-handler-pid=0'))).toBe('other');
    expect(processKind(cmdline('/usr/lib/chromium/chromium', '--type=utility', '--utility-sub-type=audio.mojom.AudioService'))).toBe('other');
    expect(processKind(cmdline('/usr/lib/chromium/chrome_crashpad_handler', '--monitor-self', '--database=/tmp/p/Crashpad'))).toBe('other');
    expect(PROCESS_KINDS).toContain('other');
  });
});
