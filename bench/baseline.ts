/**
 * The ceiling: a raw RTCDataChannel between two browser contexts, no crypto, no storage,
 * with the same policy as Peercloud's links (FRAME_BYTES messages, the watermarks of
 * sendWatermarks()). Returns MB/s (10^6 bytes per second) from first send to last byte received.
 */
import type { Browser } from '@playwright/test';
import { FRAME_BYTES, sendWatermarks } from '../shared/wire.ts';

export async function measureBaseline(browser: Browser, url: string, bytes: number, options: { onStart?: () => void; beforeClose?: () => void } = {}): Promise<number> {
  // bypassCSP: the policy function is handed to the page as source, which the tracker's CSP forbids.
  const [a, b] = await Promise.all([browser.newContext({ bypassCSP: true }), browser.newContext({ bypassCSP: true })]);
  try {
    const [sender, receiver] = await Promise.all([a.newPage(), b.newPage()]);
    await Promise.all([sender.goto(`${url}/healthz`), receiver.goto(`${url}/healthz`)]);

    // Non-trickle: wait for all candidates, then hand the whole description across.
    const offer = await sender.evaluate(async () => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      const channel = pc.createDataChannel('bench', { ordered: true });
      channel.binaryType = 'arraybuffer';
      Object.assign(window, { pc, channel });
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      });
      return pc.localDescription!.toJSON();
    });
    const answer = await receiver.evaluate(async (offer) => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      const done = new Promise<number>((resolve) => {
        pc.addEventListener('datachannel', ({ channel }) => {
          channel.binaryType = 'arraybuffer';
          let received = 0;
          let expected = Infinity;
          channel.addEventListener('message', ({ data }) => {
            if (typeof data === 'string') expected = Number(data);
            else received += (data as ArrayBuffer).byteLength;
            if (received >= expected) resolve(performance.now());
          });
        });
      });
      Object.assign(window, { pc, done });
      await pc.setRemoteDescription(offer);
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      });
      return pc.localDescription!.toJSON();
    }, offer);

    options.onStart?.();
    const elapsed = await sender.evaluate(
      async ({ answer, bytes, frame, policy }) => {
        const { pc, channel } = window as unknown as { pc: RTCPeerConnection; channel: RTCDataChannel };
        await pc.setRemoteDescription(answer);
        if (channel.readyState !== 'open') await new Promise((resolve) => channel.addEventListener('open', resolve, { once: true }));
        // The policy comes over as source: page.evaluate can't pass functions.
        const watermarks = new Function('bytesSent', policy) as (sent: number) => { high: number; low: number };
        const message = new Uint8Array(frame);
        crypto.getRandomValues(message.subarray(0, 65536));
        const start = performance.now();
        channel.send(String(bytes));
        for (let sent = 0; sent < bytes; sent += frame) {
          const { high, low } = watermarks(sent);
          channel.bufferedAmountLowThreshold = low;
          if (channel.bufferedAmount > high) await new Promise((resolve) => channel.addEventListener('bufferedamountlow', resolve, { once: true }));
          channel.send(message.subarray(0, Math.min(frame, bytes - sent)));
        }
        return { start, origin: performance.timeOrigin };
      },
      { answer, bytes, frame: FRAME_BYTES, policy: `return (${sendWatermarks.toString()})(bytesSent)` },
    );
    const end = await receiver.evaluate(async () => ({ at: await (window as unknown as { done: Promise<number> }).done, origin: performance.timeOrigin }));
    const seconds = (end.origin + end.at - (elapsed.origin + elapsed.start)) / 1000;
    options.beforeClose?.();
    return bytes / 1e6 / seconds;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}
