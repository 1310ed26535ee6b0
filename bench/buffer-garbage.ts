/**
 * Which of an upload's per-MiB buffers stay resident once dead, each alone in a page (not part
 * of `npm run bench`): the owner's memory during an upload was mostly buffers waiting to be
 * collected (docs/BENCHMARKS.md, "Fragments"), and which ones is a property of the browser, not
 * of our code. One persistent Chromium, a page on 127.0.0.1 (a secure context, for WebCrypto)
 * with a file of BUFFERS_MIB (150) random MiB picked in it; per variant, after a forced
 * collection, that many MiB go through one way of getting them, with a little JS allocation
 * per MiB (BUFFERS_FILLER_KB, 0) standing for the page's own, and the peak growth of the
 * renderer's resident memory and of V8's heap + ArrayBuffers is printed.
 *
 *   flock /tmp/peercloud-e2e.lock timeout 10m node --import tsx bench/buffer-garbage.ts
 *
 * Variants (BUFFERS_VARIANTS, comma-separated): `byob` (the File's stream read into one reused
 * buffer, as transfer/file-reader.ts does), `slice` (`slice().arrayBuffer()` per MiB, copied
 * into a reused buffer), `slice-detach` (the same, then `transfer(0)` on the dead buffer),
 * `seal` (WebCrypto AES-GCM of one reused MiB, the output dropped), `seal-copy` (the output
 * copied into a reused buffer first, as upload-run.ts does), `seal-detach` (`transfer(0)` on
 * the output), `seal-port` (the output transferred through a MessagePort whose other end is
 * closed, as transfer/free-buffer.ts does), `seal-worker` (transferred to a terminated worker),
 * `seal-audio` (adopted by a WebCodecs AudioData, closed at once). The `seal-` variants but
 * `seal` and `seal-copy` fail if an output was not detached.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { MiB } from '../shared/units.ts';
import { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium } from '../tests/support/chromium.ts';
import { wholeNumberEnv } from './report.ts';

const mebibytes = wholeNumberEnv('BUFFERS_MIB', 150);
const fillerKb = wholeNumberEnv('BUFFERS_FILLER_KB', 0, 0);
const variants = (process.env.BUFFERS_VARIANTS ?? 'byob,slice,slice-detach,seal,seal-copy,seal-detach,seal-port').split(',');

// The page's loop, as a string: tsx would wrap named functions in a __name() the page lacks.
const page = `<!doctype html><input type=file id=file><script>
window.pass = async (variant, count, fillerKb) => {
  const file = document.getElementById('file').files[0];
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt']);
  const MIB = ${MiB};
  const plaintext = new Uint8Array(MIB);
  const kept = new Uint8Array(MIB + 16);
  let reader;
  let spare = new ArrayBuffer(MIB);
  let filler = [];
  let sink;
  let detachFailed = 0;
  for (let index = 0; index < count; index++) {
    filler = [];
    for (let at = 0; at < fillerKb * 16; at++) filler.push({ at, text: 'x' + at });
    if (variant === 'byob') {
      reader ??= file.stream().getReader({ mode: 'byob' });
      let view = new Uint8Array(spare);
      let filled = 0;
      while (filled < MIB) {
        const { value } = await reader.read(view.subarray(filled));
        filled += value.byteLength;
        view = new Uint8Array(value.buffer);
      }
      spare = view.buffer;
    } else if (variant.startsWith('slice')) {
      const bytes = await file.slice(index * MIB, (index + 1) * MIB).arrayBuffer();
      kept.set(new Uint8Array(bytes));
      if (variant === 'slice-detach') bytes.transfer(0);
    } else {
      const iv = new Uint8Array(12);
      new DataView(iv.buffer).setUint32(8, index);
      const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plaintext);
      if (variant !== 'seal') kept.set(new Uint8Array(sealed));
      if (variant === 'seal-detach') sealed.transfer(0);
      if (variant === 'seal-port') {
        if (!sink) {
          const channel = new MessageChannel();
          channel.port2.close();
          sink = channel.port1;
        }
        sink.postMessage(null, [sealed]);
      }
      if (variant === 'seal-worker') {
        if (!sink) {
          sink = new Worker(URL.createObjectURL(new Blob([''], { type: 'text/javascript' })));
          sink.terminate();
        }
        sink.postMessage(null, [sealed]);
      }
      if (variant === 'seal-audio') {
        new AudioData({ format: 'u8', sampleRate: 48000, numberOfFrames: sealed.byteLength, numberOfChannels: 1, timestamp: 0, data: sealed, transfer: [sealed] }).close();
      }
      if (variant !== 'seal' && variant !== 'seal-copy' && sealed.byteLength !== 0) detachFailed++;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (detachFailed) throw new Error(variant + ': ' + detachFailed + ' buffers not detached');
  return filler.length;
};
</script>`;

const executablePath = findChromium();
if (!executablePath) throw new Error(CHROMIUM_HELP);
const dir = mkdtempSync(join(tmpdir(), 'peercloud-buffers-'));
const path = join(dir, 'file.bin');
writeFileSync(path, randomBytes(mebibytes * MiB));
const server = createServer((_, response) => {
  response.setHeader('content-type', 'text/html');
  response.end(page);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const profile = join(dir, 'profile');
const context = await chromium.launchPersistentContext(profile, { executablePath, args: CHROMIUM_ARGS, headless: true });
try {
  const tab = context.pages()[0] ?? (await context.newPage());
  await tab.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
  await tab.locator('#file').setInputFiles(path);
  const cdp = await context.newCDPSession(tab);
  const renderers = () =>
    readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          return command.includes(`--user-data-dir=${profile}`) && command.includes('--type=renderer');
        } catch {
          return false;
        }
      });
  const resident = () =>
    renderers().reduce((total, pid) => {
      try {
        return total + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
      } catch {
        return total;
      }
    }, 0);
  const withBuffers = async () => {
    const usage = await cdp.send('Runtime.getHeapUsage');
    return usage.usedSize + (usage.backingStorageSize ?? 0);
  };
  console.log(`${mebibytes} MiB per variant, ${fillerKb} KB of JS objects per MiB; peak growth:`);
  for (const variant of variants) {
    await cdp.send('HeapProfiler.collectGarbage');
    const [residentBase, buffersBase] = [resident(), await withBuffers()];
    let [residentPeak, buffersPeak] = [0, 0];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        residentPeak = Math.max(residentPeak, resident() - residentBase);
        buffersPeak = Math.max(buffersPeak, (await withBuffers()) - buffersBase);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const started = performance.now();
    await tab.evaluate(([name, count, kb]) => (window as unknown as { pass: (v: string, c: number, k: number) => Promise<number> }).pass(name, count, kb), [variant, mebibytes, fillerKb] as const);
    const msPerMiB = (performance.now() - started) / mebibytes;
    sampling = false;
    await sampler;
    console.log(`  ${variant.padEnd(12)} renderer +${(residentPeak / MiB).toFixed(1)} MiB, heap + ArrayBuffers +${(buffersPeak / MiB).toFixed(1)} MiB, ${msPerMiB.toFixed(1)} ms/MiB`);
  }
} finally {
  await context.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
