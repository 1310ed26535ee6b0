/**
 * The coding worker: encoding and decoding stripes off the main thread, where the page keeps
 * drawing and the channels keep moving. Buffers travel both ways as transfers, not copies.
 */
import { decodeStripe, encodeStripe, rebuildFragment } from './stripes.ts';
import type { CodingReply, CodingRequest } from './coding-protocol.ts';

const scope = self as unknown as { onmessage: ((event: MessageEvent<CodingRequest>) => void) | null; postMessage(message: CodingReply, transfer: Transferable[]): void };

scope.onmessage = ({ data: request }: MessageEvent<CodingRequest>) => {
  try {
    const fragments =
      request.op === 'encode'
        ? encodeStripe(request.stripe, request.k, request.n)
        : request.op === 'decode'
          ? [decodeStripe(request.fragments, request.k, request.n, request.length)]
          : [rebuildFragment(request.fragments, request.k, request.n, request.wanted)];
    // k = 1 hands back the same buffer n times: copies, so that each can be transferred.
    const owned = fragments.map((fragment, index) => (fragments.indexOf(fragment) === index ? fragment : fragment.slice()));
    scope.postMessage({ id: request.id, ok: true, fragments: owned }, [...new Set(owned.map((fragment) => fragment.buffer as ArrayBuffer))]);
  } catch (error) {
    scope.postMessage({ id: request.id, ok: false, message: error instanceof Error ? error.message : String(error) }, []);
  }
};
