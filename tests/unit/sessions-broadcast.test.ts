import { describe, expect, it } from 'vitest';
import { BROADCAST_PER_TURN, Sessions, type TrackerSocket } from '../../server/sessions.ts';

/** A socket that records what it was told. */
function fakeSocket(peerId: string) {
  const told: unknown[] = [];
  const socket = { data: { peerId }, connected: true, emit: (_event: string, payload: unknown) => told.push(payload) };
  return { socket: socket as unknown as TrackerSocket, told, raw: socket };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('Sessions.broadcast', () => {
  it('tells every socket, a bounded number per turn of the event loop', async () => {
    const sessions = new Sessions();
    const peers = Array.from({ length: BROADCAST_PER_TURN * 2 + 5 }, (_, n) => fakeSocket(`p${n}`));
    for (const { socket } of peers) sessions.attach(socket);
    sessions.broadcast('cloud:stats', { peersOnline: 7 });
    expect(peers.filter(({ told }) => told.length === 1)).toHaveLength(BROADCAST_PER_TURN);
    await nextTurn();
    expect(peers.filter(({ told }) => told.length === 1)).toHaveLength(BROADCAST_PER_TURN * 2);
    await nextTurn();
    expect(peers.every(({ told }) => told.length === 1 && (told[0] as { peersOnline: number }).peersOnline === 7)).toBe(true);
  });

  it('lets a newer broadcast of the same event take over, and skips closed sockets', async () => {
    const sessions = new Sessions();
    const peers = Array.from({ length: BROADCAST_PER_TURN + 3 }, (_, n) => fakeSocket(`p${n}`));
    for (const { socket } of peers) sessions.attach(socket);
    sessions.broadcast('cloud:stats', { peersOnline: 1 });
    peers.at(-1)!.raw.connected = false;
    sessions.broadcast('cloud:stats', { peersOnline: 2 });
    await nextTurn();
    await nextTurn();
    // Those told the first count hear the newer one too; the rest only the newer one.
    expect(peers[0]!.told).toEqual([{ peersOnline: 1 }, { peersOnline: 2 }]);
    expect(peers.at(-2)!.told).toEqual([{ peersOnline: 2 }]);
    expect(peers.at(-1)!.told).toEqual([]);
  });
});
