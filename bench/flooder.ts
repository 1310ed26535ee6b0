/**
 * A hostile client for the flood benchmark, in its own process so that its CPU is not the
 * measuring client's: it logs in like any peer, then sends requests as fast as its socket
 * takes them, without waiting for answers, until killed.
 */
import { NodePeer } from '../tests/support/node-peer.ts';

const url = process.argv[2]!;
const peer = await NodePeer.join(url, 0);
const socket = peer.client.socket as unknown as { emit(event: string, ...args: unknown[]): void; timeout(ms: number): { emit(event: string, ...args: unknown[]): void } };
let sent = 0;
const burst = () => {
  for (let i = 0; i < 500; i++) {
    // Half well-formed, half garbage; acks requested so that the tracker must answer each.
    if (i % 2) socket.timeout(60_000).emit('file:list', {}, () => undefined);
    else socket.timeout(60_000).emit('file:place', { name: 7, size: -1 }, () => undefined);
  }
  sent += 500;
  setImmediate(burst);
};
burst();
process.on('SIGTERM', () => {
  console.log(`sent ${sent}`);
  process.exit(0);
});
