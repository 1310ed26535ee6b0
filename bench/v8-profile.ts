/**
 * A V8 CPU profile as the benches read it (`--cpu-prof` files and DevTools' Profiler.stop): the
 * fields they use, with samples and time deltas always present (V8 writes both).
 */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}
