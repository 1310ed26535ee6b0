/** Messages between the page and its coding worker (coding-worker.ts). */
export type CodingRequest =
  | { id: number; op: 'decode'; fragments: (Uint8Array | null)[]; k: number; n: number; length: number }
  | { id: number; op: 'rebuild'; fragments: (Uint8Array | null)[]; k: number; n: number; wanted: number };

export type CodingReply = { id: number; ok: true; fragments: Uint8Array[] } | { id: number; ok: false; message: string };
