/**
 * Where a transfer's time went, from the bytes its connection moved over time (samples of the
 * selected candidate pair, tests/support/ice-paths.ts): the time before the bytes flowed
 * (placement, signaling, ICE, DTLS and SCTP handshakes, the receiver's `want`), the steady rate
 * while they flowed, and the time after (the last acks, `end`/`done`, the tracker recording it).
 * A transfer that keeps too little in flight on a long round trip shows a low steady rate; one
 * with too many round trips around the data shows long fixed phases. No I/O: tested on its own.
 */

export interface ByteSample {
  /** Epoch ms. */
  at: number;
  /** Bytes moved so far in the direction of the transfer (the pair's, so packet overhead included). */
  bytes: number;
}

export interface TransferPhases {
  /** From the start of the clock until the steady stream, extrapolated back, began. */
  beforeMs: number;
  /** The file's bytes per second (10^6) while the middle 80 % of them moved. */
  streamMBps: number;
  /** From the end of the steady stream, extrapolated forward, until the clock stopped. */
  afterMs: number;
  /**
   * Of `afterMs`, the time from the last of the bytes (the first sample that had them all) until
   * the clock stopped: the work after the data (writes, acks, `done`, the tracker), not the network's.
   */
  afterLastByteMs: number;
}

/** When the bytes first reached `level`, by linear interpolation between samples. */
function timeAt(samples: readonly ByteSample[], level: number): number | undefined {
  for (let index = 0; index < samples.length; index++) {
    const sample = samples[index]!;
    if (sample.bytes < level) continue;
    const previous = samples[index - 1];
    if (!previous || sample.bytes === previous.bytes) return sample.at;
    return previous.at + ((level - previous.bytes) / (sample.bytes - previous.bytes)) * (sample.at - previous.at);
  }
  return undefined;
}

/**
 * The phases of a transfer of `size` bytes timed from `startedAt` to `endedAt` (epoch ms), or
 * undefined if the samples do not cover its middle (too few, or another connection's).
 * Total time = beforeMs + size / streamMBps + afterMs, exactly.
 */
export function transferPhases(samples: readonly ByteSample[], run: { size: number; startedAt: number; endedAt: number }): TransferPhases | undefined {
  const inRun = samples.filter((sample) => sample.at >= run.startedAt && sample.at <= run.endedAt + 1000);
  if (inRun.length < 3) return undefined;
  const base = inRun[0]!.bytes;
  const moved = inRun.map((sample) => ({ at: sample.at, bytes: sample.bytes - base }));
  const total = moved.at(-1)!.bytes;
  // Less than the file crossed the pair: these samples are not this transfer's.
  if (total < run.size) return undefined;
  const start = timeAt(moved, 0.1 * total);
  const end = timeAt(moved, 0.9 * total);
  if (start === undefined || end === undefined || end <= start) return undefined;
  const streamMBps = (0.8 * run.size) / 1e6 / ((end - start) / 1000);
  const tenthMs = (0.1 * run.size) / 1e6 / streamMBps * 1000;
  const last = moved.find((sample) => sample.bytes >= total)!.at;
  return { beforeMs: start - tenthMs - run.startedAt, streamMBps, afterMs: run.endedAt - (end + tenthMs), afterLastByteMs: Math.max(0, run.endedAt - last) };
}
