/**
 * A bare RTCDataChannel between two pages (in the network lab: two browsers on two homes),
 * with Playwright as the signaling channel: the lab's proof that a network path works, the
 * path ICE chose (getStats), and the raw throughput over it that Peercloud is compared with.
 *
 * Non-trickle: each side gathers all its candidates before its description crosses, so what
 * is offered does not depend on timing. Playwright orders nothing between two browsers: the
 * answerer's listeners are in place (an awaited evaluate) before the offerer can send.
 */
import type { Page } from '@playwright/test';
import { FRAME_BYTES, sendWatermarks } from '../../shared/wire.ts';

export interface IceStates {
  ice: RTCIceConnectionState;
  connection: RTCPeerConnectionState;
}

export interface ChannelAttempt {
  open: boolean;
  /** From the offerer having applied the answer to its channel opening (or to the deadline). */
  ms: number;
  offerer: IceStates;
  answerer: IceStates;
}

export interface CandidateInfo {
  type: 'host' | 'srflx' | 'prflx' | 'relay';
  address: string;
  port: number;
  protocol: string;
}

interface LabWindow {
  __lab?: { pc: RTCPeerConnection; channel?: RTCDataChannel; opened: Promise<RTCDataChannel> };
}

/** Creates each side's peer connection, exchanges descriptions, and waits up to `timeoutMs` for the channel to open on both sides. */
export async function openChannel(offerer: Page, answerer: Page, config: { offerer: RTCConfiguration; answerer: RTCConfiguration }, timeoutMs: number): Promise<ChannelAttempt> {
  const offer = await offerer.evaluate(async (configuration) => {
    const pc = new RTCPeerConnection(configuration);
    const channel = pc.createDataChannel('lab', { ordered: true });
    channel.binaryType = 'arraybuffer';
    const opened = new Promise<RTCDataChannel>((resolve) => channel.addEventListener('open', () => resolve(channel), { once: true }));
    (window as LabWindow).__lab = { pc, channel, opened };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
    return pc.localDescription!.toJSON() as RTCSessionDescriptionInit;
  }, config.offerer);

  const answer = await answerer.evaluate(
    async ({ configuration, offer }) => {
      const pc = new RTCPeerConnection(configuration);
      const opened = new Promise<RTCDataChannel>((resolve) =>
        pc.addEventListener('datachannel', ({ channel }) => {
          channel.binaryType = 'arraybuffer';
          lab.channel = channel;
          if (channel.readyState === 'open') resolve(channel);
          else channel.addEventListener('open', () => resolve(channel), { once: true });
        }),
      );
      const lab: NonNullable<LabWindow['__lab']> = { pc, opened };
      (window as LabWindow).__lab = lab;
      await pc.setRemoteDescription(offer);
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      });
      return pc.localDescription!.toJSON() as RTCSessionDescriptionInit;
    },
    { configuration: config.answerer, offer },
  );

  await offerer.evaluate((answer) => (window as LabWindow).__lab!.pc.setRemoteDescription(answer), answer);
  const waitOpen = (timeout: number) => {
    const lab = (window as LabWindow).__lab!;
    const start = performance.now();
    const deadline = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeout));
    return Promise.race([lab.opened.then(() => true), deadline]).then((open) => ({
      open,
      ms: performance.now() - start,
      states: { ice: lab.pc.iceConnectionState, connection: lab.pc.connectionState },
    }));
  };
  const [offererSide, answererSide] = await Promise.all([offerer.evaluate(waitOpen, timeoutMs), answerer.evaluate(waitOpen, timeoutMs)]);
  return { open: offererSide.open && answererSide.open, ms: offererSide.ms, offerer: offererSide.states, answerer: answererSide.states };
}

/** The candidate pair ICE selected on this page's connection, from getStats. */
export async function selectedPair(page: Page): Promise<{ local: CandidateInfo; remote: CandidateInfo }> {
  return page.evaluate(async () => {
    const stats = await (window as LabWindow).__lab!.pc.getStats();
    const byId = new Map<string, Record<string, unknown>>();
    stats.forEach((entry: Record<string, unknown>) => byId.set(entry.id as string, entry));
    const transport = [...byId.values()].find((entry) => entry.type === 'transport' && entry.selectedCandidatePairId);
    if (!transport) throw new Error('no selected candidate pair');
    const pair = byId.get(transport.selectedCandidatePairId as string)!;
    // No named helper functions in here: the bench runs through tsx, whose keepNames wraps them in a __name() the page lacks.
    const [local, remote] = [pair.localCandidateId, pair.remoteCandidateId].map((id) => {
      const entry = byId.get(id as string)!;
      return { type: entry.candidateType, address: entry.address, port: entry.port, protocol: entry.protocol } as CandidateInfo;
    });
    return { local: local!, remote: remote! };
  });
}

/** Sends one text message over the open channel and resolves with what the other side received. */
export async function echo(sender: Page, receiver: Page, text: string): Promise<string> {
  const received = receiver.evaluate(
    () => new Promise<string>((resolve) => (window as LabWindow).__lab!.channel!.addEventListener('message', ({ data }) => resolve(String(data)), { once: true })),
  );
  // A page runs evaluations in the order they were sent: once this one answers, the listener above is in place.
  await receiver.evaluate(() => true);
  await sender.evaluate((message) => (window as LabWindow).__lab!.channel!.send(message), text);
  return received;
}

/**
 * MB/s (10^6 bytes/s) of `bytes` sent from `sender` to `receiver` over the open channel, with
 * Peercloud's message size and backpressure policy (FRAME_BYTES, sendWatermarks), measured from
 * the first send to the last byte received, like bench/baseline.ts.
 */
export async function channelThroughput(sender: Page, receiver: Page, bytes: number): Promise<number> {
  await receiver.evaluate((expected) => {
    const lab = (window as LabWindow).__lab!;
    let received = 0;
    (window as unknown as { __done: Promise<number> }).__done = new Promise<number>((resolve) => {
      lab.channel!.onmessage = ({ data }: MessageEvent) => {
        received += (data as ArrayBuffer).byteLength;
        if (received >= expected) {
          lab.channel!.onmessage = null;
          resolve(performance.now() + performance.timeOrigin);
        }
      };
    });
  }, bytes);
  const start = await sender.evaluate(
    async ({ bytes, frame, policy }) => {
      const channel = (window as LabWindow).__lab!.channel!;
      // The policy comes over as source: page.evaluate can't pass functions.
      const watermarks = new Function('bytesSent', policy) as (sent: number) => { high: number; low: number };
      const message = new Uint8Array(frame);
      crypto.getRandomValues(message.subarray(0, 65536));
      const begin = performance.now() + performance.timeOrigin;
      for (let sent = 0; sent < bytes; sent += frame) {
        const { high, low } = watermarks(sent);
        channel.bufferedAmountLowThreshold = low;
        if (channel.bufferedAmount > high) await new Promise((resolve) => channel.addEventListener('bufferedamountlow', resolve, { once: true }));
        channel.send(message.subarray(0, Math.min(frame, bytes - sent)));
      }
      return begin;
    },
    { bytes, frame: FRAME_BYTES, policy: `return (${sendWatermarks.toString()})(bytesSent)` },
  );
  const end = await receiver.evaluate(() => (window as unknown as { __done: Promise<number> }).__done);
  return bytes / 1e6 / ((end - start) / 1000);
}

/** Closes this page's peer connection, if any. */
export async function closeChannel(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as LabWindow).__lab?.pc.close();
    delete (window as LabWindow).__lab;
  });
}
