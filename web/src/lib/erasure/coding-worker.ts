/**
 * The coding worker: decoding stripes and rebuilding fragments off the main thread, where the
 * page keeps drawing and the channels keep moving (an upload's parity, a few milliseconds per
 * stripe, is written on the page: upload-run.ts). Buffers travel back as transfers, not copies.
 */
import { freeBuffer } from '../transfer/free-buffer.ts';
import { decodeStripe, rebuildFragment } from './stripes.ts';
import type { CodingReply, CodingRequest } from './coding-protocol.ts';

const scope = self as unknown as { onmessage: ((event: MessageEvent<CodingRequest>) => void) | null; postMessage(message: CodingReply, transfer: Transferable[]): void };

scope.onmessage = ({ data: request }: MessageEvent<CodingRequest>) => {
  try {
    const fragment =
      request.op === 'decode'
        ? decodeStripe(request.fragments, request.k, request.n, request.length)
        : rebuildFragment(request.fragments, request.k, request.n, request.wanted);
    // The fragments that came in are this worker's own copies, dead once coded: freed now, not
    // left to pile up in a worker that allocates too little for V8 to collect them soon
    // (transfer/free-buffer.ts). Never the buffer going back (a copy's is the copy itself).
    for (const input of request.fragments) if (input && input.buffer !== fragment.buffer) freeBuffer(input);
    scope.postMessage({ id: request.id, ok: true, fragments: [fragment] }, [fragment.buffer as ArrayBuffer]);
  } catch (error) {
    scope.postMessage({ id: request.id, ok: false, message: error instanceof Error ? error.message : String(error) }, []);
  }
};
