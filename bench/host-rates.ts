/**
 * What each of a download's links carried, from the owner's connections sampled every 200 ms
 * (tests/support/ice-paths.ts): the bytes each received over the transfer's clock and its
 * steady rate while they flowed. With fragments the owner reads k hosts at once; whether they
 * add up is the sum of these rates against one host's, and a link far below the others is the
 * straggler the whole download waits for. No I/O: tested on its own.
 */
import { transferPhases, type ByteSample } from './transfer-phases.ts';

/** One connection's samples, as ice-paths records them (the fields used here). */
export interface SampledPath {
  remoteAddress?: string | undefined;
  samples: readonly { at: number; sent: number; received: number }[];
}

export interface HostRate {
  /** The remote candidate's address (a host's router, or the relay). */
  remoteAddress: string;
  /** Bytes the owner received over this connection between the start and the end of the clock (on the wire: packet overhead included). */
  bytes: number;
  /** MB/s (10^6) on the wire while the middle 80 % of those bytes moved; NaN with too few samples to tell. */
  streamMBps: number;
  /** Epoch ms of the first and last samples that saw bytes move. */
  firstAt: number;
  lastAt: number;
}

/** Below this a connection carried no fragment: a control link, or one that failed at once. */
const LEAST_BYTES = 64 * 1024;

/**
 * Every connection that carried at least 64 KiB to the owner between `startedAt` and `endedAt`
 * (epoch ms; samples up to a second later count, as transferPhases counts them), with what it
 * carried. A connection made before the clock started (reused) counts from its last sample before it.
 */
export function hostRates(paths: readonly SampledPath[], run: { startedAt: number; endedAt: number }): HostRate[] {
  const rates: HostRate[] = [];
  for (const path of paths) {
    const before = path.samples.filter((sample) => sample.at < run.startedAt).at(-1);
    const inRun = path.samples.filter((sample) => sample.at >= run.startedAt && sample.at <= run.endedAt + 1000);
    const samples: ByteSample[] = [...(before ? [{ at: run.startedAt, bytes: before.received }] : []), ...inRun.map((sample) => ({ at: sample.at, bytes: sample.received }))];
    if (samples.length < 2) continue;
    const base = samples[0]!.bytes;
    const bytes = samples.at(-1)!.bytes - base;
    if (bytes < LEAST_BYTES) continue;
    const moving = samples.filter((sample, index) => index > 0 && sample.bytes > samples[index - 1]!.bytes);
    const phases = transferPhases(samples, { size: bytes, startedAt: run.startedAt, endedAt: run.endedAt });
    rates.push({
      remoteAddress: path.remoteAddress ?? '?',
      bytes,
      streamMBps: phases?.streamMBps ?? Number.NaN,
      firstAt: moving[0]!.at,
      lastAt: moving.at(-1)!.at,
    });
  }
  return rates;
}
